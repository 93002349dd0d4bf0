<?php
/*
 * The store image's wp-config.php: one level above the read-only core in
 * /var/www/html, where WordPress looks for it. Every setting comes from the
 * container's environment: the store chart's ConfigMap "store-config" and
 * Secret "store-credentials" (database password, keys and salts, SMTP
 * password). Nothing store-specific is written into the image or the volume.
 */
function storefleet_env(string $name, string $default = ''): string {
    $value = getenv($name);
    return ($value === false || $value === '') ? $default : $value;
}

define('DB_NAME', storefleet_env('WORDPRESS_DB_NAME'));
define('DB_USER', storefleet_env('WORDPRESS_DB_USER'));
define('DB_PASSWORD', storefleet_env('WORDPRESS_DB_PASSWORD'));
define('DB_HOST', storefleet_env('WORDPRESS_DB_HOST', 'localhost'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
          'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $storefleet_key) {
    define($storefleet_key, storefleet_env('WORDPRESS_' . $storefleet_key));
}
$table_prefix = storefleet_env('WORDPRESS_TABLE_PREFIX', 'wp_');

// The platform owns the site's address (the store chart's siteUrl).
$storefleet_url = rtrim(storefleet_env('STOREFLEET_SITE_URL'), '/');
if ($storefleet_url !== '') {
    define('WP_HOME', $storefleet_url);
    define('WP_SITEURL', $storefleet_url);
}
// TLS ends at the ingress controller, which says so in X-Forwarded-Proto.
// Only the ingress controller and the platform may reach this pod (the
// chart's NetworkPolicy), so the header is believed.
if (strtolower($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '') === 'https') {
    $_SERVER['HTTPS'] = 'on';
}

// Core and WooCommerce come with the image and are upgraded by the platform:
// no self-updates, no code editor. The root filesystem is read-only but /tmp.
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('DISALLOW_FILE_EDIT', true);
define('FS_METHOD', 'direct');
define('WP_TEMP_DIR', '/tmp');
if (storefleet_env('STOREFLEET_DISABLE_WP_CRON') === 'true') {
    define('DISABLE_WP_CRON', true);
}

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/html/');
}
require_once ABSPATH . 'wp-settings.php';
