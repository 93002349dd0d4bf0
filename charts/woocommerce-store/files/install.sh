#!/bin/sh
# The store's install Job (install-<revision>): StoreFleet's store installer,
# the same program the local driver runs (/opt/storefleet/installer), with a
# JSON request on its standard input: "install" (WordPress, the admin,
# WooCommerce, Cash on Delivery, pages, sample products, the shop opened),
# then "upgrade" (database upgrades after new release files). Both converge:
# a re-run after a crash, a failed attempt, an upgrade or the Job's TTL
# finishes the job and resets nothing the merchant changed (the installer
# records its first-time setup in the option storefleet_setup). One run per
# store at a time: the installer holds a MySQL lock of the store's.
#
# The admin password is read from /run/secrets/store-admin/password while that
# Secret exists (the first install); once WordPress is installed the
# installer needs none and leaves the password as it is.
set -eu
INSTALLER=/opt/storefleet/installer/storefleet-install.php
DOCROOT=/var/www/html
REQUEST=/etc/storefleet/install/request.json
PASSWORD=/run/secrets/store-admin/password

log() { printf '[install] %s\n' "$*"; }

# The database may still be starting, or its Service not yet resolvable.
deadline=$(( $(date +%s) + ${STOREFLEET_DATABASE_WAIT_SECONDS:-300} ))
# shellcheck disable=SC2016 # PHP, not the shell, expands the $variables
until php -r '
    mysqli_report(MYSQLI_REPORT_OFF);
    $host = getenv("WORDPRESS_DB_HOST"); $port = 3306;
    if (strpos($host, ":") !== false) { list($host, $port) = explode(":", $host, 2); }
    $db = @mysqli_connect($host, getenv("WORDPRESS_DB_USER"), getenv("WORDPRESS_DB_PASSWORD"),
                          getenv("WORDPRESS_DB_NAME"), (int) $port);
    exit($db ? 0 : 1);'; do
    if [ "$(date +%s)" -ge "${deadline}" ]; then
        log "the store's database ${WORDPRESS_DB_NAME} at ${WORDPRESS_DB_HOST} did not answer"
        exit 1
    fi
    sleep 3
done

# One installer action: its output, and success only on {"ok": true}.
installer() { # request json
    out="$(printf '%s' "$1" | php "${INSTALLER}" "${DOCROOT}" 2>&1)" || true
    printf '%s\n' "${out}" | grep -v '^$' | tail -n 20
    printf '%s\n' "${out}" | grep -Eq '^STOREFLEET_RESULT .*"ok":true'
}

# shellcheck disable=SC2016
request="$(php -r '
    $r = json_decode(file_get_contents($argv[1]), true);
    if (is_readable($argv[2])) { $r["admin_password"] = file_get_contents($argv[2]); }
    echo json_encode($r);' "${REQUEST}" "${PASSWORD}")"
log "install (admin password $( [ -r "${PASSWORD}" ] && echo given || echo "not given: kept as it is"))"
installer "${request}" || { log "the install failed"; exit 1; }
# shellcheck disable=SC2016
url="$(php -r 'echo json_decode(file_get_contents($argv[1]), true)["url"];' "${REQUEST}")"
log "upgrade"
installer "{\"action\":\"upgrade\",\"url\":\"${url}\"}" || { log "the upgrade failed"; exit 1; }
log "store ${url} is installed"
