<?php
/**
 * Plugin Name: StoreFleet ACME challenges
 * Description: Answers http://<a custom domain of this store>/.well-known/acme-challenge/<token>
 * while the platform obtains or renews the domain's certificate (the
 * HTTP-01 challenge). The answers are files in wp-content/storefleet-acme/,
 * put there (and removed) by the platform; nothing else is served. Put in
 * place by the platform's Kubernetes driver (docs/domains.md).
 */

if (!defined('ABSPATH')) {
    exit;
}

(function () {
    $path = parse_url($_SERVER['REQUEST_URI'] ?? '', PHP_URL_PATH);
    if (!is_string($path) || !preg_match('#^/\.well-known/acme-challenge/([A-Za-z0-9_-]{16,128})$#', $path, $m)) {
        return;
    }
    $file = WP_CONTENT_DIR . '/storefleet-acme/' . $m[1];
    nocache_headers();
    header('Content-Type: text/plain; charset=utf-8');
    if (!is_file($file)) {
        status_header(404);
        exit;
    }
    status_header(200);
    readfile($file);
    exit;
})();
