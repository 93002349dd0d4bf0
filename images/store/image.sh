# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# The store image: Debian's Apache 2.4 (MPM prefork) with mod_php (PHP 8.2),
# listening on 8080 as www-data (uid 33), compatible with the restricted Pod
# Security Standard. Inside, read-only and root-owned:
#   /var/www/html                 WordPress core (the pinned release)
#   /opt/storefleet/woocommerce   WooCommerce (the pinned release), which the
#                                 installer links or copies into wp-content/plugins
#   /opt/storefleet/installer     the store installer (src/storefleet/installer)
# wp-content lives on the store's volume (issue 10 wires it). Apache's MPM is
# sized by environment variables (APACHE_MAX_REQUEST_WORKERS & co., see
# rootfs/etc/apache2/envvars.d). images/store/Dockerfile describes the same image.
IMAGE_BASE=debian
IMAGE_PACKAGES="apache2 libapache2-mod-php8.2 php8.2-cli php8.2-mysql php8.2-gd php8.2-intl
php8.2-mbstring php8.2-xml php8.2-zip php8.2-curl php8.2-bcmath php8.2-opcache ca-certificates"
IMAGE_CONFIG=(--user 33:33 --workingdir /var/www/html --port 8080/tcp
    --env APACHE_MAX_REQUEST_WORKERS=10 --env APACHE_START_SERVERS=2
    --env APACHE_MIN_SPARE_SERVERS=1 --env APACHE_MAX_SPARE_SERVERS=4
    --stop-signal SIGWINCH
    --entrypoint '["/usr/local/bin/storefleet-store"]' --cmd '')

store_versions() { # prints "wordpress_version woocommerce_version"
    local pins="${REPO_ROOT}/src/storefleet/releases/pins.json"
    if [[ -f "${pins}" ]]; then
        python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["current"]; print(c["wordpress"], c["woocommerce"])' "${pins}"
    else
        # shellcheck source=versions.env
        (source "${IMAGES_DIR}/store/versions.env" && echo "${WORDPRESS_VERSION} ${WOOCOMMERCE_VERSION}")
    fi
}

installer_dir() { echo "${REPO_ROOT}/src/storefleet/installer"; }

image_inputs() {
    local wp wc
    read -r wp wc < <(store_versions)
    echo "wordpress ${wp} $(release_digest wordpress "${wp}")"
    echo "woocommerce ${wc} $(release_digest woocommerce "${wc}")"
    echo "installer $(hash_paths "$(installer_dir)")"
}

image_manifest() {
    local wp wc
    read -r wp wc < <(store_versions)
    echo "WordPress ${wp} (archive sha256 $(release_digest wordpress "${wp}")) in /var/www/html"
    echo "WooCommerce ${wc} (archive sha256 $(release_digest woocommerce "${wc}")) in /opt/storefleet/woocommerce"
    if [[ -d "$(installer_dir)" ]]; then
        echo "installer (src/storefleet/installer, tree sha256 $(hash_paths "$(installer_dir)")) in /opt/storefleet/installer"
    else
        echo "installer: not in this checkout yet (src/storefleet/installer)"
    fi
}

image_customize() {
    local root="$1" wp wc tree
    read -r wp wc < <(store_versions)
    # Our configuration files (ports, vhost, MPM, PHP, entrypoint).
    cp -a "${IMAGES_DIR}/store/rootfs/." "${root}/"
    chown -R 0:0 "${root}/etc/apache2" "${root}/etc/php" "${root}/usr/local/bin"
    chroot "${root}" a2dismod -q -f mpm_event mpm_worker >/dev/null 2>&1 || true
    chroot "${root}" a2enmod -q mpm_prefork php8.2 rewrite >/dev/null
    chroot "${root}" a2enconf -q storefleet >/dev/null
    chroot "${root}" a2disconf -q other-vhosts-access-log >/dev/null
    chroot "${root}" a2ensite -q 000-default >/dev/null
    chroot "${root}" phpenmod -v 8.2 opcache storefleet
    # WordPress core, read-only: root owns every file.
    tree="$(release_tree wordpress "${wp}")"
    rm -rf "${root}/var/www/html"
    cp -a "${tree}/wordpress" "${root}/var/www/html"
    tree="$(release_tree woocommerce "${wc}")"
    mkdir -p "${root}/opt/storefleet"
    cp -a "${tree}/woocommerce" "${root}/opt/storefleet/woocommerce"
    if [[ -d "$(installer_dir)" ]]; then
        cp -a "$(installer_dir)" "${root}/opt/storefleet/installer"
    fi
    chown -R 0:0 "${root}/var/www/html" "${root}/opt/storefleet"
    chmod -R u=rwX,go=rX "${root}/var/www/html" "${root}/opt/storefleet"
    printf 'WORDPRESS_VERSION=%s\nWOOCOMMERCE_VERSION=%s\n' "${wp}" "${wc}" >"${root}/opt/storefleet/versions.env"
    # Apache logs to the container's output (the entrypoint puts run and
    # lock files in /tmp).
    rm -f "${root}/var/log/apache2/"*
}
