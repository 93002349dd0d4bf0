<?php
/*
 * StoreFleet's store installer: one program for both drivers (the local driver
 * runs it on this machine, the store image's install Job runs it in a pod).
 * No wp-cli: it loads WordPress itself.
 *
 *   php storefleet-install.php <docroot>     (a JSON request on standard input)
 *
 * Secrets (the admin password) travel on stdin, never in argv. The last line
 * of output is "STOREFLEET_RESULT <json>"; {"ok": false, "error": "..."} says
 * what went wrong in words a person can act on.
 *
 * Actions:
 *   install    WordPress, the admin account, WooCommerce with Cash on Delivery,
 *              its pages, store defaults, sample products, and the shop opened
 *              (coming-soon off). Request: url, title, admin_user, admin_email,
 *              admin_password (optional on re-runs: the password is then left as
 *              it is), woocommerce (bool), sample_products (bool), store
 *              {country, currency, address, city, postcode}.
 *   configure  install's WooCommerce half, run by install in a fresh PHP
 *              process (WooCommerce loaded from the start); not for callers.
 *   upgrade    Database upgrades after new WordPress/WooCommerce files: core's
 *              wp_upgrade(), then WooCommerce's pending update callbacks (run
 *              as upgrade-woocommerce in a fresh process, like configure).
 *   status     Versions and what is set up (no changes).
 *   adopt      After a restore or a clone: the site's address becomes url (a
 *              search-replace through every table that understands PHP's
 *              serialised values and JSON-escaped URLs), and, when given, the
 *              title and the admin account (admin_user, admin_email,
 *              admin_password: its sessions and application passwords are
 *              revoked); the platform's must-use plugin is put in place, as on
 *              install. Request: url, title?, admin_user?, admin_email?,
 *              admin_password?.
 *   checkout-product  The hidden, virtual product the platform's checkout test
 *              orders (made when missing); its id.
 *   confirm-order     Reads order order_id through the WooCommerce REST API as
 *              the store's admin (in this process: no password needed), then
 *              deletes the order and the checkout product for good.
 *
 * Every action converges: re-running it after a crash finishes the job, and
 * re-running it on a store in use changes nothing the merchant has changed.
 * First-time setup is recorded in the option "storefleet_setup".
 */
error_reporting(E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING & ~E_USER_DEPRECATED);
ini_set('display_errors', 'stderr');

const STOREFLEET_SETUP_OPTION = 'storefleet_setup';
const STOREFLEET_WC_PLUGIN = 'woocommerce/woocommerce.php';

function storefleet_result(array $result, int $code = 0): void {
    fwrite(STDOUT, "\nSTOREFLEET_RESULT " . json_encode($result) . "\n");
    exit($code);
}

function storefleet_fail(string $error, int $code = 1): void {
    storefleet_result(['ok' => false, 'error' => $error], $code);
}

/* Runs this installer again in a fresh PHP process (plugins loaded the
 * normal way) and returns its result. */
function storefleet_reexec(string $docroot, array $request): array {
    $proc = proc_open([PHP_BINARY, __FILE__, $docroot], [0 => ['pipe', 'r'], 1 => ['pipe', 'w']], $pipes);
    if (!is_resource($proc)) {
        storefleet_fail('could not start PHP again for the ' . $request['action'] . ' phase');
    }
    fwrite($pipes[0], json_encode($request));
    fclose($pipes[0]);
    $out = stream_get_contents($pipes[1]);
    fclose($pipes[1]);
    $code = proc_close($proc);
    foreach (array_reverse(explode("\n", $out)) as $line) {
        if (strpos($line, 'STOREFLEET_RESULT ') === 0) {
            $result = json_decode(substr($line, strlen('STOREFLEET_RESULT ')), true);
            if (is_array($result)) {
                return $result;
            }
        }
    }
    $tail = trim(substr(strip_tags($out), -400));
    return ['ok' => false, 'error' => "the {$request['action']} phase exited with $code: $tail"];
}

/* The platform's must-use plugin (mail delivery) travels with the installer. */
function storefleet_install_mu_plugin(string $docroot): void {
    $source = __DIR__ . '/mu-plugins/storefleet.php';
    $dir = $docroot . '/wp-content/mu-plugins';
    $target = $dir . '/storefleet.php';
    if (!is_file($source)) {
        return;
    }
    if (!is_dir($dir) && !mkdir($dir, 0755, true)) {
        storefleet_fail("could not create $dir");
    }
    $content = file_get_contents($source);
    if (!is_file($target) || file_get_contents($target) !== $content) {
        $tmp = $target . '.tmp-' . getmypid();
        if (file_put_contents($tmp, $content) === false || !rename($tmp, $target)) {
            storefleet_fail("could not write $target");
        }
    }
}

