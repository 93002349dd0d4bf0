<?php
/*
 * StoreFleet's installer for one local store: run by the local driver as
 *   php storefleet-install.php <docroot>
 * with a JSON request on standard input (secrets never travel in argv).
 * Every action converges: re-running it after a crash finishes the job.
 * The last output line is "STOREFLEET_RESULT <json>".
 */
error_reporting(E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING);

function storefleet_result(array $result, int $code = 0): void {
    fwrite(STDOUT, "\nSTOREFLEET_RESULT " . json_encode($result) . "\n");
    exit($code);
}

$docroot = $argv[1] ?? '';
if ($docroot === '' || !is_file($docroot . '/wp-load.php')) {
    storefleet_result(['ok' => false, 'error' => 'no WordPress found in the store directory'], 2);
}
$request = json_decode(stream_get_contents(STDIN), true);
if (!is_array($request) || !isset($request['action'], $request['url'])) {
    storefleet_result(['ok' => false, 'error' => 'bad request on stdin'], 2);
}
$url = rtrim($request['url'], '/');
$parts = parse_url($url);
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['SERVER_NAME'] = $parts['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
$_SERVER['REQUEST_METHOD'] = 'GET';

if ($request['action'] === 'install') {
    define('WP_INSTALLING', true);
}
chdir($docroot);
require $docroot . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

switch ($request['action']) {
    case 'install':
        $title = $request['title'];
        $email = $request['admin_email'];
        $user = $request['admin_user'];
        $password = $request['admin_password'];
        if (!is_blog_installed()) {
            $result = wp_install($title, $user, $email, true, '', wp_slash($password));
            if (is_wp_error($result)) {
                storefleet_result(['ok' => false, 'error' => $result->get_error_message()], 1);
            }
            $created = true;
        } else {
            $created = false;
        }
        // Converge the admin user and the site's name and address.
        $existing = get_user_by('login', $user);
        if (!$existing) {
            $id = wp_insert_user(['user_login' => $user, 'user_email' => $email,
                                  'user_pass' => $password, 'role' => 'administrator']);
            if (is_wp_error($id)) {
                storefleet_result(['ok' => false, 'error' => $id->get_error_message()], 1);
            }
        } else {
            wp_set_password($password, $existing->ID);
            wp_update_user(['ID' => $existing->ID, 'user_email' => $email]);
        }
        update_option('blogname', $title);
        update_option('blogdescription', '');
        update_option('siteurl', $url);
        update_option('home', $url);
        update_option('admin_email', $email);
        storefleet_result(['ok' => true, 'created' => $created,
                           'wordpress' => $GLOBALS['wp_version']]);

    case 'woocommerce':
        $plugin = 'woocommerce/woocommerce.php';
        if (!is_plugin_active($plugin)) {
            $activated = activate_plugin($plugin);
            if (is_wp_error($activated)) {
                storefleet_result(['ok' => false, 'error' => $activated->get_error_message()], 1);
            }
        }
        if (class_exists('WC_Install')) {
            WC_Install::install();
            WC_Install::create_pages();
        }
        $cod = get_option('woocommerce_cod_settings', []);
        if (!is_array($cod)) {
            $cod = [];
        }
        $cod = array_merge(['title' => 'Cash on delivery',
                            'description' => 'Pay with cash upon delivery.'], $cod,
                           ['enabled' => 'yes']);
        update_option('woocommerce_cod_settings', $cod);
        $version = defined('WC_VERSION') ? WC_VERSION : null;
        storefleet_result(['ok' => true, 'woocommerce' => $version,
                           'active' => is_plugin_active($plugin)]);

    default:
        storefleet_result(['ok' => false, 'error' => 'unknown action'], 2);
}
