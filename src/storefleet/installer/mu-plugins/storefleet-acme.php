<?php
/**
 * Plugin Name: StoreFleet ACME challenges
 * Description: Answers http://<a custom domain of this store>/.well-known/acme-challenge/<token>
 * while the platform obtains or renews the domain's certificate (the
 * HTTP-01 challenge). The answers are files in wp-content/storefleet-acme/,
 * put there (and removed) by the platform; nothing else is served. Once the
 * store's address is a custom domain, its platform name leads there: a 301
 * to the same path (wp-content/storefleet-acme/redirect.json, {from, to},
 * written by the platform; WordPress's own canonical redirect changes no
 * host). Put in place by the platform's Kubernetes driver (docs/domains.md).
 */

if (!defined('ABSPATH')) {
    exit;
}

(function () {
    $path = parse_url($_SERVER['REQUEST_URI'] ?? '', PHP_URL_PATH);
    if (!is_string($path) || !preg_match('#^/\.well-known/acme-challenge/([A-Za-z0-9_-]{16,128})$#', $path, $m)) {
        $redirect = json_decode((string) @file_get_contents(WP_CONTENT_DIR . '/storefleet-acme/redirect.json'), true);
        $host = strtolower((string) preg_replace('/:\d+$/', '', $_SERVER['HTTP_HOST'] ?? ''));
        if (is_array($redirect) && is_string($redirect['from'] ?? null) && is_string($redirect['to'] ?? null)
            && $host !== '' && $host === strtolower($redirect['from'])) {
            header('Location: ' . $redirect['to'] . ($_SERVER['REQUEST_URI'] ?? '/'), true, 301);
            exit;
        }
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
