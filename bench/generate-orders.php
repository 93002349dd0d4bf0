<?php
/*
 * Benchmark data: N Cash-on-Delivery orders in a store, made the way
 * WooCommerce makes them (wc_create_order, line items, addresses, totals),
 * without HTTP. Run as the store's own user:
 *
 *   php bench/generate-orders.php <docroot> <count>
 *
 * Prints "created N orders in S seconds".
 */
$docroot = rtrim($argv[1] ?? '', '/');
$count = (int)($argv[2] ?? 1000);
$_SERVER['HTTP_HOST'] = 'localhost';
$_SERVER['REQUEST_URI'] = '/';
chdir($docroot);
require $docroot . '/wp-load.php';
if (!function_exists('wc_create_order')) {
    fwrite(STDERR, "WooCommerce is not active\n");
    exit(1);
}
wp_set_current_user(1);
$products = wc_get_products(['status' => 'publish', 'limit' => 10, 'type' => 'simple']);
if (!$products) {
    fwrite(STDERR, "the store has no products\n");
    exit(1);
}
// The bench measures backups, not mail: no notification per order.
add_filter('pre_wp_mail', '__return_false');
$address = ['first_name' => 'Bench', 'last_name' => 'Shopper', 'address_1' => '1 Test Street',
            'city' => 'Testville', 'postcode' => '10001', 'country' => 'US', 'state' => 'NY',
            'email' => 'bench@example.com', 'phone' => '5555555555'];
$start = microtime(true);
for ($i = 0; $i < $count; $i++) {
    $order = wc_create_order();
    $order->add_product($products[$i % count($products)], 1 + $i % 3);
    $order->set_address($address, 'billing');
    $order->set_address($address, 'shipping');
    $order->set_payment_method('cod');
    $order->set_payment_method_title('Cash on delivery');
    $order->calculate_totals();
    $order->update_status('processing', 'Benchmark order', false);
}
printf("created %d orders in %.1f seconds\n", $count, microtime(true) - $start);
