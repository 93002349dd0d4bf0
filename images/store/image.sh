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

ARTIFACTS="${STOREFLEET_ARTIFACTS:-${REPO_ROOT}/../shared/vendor}"
PINS="${REPO_ROOT}/src/storefleet/releases/pins.json"

# The verified, unpacked tree of a release (the wordpress/ or woocommerce/
# directory): `storefleet releases fetch` (src/storefleet/releases, checked
# against pins.json) in a checkout that has it, else the archive of
# STOREFLEET_ARTIFACTS checked against its SHA256SUMS.
release_tree() { # name version
    local name="$1" version="$2" file dir out
    if [[ -f "${PINS}" && -x "${REPO_ROOT}/.venv/bin/storefleet" ]]; then
        out="$(STOREFLEET_ARTIFACTS="${ARTIFACTS}" "${REPO_ROOT}/.venv/bin/storefleet" releases fetch "${name}" --version "${version}")" ||
            die "storefleet releases fetch ${name} --version ${version} failed"
        tail -n1 <<<"${out}"
        return
    fi
    case "${name}" in
        wordpress) file="wordpress-${version}.tar.gz" ;;
        woocommerce) file="woocommerce-${version}.zip" ;;
    esac
    [[ -f "${ARTIFACTS}/${file}" ]] || die "${ARTIFACTS}/${file} not found (set STOREFLEET_ARTIFACTS)"
    (cd "${ARTIFACTS}" && grep " ${file}\$" SHA256SUMS | sha256sum -c --quiet -) >&2 ||
        die "${file} does not match ${ARTIFACTS}/SHA256SUMS"
    dir="${CACHE}/releases/${name}-${version}"
    if [[ ! -f "${dir}/.unpacked" ]]; then
        rm -rf "${dir}" && mkdir -p "${dir}"
        case "${file}" in
            *.tar.gz) tar -xzf "${ARTIFACTS}/${file}" -C "${dir}" ;;
            *.zip) python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "${ARTIFACTS}/${file}" "${dir}" ;;
        esac
        touch "${dir}/.unpacked"
    fi
    echo "${dir}/${name}"
}

# What identifies a release: the pinned tree digest (pins.json), else the
# archive's line in SHA256SUMS.
release_digest() { # name version
    if [[ -f "${PINS}" ]]; then
        python3 -c 'import json,sys; print("tree", json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]]["tree_sha256"])' "${PINS}" "$1" "$2"
        return
    fi
    local file
    case "$1" in
        wordpress) file="wordpress-$2.tar.gz" ;;
        woocommerce) file="woocommerce-$2.zip" ;;
    esac
    echo "archive $(awk -v f="${file}" '$2 == f {print $1}' "${ARTIFACTS}/SHA256SUMS" 2>/dev/null)"
}

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
    echo "WordPress ${wp} (sha256 of the $(release_digest wordpress "${wp}")) in /var/www/html"
    echo "WooCommerce ${wc} (sha256 of the $(release_digest woocommerce "${wc}")) in /opt/storefleet/woocommerce"
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
    cp -a "${tree}" "${root}/var/www/html"
    tree="$(release_tree woocommerce "${wc}")"
    mkdir -p "${root}/opt/storefleet"
    cp -a "${tree}" "${root}/opt/storefleet/woocommerce"
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