$sf_docroot = rtrim($argv[1] ?? '', '/');
if ($sf_docroot === '' || !is_file($sf_docroot . '/wp-load.php')) {
    storefleet_fail('no WordPress found in the store directory', 2);
}
$sf_request = json_decode(stream_get_contents(STDIN), true);
if (!is_array($sf_request) || !isset($sf_request['action'])) {
    storefleet_fail('bad request on stdin', 2);
}
$sf_action = $sf_request['action'];
if (!in_array($sf_action, ['install', 'configure', 'upgrade', 'upgrade-woocommerce', 'status',
                           'adopt', 'stage', 'checkout-product', 'confirm-order'], true)) {
    storefleet_fail("unknown action $sf_action", 2);
}
$sf_url = rtrim((string)($sf_request['url'] ?? ''), '/');
$sf_parts = parse_url($sf_url);
if (!$sf_parts || empty($sf_parts['host'])) {
    storefleet_fail('the request has no valid site url', 2);
}
$_SERVER['HTTP_HOST'] = $sf_parts['host'] . (isset($sf_parts['port']) ? ':' . $sf_parts['port'] : '');
$_SERVER['SERVER_NAME'] = $sf_parts['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
$_SERVER['REQUEST_METHOD'] = 'GET';
if (($sf_parts['scheme'] ?? 'http') === 'https') {
    $_SERVER['HTTPS'] = 'on';
}

/* A fresh install, and content put in from a backup (adopt: its
 * mu-plugins may be missing or another platform's), get the platform's own. */
if ($sf_action === 'install' || $sf_action === 'adopt') {
    storefleet_install_mu_plugin($sf_docroot);
}
if ($sf_action === 'install') {
    define('WP_INSTALLING', true);
}
chdir($sf_docroot);
require $sf_docroot . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

/* One installer run per store at a time: a run whose caller died (a worker
 * killed mid-step, a Job pod replaced) may still be working when the step is
 * tried again, and two runs would both add the sample products. The database
 * server releases the lock when the holder's connection ends, so a crashed
 * run never blocks the next one. A phase run again in a fresh process by
 * this installer inherits its parent's lock. */
if (empty($sf_request['_locked'])) {
    $sf_lock = DB_NAME . '.storefleet-installer';
    $sf_got = $GLOBALS['wpdb']->get_var($GLOBALS['wpdb']->prepare('SELECT GET_LOCK(%s, %d)', $sf_lock, 600));
    if ((string)$sf_got !== '1') {
        storefleet_fail('another installer run for this store did not finish within 600 s');
    }
}

/* WordPress compares the password of its sign-in form with slashes added
 * (wp_magic_quotes() slashes $_POST, and wp_signon() uses it as it is), so
 * the hash must be of the slashed password, or passwords with ", ' or \
 * never work. */
function storefleet_set_admin(string $user, string $email, ?string $password): int {
    $existing = get_user_by('login', $user);
    if (!$existing) {
        if ($password === null) {
            storefleet_fail("the admin user '$user' does not exist and no password was given");
        }
        $id = wp_insert_user(['user_login' => $user, 'user_email' => $email,
                              'user_pass' => wp_slash($password), 'role' => 'administrator']);
        if (is_wp_error($id)) {
            storefleet_fail('could not create the admin user: ' . $id->get_error_message());
        }
        return (int)$id;
    }
    if ($password !== null && !wp_check_password(wp_slash($password), $existing->user_pass, $existing->ID)) {
        wp_set_password(wp_slash($password), $existing->ID);
    }
    if ($existing->user_email !== $email) {
        wp_update_user(['ID' => $existing->ID, 'user_email' => $email]);
    }
    return (int)$existing->ID;
}

function storefleet_sample_products(): array {
    $file = WP_PLUGIN_DIR . '/woocommerce/sample-data/sample_products.csv';
    $rows = [];
    if (!is_readable($file) || !($fh = fopen($file, 'r'))) {
        return $rows;
    }
    $header = fgetcsv($fh, 0, ',', '"', '\\');
    $header[0] = preg_replace('/^\xEF\xBB\xBF/', '', $header[0]);
    while (($line = fgetcsv($fh, 0, ',', '"', '\\')) !== false) {
        if (count($line) !== count($header)) {
            continue;
        }
        $row = array_combine($header, $line);
        // Simple products only: the sample's variations need attribute terms
        // and images that live on WooCommerce's servers.
        if ($row['Type'] === 'simple' && $row['Regular price'] !== '') {
            $rows[] = $row;
        }
    }
    fclose($fh);
    return $rows;
}

function storefleet_category_ids(string $path): array {
    $ids = [];
    foreach (array_map('trim', explode(',', $path)) as $chain) {
        $parent = 0;
        foreach (array_map('trim', explode('>', $chain)) as $name) {
            if ($name === '') {
                continue;
            }
            $term = term_exists($name, 'product_cat', $parent);
            if (!$term) {
                $term = wp_insert_term($name, 'product_cat', ['parent' => $parent]);
            }
            if (is_wp_error($term)) {
                break;
            }
            $parent = (int)$term['term_id'];
        }
        if ($parent) {
            $ids[] = $parent;
        }
    }
    return $ids;
}

function storefleet_create_samples(): int {
    $made = 0;
    foreach (storefleet_sample_products() as $row) {
        $sku = 'sample-' . sanitize_title($row['SKU'] !== '' ? $row['SKU'] : $row['Name']);
        if (wc_get_product_id_by_sku($sku)) {
            $made++;
            continue;
        }
        $product = new WC_Product_Simple();
        $product->set_name($row['Name']);
        $product->set_sku($sku);
        $product->set_status('publish');
        $product->set_catalog_visibility('visible');
        $product->set_description($row['Description']);
        $product->set_short_description($row['Short description']);
        $product->set_regular_price($row['Regular price']);
        if ($row['Sale price'] !== '') {
            $product->set_sale_price($row['Sale price']);
        }
        $product->set_featured($row['Is featured?'] === '1');
        $product->set_stock_status('instock');
        $product->set_category_ids(storefleet_category_ids($row['Categories']));
        $product->update_meta_data('_storefleet_sample', '1');
        $product->save();
        $made++;
    }
    return $made;
}

function storefleet_configure_woocommerce(array $request): array {
    $store = is_array($request['store'] ?? null) ? $request['store'] : [];
    if (get_option('woocommerce_db_version') !== WC()->version) {
        WC_Install::install();
    }
    // What WooCommerce does on the first admin page view of a new install
    // (e.g. its storage choices) happens now, before the shop opens.
    WC_Install::newly_installed();
    WC_Install::create_pages();

    $options = [
        // Open for business: no coming-soon page, no setup wizard in the way.
        'woocommerce_coming_soon' => 'no',
        'woocommerce_store_pages_only' => 'no',
        'woocommerce_onboarding_profile' => ['skipped' => true],
        'woocommerce_task_list_hidden' => 'yes',
        'woocommerce_task_list_complete' => 'yes',
        'woocommerce_extended_task_list_hidden' => 'yes',
        'woocommerce_show_marketplace_suggestions' => 'no',
        'woocommerce_allow_tracking' => 'no',
        'woocommerce_enable_guest_checkout' => 'yes',
        'woocommerce_default_country' => (string)($store['country'] ?? 'US:CA'),
        'woocommerce_currency' => (string)($store['currency'] ?? 'USD'),
        'woocommerce_store_address' => (string)($store['address'] ?? ''),
        'woocommerce_store_city' => (string)($store['city'] ?? ''),
        'woocommerce_store_postcode' => (string)($store['postcode'] ?? ''),
    ];
    foreach ($options as $name => $value) {
        update_option($name, $value);
    }
    // The merchant's first wp-admin page is the dashboard, not a redirect
    // into the setup wizard.
    delete_transient('_wc_activation_redirect');
    $cod = get_option('woocommerce_cod_settings', []);
    $cod = array_merge(['title' => 'Cash on delivery',
                        'description' => 'Pay with cash upon delivery.',
                        'instructions' => 'Pay with cash upon delivery.'],
                       is_array($cod) ? $cod : [], ['enabled' => 'yes']);
    update_option('woocommerce_cod_settings', $cod);
    // The shop is the home page.
    $shop = wc_get_page_id('shop');
    if ($shop > 0) {
        update_option('show_on_front', 'page');
        update_option('page_on_front', $shop);
    }
    return $options;
}

function storefleet_status(): array {
    $setup = get_option(STOREFLEET_SETUP_OPTION, []);
    $status = [
        'ok' => true,
        'installed' => is_blog_installed(),
        'wordpress' => $GLOBALS['wp_version'],
        'wordpress_db' => (int)get_option('db_version'),
        'woocommerce' => defined('WC_VERSION') ? WC_VERSION : null,
        'woocommerce_db' => get_option('woocommerce_db_version') ?: null,
        'active' => is_plugin_active(STOREFLEET_WC_PLUGIN),
        'setup' => is_array($setup) ? $setup : [],
    ];
    if (function_exists('wc_get_products')) {
        $status['coming_soon'] = get_option('woocommerce_coming_soon', 'yes');
        $cod = get_option('woocommerce_cod_settings', []);
        $status['cod'] = is_array($cod) && ($cod['enabled'] ?? 'no') === 'yes';
        $status['products'] = count(wc_get_products(['status' => 'publish', 'limit' => -1, 'return' => 'ids']));
    }
    return $status;
}

/* Replaces $from with $to in a value from the database: inside PHP
 * serialised data (unserialised, changed, serialised again so that string
 * lengths stay right; objects other than stdClass are left as they are),
 * in JSON-escaped form ("http:\/\/...") and as plain text. */
function storefleet_replace_value($value, string $from, string $to, int &$count) {
    if (is_string($value)) {
        if (is_serialized($value, false)) {
            $data = @unserialize($value, ['allowed_classes' => ['stdClass']]);
            if ($data !== false || $value === serialize(false)) {
                $before = $count;
                $data = storefleet_replace_value($data, $from, $to, $count);
                return $count === $before ? $value : serialize($data);
            }
        }
        $n = 0;
        $value = str_replace([$from, str_replace('/', '\\/', $from)],
                             [$to, str_replace('/', '\\/', $to)], $value, $n);
        $count += $n;
        return $value;
    }
    if (is_array($value)) {
        foreach ($value as $key => $item) {
            $value[$key] = storefleet_replace_value($item, $from, $to, $count);
        }
        return $value;
    }
    if ($value instanceof stdClass) {
        foreach (get_object_vars($value) as $key => $item) {
            $value->$key = storefleet_replace_value($item, $from, $to, $count);
        }
    }
    return $value;
}

/* The search-replace of the adopt action: every text column of every table
 * of this site, row by row by primary key. Returns the values changed. */
function storefleet_search_replace(string $from, string $to): int {
    global $wpdb;
    $changed = 0;
    $like = '%' . $wpdb->esc_like($from) . '%';
    $tables = $wpdb->get_col($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->esc_like($wpdb->prefix) . '%'));
    foreach ($tables as $table) {
        $keys = [];
        $text = [];
        foreach ($wpdb->get_results("SHOW COLUMNS FROM `$table`", ARRAY_A) as $column) {
            if ($column['Key'] === 'PRI') {
                $keys[] = $column['Field'];
            }
            if (preg_match('/char|text|json/i', $column['Type'])) {
                $text[] = $column['Field'];
            }
        }
        if (!$keys || !$text) {
            continue;
        }
        $key_list = '`' . implode('`, `', $keys) . '`';
        foreach ($text as $column) {
            $rows = $wpdb->get_results($wpdb->prepare(
                "SELECT $key_list, `$column` AS sf_value FROM `$table` WHERE `$column` LIKE %s", $like
            ), ARRAY_A);
            foreach ($rows as $row) {
                $count = 0;
                $new = storefleet_replace_value($row['sf_value'], $from, $to, $count);
                if ($count === 0 || $new === $row['sf_value']) {
                    continue;
                }
                $where = [];
                foreach ($keys as $key) {
                    $where[$key] = $row[$key];
                }
                if ($wpdb->update($table, [$column => $new], $where) !== false) {
                    $changed++;
                }
            }
        }
    }
    return $changed;
}

