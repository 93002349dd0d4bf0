# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# The store image: Debian's nginx (nginx-light) in front of php8.2-fpm, one
# store a pod, both as www-data (uid 33) under the restricted Pod Security
# Standard, started and watched by the entrypoint (a small supervisor:
# docs/serving.md, "On Kubernetes"). nginx listens on 8080 with the page
# cache; php-fpm's pool (pm = ondemand) on a socket in /var/cache/storefleet/run. Their
# configuration is rendered when the image is built, from the serving
# templates both drivers share (src/storefleet/drivers/serving, by
# images/store/render_serving.py); the plan's numbers stay ${...} for
# php-fpm to read from the pod's environment (STOREFLEET_PHP_WORKERS,
# STOREFLEET_PHP_MEMORY_LIMIT, STOREFLEET_OPCACHE_MB), which the store chart
# sets from the plan. Inside, read-only and root-owned:
#   /var/www/html                 WordPress core (the pinned release); its
#                                 wp-content is an empty mount point for the
#                                 store's volume
#   /var/www/wp-config.php        every setting from the environment
#   /opt/storefleet/wp-content    the release's themes and plugins, which the
#                                 entrypoint links into the volume's wp-content
#   /opt/storefleet/woocommerce   WooCommerce (the pinned release), linked as
#                                 wp-content/plugins/woocommerce
#   /opt/storefleet/installer     the store installer (src/storefleet/installer)
# Writable (emptyDirs in the chart): /var/cache/storefleet (php-fpm's socket
# and the pid files in run/, the page cache in pages/, nginx's buffers in
# tmp/) and /tmp (PHP's).
# images/store/Dockerfile describes the same image.
IMAGE_BASE=debian
IMAGE_PACKAGES="nginx-light php8.2-fpm php8.2-cli php8.2-mysql php8.2-gd php8.2-intl
php8.2-mbstring php8.2-xml php8.2-zip php8.2-curl php8.2-bcmath php8.2-opcache ca-certificates"
IMAGE_CONFIG=(--user 33:33 --workingdir /var/www/html --port 8080/tcp
    --env STOREFLEET_PHP_WORKERS=5 --env STOREFLEET_PHP_MEMORY_LIMIT=176M
    --env STOREFLEET_OPCACHE_MB=96
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
serving_dir() { echo "${REPO_ROOT}/src/storefleet/drivers/serving"; }

# The Python that renders the serving templates: the checkout's venv (make
# venv), else the host's with Jinja2 (python3-jinja2).
serving_python() {
    if [[ -x "${REPO_ROOT}/.venv/bin/python" ]]; then
        echo "${REPO_ROOT}/.venv/bin/python"
    elif python3 -c 'import jinja2' 2>/dev/null; then
        echo python3
    else
        die "no Python with Jinja2 to render the store's nginx and php-fpm configuration: make venv (or apt-get install python3-jinja2)"
    fi
}

image_inputs() {
    local wp wc
    read -r wp wc < <(store_versions)
    echo "wordpress ${wp} $(release_digest wordpress "${wp}")"
    echo "woocommerce ${wc} $(release_digest woocommerce "${wc}")"
    echo "installer $(hash_paths "$(installer_dir)")"
    echo "serving $(hash_paths "$(serving_dir)" "${REPO_ROOT}/src/storefleet/plans.py")"
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
    echo "nginx and php-fpm configuration from the serving templates (src/storefleet/drivers/serving + plans.py, sha256 $(hash_paths "$(serving_dir)" "${REPO_ROOT}/src/storefleet/plans.py")) in /etc/nginx/nginx.conf and /etc/php/8.2/fpm/php-fpm.conf"
}

image_customize() {
    local root="$1" wp wc tree
    read -r wp wc < <(store_versions)
    # Our files (PHP's settings, wp-config.php, the entrypoint), then nginx's
    # and php-fpm's configuration from the serving templates.
    cp -a "${IMAGES_DIR}/store/rootfs/." "${root}/"
    chown -R 0:0 "${root}/etc/php" "${root}/usr/local/bin"
    chroot "${root}" phpenmod -v 8.2 opcache storefleet
    rm -f "${root}/etc/php/8.2/fpm/pool.d/"*.conf "${root}/etc/nginx/sites-enabled/"*
    "$(serving_python)" "${IMAGES_DIR}/store/render_serving.py" "${root}"
    chown 0:0 "${root}/etc/nginx/nginx.conf" "${root}/etc/php/8.2/fpm/php-fpm.conf"
    # Where nginx and php-fpm write: an emptyDir in the chart; in the image,
    # writable by any uid like /tmp (buildah's layer makes root the owner).
    mkdir -p "${root}/var/cache/storefleet"
    chmod 1777 "${root}/var/cache/storefleet"
    # WordPress core, read-only: root owns every file.
    tree="$(release_tree wordpress "${wp}")"
    rm -rf "${root}/var/www/html"
    cp -a "${tree}" "${root}/var/www/html"
    # The release's wp-content moves aside: the store's volume is mounted
    # on the (empty) wp-content, and the entrypoint links the themes back.
    mkdir -p "${root}/opt/storefleet"
    mv "${root}/var/www/html/wp-content" "${root}/opt/storefleet/wp-content"
    mkdir "${root}/var/www/html/wp-content"
    tree="$(release_tree woocommerce "${wc}")"
    cp -a "${tree}" "${root}/opt/storefleet/woocommerce"
    if [[ -d "$(installer_dir)" ]]; then
        cp -a "$(installer_dir)" "${root}/opt/storefleet/installer"
    fi
    chown -R 0:0 "${root}/var/www/html" "${root}/opt/storefleet" "${root}/var/www/wp-config.php"
    chmod -R u=rwX,go=rX "${root}/var/www/html" "${root}/opt/storefleet" "${root}/var/www/wp-config.php"
    printf 'WORDPRESS_VERSION=%s\nWOOCOMMERCE_VERSION=%s\n' "${wp}" "${wc}" >"${root}/opt/storefleet/versions.env"
    # nginx and php-fpm log to the container's output.
    rm -rf "${root}/var/log/nginx/"* "${root}/var/log/php8.2-fpm.log"
}
