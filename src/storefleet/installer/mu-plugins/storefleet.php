<?php
/**
 * Plugin Name: StoreFleet
 * Description: Where this store's email goes: an SMTP server when the platform
 * configures one (STOREFLEET_SMTP_* constants or environment variables, e.g.
 * from the Kubernetes chart's values), otherwise the store's own mailbox
 * directory (STOREFLEET_MAILBOX, set by the local driver), which the StoreFleet
 * dashboard shows. A staging copy (the storefleet_staging option) never sends
 * mail whatever is configured, offers only offline payment methods and asks
 * search engines not to index it. Installed and kept up to date by the
 * StoreFleet installer.
 */

if (!defined('ABSPATH')) {
    exit;
}

function storefleet_setting(string $name): string {
    if (defined($name)) {
        return (string)constant($name);
    }
    $value = getenv($name);
    return $value === false ? '' : $value;
}

function storefleet_is_staging(): bool {
    return get_option('storefleet_staging') === '1';
}

add_filter('woocommerce_available_payment_gateways', function ($gateways) {
    if (!storefleet_is_staging() || !is_array($gateways)) {
        return $gateways;
    }
    return array_intersect_key($gateways, array_flip(['cod', 'bacs', 'cheque']));
});

add_action('send_headers', function () {
    if (storefleet_is_staging()) {
        header('X-Robots-Tag: noindex, nofollow');
    }
});

add_action('phpmailer_init', function ($mailer) {
    $host = storefleet_setting('STOREFLEET_SMTP_HOST');
    if ($host === '' || storefleet_is_staging()) {
        return;
    }
    $mailer->isSMTP();
    $mailer->Host = $host;
    $mailer->Port = (int)(storefleet_setting('STOREFLEET_SMTP_PORT') ?: 587);
    $user = storefleet_setting('STOREFLEET_SMTP_USER');
    if ($user !== '') {
        $mailer->SMTPAuth = true;
        $mailer->Username = $user;
        $mailer->Password = storefleet_setting('STOREFLEET_SMTP_PASSWORD');
    }
    $secure = storefleet_setting('STOREFLEET_SMTP_SECURE'); // "tls", "ssl" or "" (none)
    $mailer->SMTPSecure = in_array($secure, ['tls', 'ssl'], true) ? $secure : '';
    $mailer->SMTPAutoTLS = $secure !== '';
    $from = storefleet_setting('STOREFLEET_SMTP_FROM');
    if ($from !== '') {
        $mailer->setFrom($from, get_bloginfo('name'), false);
    }
});

add_filter('pre_wp_mail', function ($short_circuit, $atts) {
    $staging = storefleet_is_staging();
    if ($short_circuit !== null || (storefleet_setting('STOREFLEET_SMTP_HOST') !== '' && !$staging)) {
        return $short_circuit;
    }
    $dir = storefleet_setting('STOREFLEET_MAILBOX');
    if ($dir === '' || !is_dir($dir)) {
        // A staging copy without a mailbox drops its mail: it is never sent.
        return $staging ? true : $short_circuit;
    }
    $to = is_array($atts['to']) ? $atts['to'] : array_map('trim', explode(',', (string)$atts['to']));
    $headers = is_array($atts['headers']) ? $atts['headers'] : array_filter(explode("\n", (string)$atts['headers']));
    $message = [
        'at' => gmdate('c'),
        'to' => array_values($to),
        'subject' => (string)$atts['subject'],
        'headers' => array_values(array_map('trim', $headers)),
        'body' => (string)$atts['message'],
        'attachments' => array_map('basename', (array)($atts['attachments'] ?? [])),
    ];
    $name = sprintf('%.6f-%s.json', microtime(true), bin2hex(random_bytes(4)));
    $tmp = $dir . '/.' . $name;
    $old = umask(077);
    $written = file_put_contents($tmp, json_encode($message));
    umask($old);
    if ($written === false || !rename($tmp, $dir . '/' . $name)) {
        return false;
    }
    do_action('wp_mail_succeeded', $atts);
    return true;
}, 10, 2);