function storefleet_checkout_product_id(): int {
    return (int)wc_get_product_id_by_sku('storefleet-checkout-test');
}

switch ($sf_action) {
    case 'install':
        $sf_user = (string)($sf_request['admin_user'] ?? 'admin');
        $sf_email = (string)($sf_request['admin_email'] ?? '');
        $sf_password = isset($sf_request['admin_password']) ? (string)$sf_request['admin_password'] : null;
        $sf_created = false;
        if (!is_blog_installed()) {
            if ($sf_password === null) {
                storefleet_fail('WordPress is not installed yet and the request has no admin password');
            }
            $sf_result = wp_install((string)$sf_request['title'], $sf_user, $sf_email, true, '', wp_slash($sf_password));
            if (is_wp_error($sf_result)) {
                storefleet_fail('WordPress could not install: ' . $sf_result->get_error_message());
            }
            update_option('blogdescription', '');
            update_option('permalink_structure', '/%postname%/');
            $sf_created = true;
        }
        storefleet_set_admin($sf_user, $sf_email, $sf_password);
        // The platform owns the site's address; the merchant owns the rest.
        update_option('siteurl', $sf_url);
        update_option('home', $sf_url);
        $sf_result = ['ok' => true, 'created' => $sf_created, 'wordpress' => $GLOBALS['wp_version']];
        if (!empty($sf_request['woocommerce'])) {
            if (!is_file(WP_PLUGIN_DIR . '/' . STOREFLEET_WC_PLUGIN)) {
                storefleet_fail('WooCommerce is not in wp-content/plugins/woocommerce');
            }
            if (!is_plugin_active(STOREFLEET_WC_PLUGIN)) {
                // Marked active here, installed by the next phase, which loads
                // it the normal way: loading WooCommerce in this half-made
                // process (activate_plugin) only to load it again costs a
                // second of CPU per store.
                $sf_valid = validate_plugin(STOREFLEET_WC_PLUGIN);
                if (is_wp_error($sf_valid)) {
                    storefleet_fail('WooCommerce cannot be activated: ' . $sf_valid->get_error_message());
                }
                $sf_active = (array)get_option('active_plugins', []);
                $sf_active[] = STOREFLEET_WC_PLUGIN;
                sort($sf_active);
                update_option('active_plugins', array_values(array_unique($sf_active)));
            }
            $sf_configured = storefleet_reexec($sf_docroot, ['action' => 'configure', '_locked' => true] + $sf_request);
            if (empty($sf_configured['ok'])) {
                storefleet_result($sf_configured, 1);
            }
            $sf_result = array_merge($sf_configured, $sf_result);
        } else {
            flush_rewrite_rules(false);  // with WooCommerce, its phase does it (it adds rules)
        }
        storefleet_result($sf_result);

    case 'configure':
        if (!class_exists('WooCommerce')) {
            storefleet_fail('WooCommerce is not active after activation');
        }
        $sf_setup = get_option(STOREFLEET_SETUP_OPTION, []);
        $sf_setup = is_array($sf_setup) ? $sf_setup : [];
        if (empty($sf_setup['woocommerce'])) {
            storefleet_configure_woocommerce($sf_request);
            $sf_setup['woocommerce'] = WC()->version;
            update_option(STOREFLEET_SETUP_OPTION, $sf_setup);
        }
        if (!empty($sf_request['sample_products']) && !isset($sf_setup['samples'])) {
            wp_defer_term_counting(true);  // count the categories once, not per product
            $sf_setup['samples'] = storefleet_create_samples();
            wp_defer_term_counting(false);
            update_option(STOREFLEET_SETUP_OPTION, $sf_setup);
        }
        flush_rewrite_rules(false);  // WordPress's rules and WooCommerce's (product/, shop/)
        storefleet_result(storefleet_status());

    case 'upgrade':
        $sf_before = (int)get_option('db_version');
        wp_upgrade();
        $sf_result = ['ok' => true, 'wordpress' => $GLOBALS['wp_version'],
                   'wordpress_db_before' => $sf_before, 'wordpress_db' => (int)get_option('db_version')];
        if (is_plugin_active(STOREFLEET_WC_PLUGIN)) {
            $sf_wc = storefleet_reexec($sf_docroot, ['action' => 'upgrade-woocommerce', '_locked' => true] + $sf_request);
            if (empty($sf_wc['ok'])) {
                storefleet_result($sf_wc, 1);
            }
            $sf_result = array_merge($sf_wc, $sf_result);
        }
        storefleet_result($sf_result);

    case 'upgrade-woocommerce':
        if (!class_exists('WC_Install')) {
            storefleet_fail('WooCommerce is active but does not load');
        }
        $sf_before = get_option('woocommerce_db_version');
        WC_Install::install();
        // Run the pending database updates now, in order, instead of through
        // the background queue: the upgrade is checked right after.
        $sf_current = get_option('woocommerce_db_version');
        foreach (WC_Install::get_db_update_callbacks() as $sf_version => $sf_callbacks) {
            if (version_compare((string)$sf_current, (string)$sf_version, '<')) {
                foreach ($sf_callbacks as $sf_callback) {
                    WC_Install::run_update_callback($sf_callback);
                }
            }
        }
        WC_Install::update_db_version();
        storefleet_result(['woocommerce_db_before' => $sf_before] + storefleet_status());

    case 'status':
        storefleet_result(storefleet_status());

    case 'adopt':
        /* from_url: the address the content came from when it is not the
         * database's own (a staging copy's content pushed into live). */
        $sf_old = rtrim((string)($sf_request['from_url'] ?? $wpdb->get_var(
            "SELECT option_value FROM {$wpdb->options} WHERE option_name = 'home'")), '/');
        $sf_replaced = 0;
        if ($sf_old !== '' && $sf_old !== $sf_url) {
            $sf_replaced = storefleet_search_replace($sf_old, $sf_url);
        }
        update_option('siteurl', $sf_url);
        update_option('home', $sf_url);
        if (isset($sf_request['title'])) {
            update_option('blogname', (string)$sf_request['title']);
        }
        if (isset($sf_request['admin_password'])) {
            $sf_admin = storefleet_set_admin((string)($sf_request['admin_user'] ?? 'admin'),
                                             (string)($sf_request['admin_email'] ?? ''),
                                             (string)$sf_request['admin_password']);
            WP_Session_Tokens::get_instance($sf_admin)->destroy_all();
            if (class_exists('WP_Application_Passwords')) {
                WP_Application_Passwords::delete_all_application_passwords($sf_admin);
            }
        }
        wp_cache_flush();
        flush_rewrite_rules(false);
        storefleet_result(['ok' => true, 'old_url' => $sf_old, 'url' => $sf_url,
                           'replaced' => $sf_replaced, 'title' => get_option('blogname')]);

    case 'stage':
        /* A staging copy: search engines are asked to stay away, and the
         * StoreFleet must-use plugin keeps its mail in the mailbox (never
         * sent) and offers only offline payment methods while the
         * marker is set. Pushes to live keep live's values of both. */
        update_option('blog_public', '0');
        update_option('storefleet_staging', '1');
        if (isset($sf_request['title'])) {
            // A copy made again from live (a refresh) has live's title back.
            update_option('blogname', (string)$sf_request['title']);
        }
        wp_cache_flush();
        storefleet_result(['ok' => true, 'blog_public' => get_option('blog_public'),
                           'staging' => get_option('storefleet_staging') === '1']);

    case 'checkout-product':
        if (!function_exists('wc_get_product_id_by_sku')) {
            storefleet_fail('WooCommerce is not active');
        }
        $sf_product = storefleet_checkout_product_id();
        if (!$sf_product) {
            $sf_new = new WC_Product_Simple();
            $sf_new->set_name('StoreFleet checkout test');
            $sf_new->set_sku('storefleet-checkout-test');
            $sf_new->set_status('publish');
            $sf_new->set_catalog_visibility('hidden');
            $sf_new->set_virtual(true);
            $sf_new->set_regular_price('1.00');
            $sf_new->set_sold_individually(true);
            $sf_new->update_meta_data('_storefleet_checkout_test', '1');
            $sf_product = $sf_new->save();
        }
        storefleet_result(['ok' => true, 'product_id' => (int)$sf_product]);

    case 'confirm-order':
        if (!function_exists('wc_get_order')) {
            storefleet_fail('WooCommerce is not active');
        }
        $sf_order_id = (int)($sf_request['order_id'] ?? 0);
        $sf_admins = get_users(['role' => 'administrator', 'number' => 1, 'orderby' => 'ID']);
        if (!$sf_admins) {
            storefleet_fail('the store has no administrator');
        }
        wp_set_current_user($sf_admins[0]->ID);
        $sf_response = rest_do_request(new WP_REST_Request('GET', "/wc/v3/orders/$sf_order_id"));
        if ($sf_response->is_error()) {
            $sf_error = $sf_response->as_error();
            storefleet_fail("order $sf_order_id could not be read as the admin: " . $sf_error->get_error_message());
        }
        $sf_data = $sf_response->get_data();
        $sf_order = wc_get_order($sf_order_id);
        $sf_deleted = $sf_order ? (bool)$sf_order->delete(true) : false;
        $sf_product = storefleet_checkout_product_id();
        if ($sf_product && ($sf_p = wc_get_product($sf_product))) {
            $sf_p->delete(true);
        }
        storefleet_result(['ok' => true, 'order_id' => $sf_order_id, 'status' => $sf_data['status'] ?? null,
                           'payment_method' => $sf_data['payment_method'] ?? null,
                           'total' => $sf_data['total'] ?? null, 'deleted' => $sf_deleted]);
}
