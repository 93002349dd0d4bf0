#!/bin/sh
# Installs one store, idempotently: the chart's Job "install" runs it on the
# first install, and again on an upgrade once the finished Job was cleaned up
# (ttlSecondsAfterFinished). Every step checks before it acts, so a re-run
# converges instead of failing or duplicating anything.
#
# Input: the store-config ConfigMap and store-credentials Secret as env, the
# admin password as a file (never an argument: wp reads it from stdin).
set -eu

DOCROOT=/var/www/html
ADMIN_PASSWORD_FILE=/run/secrets/store-admin/password
cd "${DOCROOT}"

log() { printf '[install] %s\n' "$*"; }

wp() {
    # The phar under the PHP binary, so that the memory limit applies.
    php -d "memory_limit=${PHP_MEMORY_LIMIT:-256M}" "$(command -v wp)" --path="${DOCROOT}" --no-color "$@"
}

deadline=$(( $(date +%s) + ${INSTALL_WAIT_SECONDS:-600} ))
wait_for() {
    what=$1
    shift
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "${deadline}" ]; then
            log "gave up after ${INSTALL_WAIT_SECONDS:-600} s waiting for ${what}"
            exit 1
        fi
        sleep 3
    done
    log "${what}: ok"
}

wordpress_laid_out() { [ -f wp-config.php ] && [ -f wp-includes/version.php ]; }

# shellcheck disable=SC2016 # PHP, not the shell, expands the $variables
database_reachable() {
    php -r '
        mysqli_report(MYSQLI_REPORT_OFF);
        $host = getenv("WORDPRESS_DB_HOST"); $port = 3306;
        if (strpos($host, ":") !== false) { list($host, $port) = explode(":", $host, 2); }
        $db = @mysqli_connect($host, getenv("WORDPRESS_DB_USER"), getenv("WORDPRESS_DB_PASSWORD"),
                              getenv("WORDPRESS_DB_NAME"), (int) $port);
        exit($db ? 0 : 1);'
}

[ -r "${ADMIN_PASSWORD_FILE}" ] || { log "missing ${ADMIN_PASSWORD_FILE} (Secret ${ADMIN_SECRET_NAME:-store-admin}, key password)"; exit 1; }

# The store pod's entrypoint copies WordPress onto the shared volume and writes
# wp-config.php (which reads the database settings from the environment).
wait_for "WordPress on the volume" wordpress_laid_out
wait_for "the store database ${WORDPRESS_DB_NAME} at ${WORDPRESS_DB_HOST}" database_reachable

url="${STOREFLEET_SITE_URL:-${STORE_PLACEHOLDER_URL}}"
if wp core is-installed; then
    log "WordPress is already installed"
else
    log "installing WordPress at ${url}"
    wp core install --url="${url}" --title="${STORE_TITLE}" \
        --admin_user="${ADMIN_USER}" --admin_email="${ADMIN_EMAIL}" \
        --skip-email --prompt=admin_password <"${ADMIN_PASSWORD_FILE}"
fi

if [ -n "${STOREFLEET_SITE_URL:-}" ]; then
    for option in home siteurl; do
        if [ "$(wp option get "${option}")" != "${STOREFLEET_SITE_URL}" ]; then
            wp option update "${option}" "${STOREFLEET_SITE_URL}"
        fi
    done
fi

if wp plugin is-installed woocommerce; then
    have="$(wp plugin get woocommerce --field=version)"
    [ "${have}" = "${WC_VERSION}" ] || log "note: WooCommerce ${have} is on the volume (pinned: ${WC_VERSION})"
else
    log "WooCommerce is not in the image: downloading ${WC_VERSION}"
    wp plugin install woocommerce --version="${WC_VERSION}"
fi
wp plugin is-active woocommerce || wp plugin activate woocommerce

wp option update woocommerce_default_country "${WC_COUNTRY}"
wp option update woocommerce_currency "${WC_CURRENCY}"
# A new store opens for business: WooCommerce 9+ starts in "coming soon" mode.
wp option update woocommerce_coming_soon no
wp option update woocommerce_cod_settings --format=json \
    '{"enabled":"yes","title":"Cash on delivery","description":"Pay with cash upon delivery.","instructions":"Pay with cash upon delivery.","enable_for_methods":[],"enable_for_virtual":"yes"}'
# Creates only the shop, cart, checkout and my-account pages that are missing.
wp wc tool run install_pages --user="${ADMIN_USER}"

if [ "${WC_SAMPLE_PRODUCT}" = "true" ]; then
    if [ -z "$(wp wc product list --sku=storefleet-sample --field=id --user="${ADMIN_USER}")" ]; then
        wp wc product create --name="Sample product" --sku=storefleet-sample \
            --regular_price=19.99 --status=publish --user="${ADMIN_USER}" \
            --description="A product to try the checkout with."
    else
        log "the sample product exists"
    fi
fi

log "store ${STORE_NAME} is installed"
