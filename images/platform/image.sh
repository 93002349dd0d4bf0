# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# The platform image: the storefleet package (API, worker, CLI) in a venv of
# Debian's Python 3.11, installed from constraints.txt (PyPI); the built
# dashboard (frontend/dist, `make frontend`); the woocommerce-store chart; and
# helm and kubectl from the test environment's build (tools/k8s-testenv).
# Runs as uid 10001. images/platform/Dockerfile describes the same image.
IMAGE_BASE=debian
IMAGE_PACKAGES="python3 python3-venv ca-certificates"
IMAGE_CONFIG=(--user 10001:10001 --workingdir /app --port 8000/tcp
    --env PATH=/opt/storefleet/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 --env HOME=/tmp
    --entrypoint '["storefleet"]' --cmd '["api"]')

k8s_bin() { "${REPO_ROOT}/tools/k8s-testenv/build.sh" --print-bin; }
platform_sources() {
    echo "${REPO_ROOT}/pyproject.toml" "${REPO_ROOT}/constraints.txt" "${REPO_ROOT}/README.md" \
        "${REPO_ROOT}/src" "${REPO_ROOT}/frontend/dist" "${REPO_ROOT}/charts/woocommerce-store"
}

image_inputs() {
    [[ -f "${REPO_ROOT}/frontend/dist/index.html" ]] || die "frontend/dist is not built: run make frontend"
    [[ -x "$(k8s_bin)/helm" && -x "$(k8s_bin)/kubectl" ]] || die "helm/kubectl are not built: run make k8s-testenv"
    # shellcheck disable=SC2046  # a list of paths
    echo "sources $(hash_paths $(platform_sources))"
    echo "helm $(sha256sum <"$(k8s_bin)/helm" | cut -d' ' -f1)"
    echo "kubectl $(sha256sum <"$(k8s_bin)/kubectl" | cut -d' ' -f1)"
}

image_manifest() {
    echo "helm $("$(k8s_bin)/helm" version --short 2>/dev/null), kubectl $("$(k8s_bin)/kubectl" version --client -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')"
    echo "Python packages (pip freeze of /opt/storefleet/venv):"
    sed 's/^/  /' "${CACHE}/platform/last-freeze.txt" 2>/dev/null || true
}

image_customize() {
    local root="$1" p
    mkdir -p "${root}/app/frontend" "${root}/app/charts"
    cp -a "${REPO_ROOT}/pyproject.toml" "${REPO_ROOT}/constraints.txt" "${REPO_ROOT}/README.md" "${root}/app/"
    (cd "${REPO_ROOT}" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - src) | tar -xf - -C "${root}/app"
    cp -a "${REPO_ROOT}/frontend/dist" "${root}/app/frontend/dist"
    cp -a "${REPO_ROOT}/charts/woocommerce-store" "${root}/app/charts/woocommerce-store"
    install -m 0755 "$(k8s_bin)/helm" "$(k8s_bin)/kubectl" "${root}/usr/local/bin/"
    chown -R 0:0 "${root}/app"
    echo 'storefleet:x:10001:10001:storefleet:/tmp:/usr/sbin/nologin' >>"${root}/etc/passwd"
    echo 'storefleet:x:10001:' >>"${root}/etc/group"

    # pip runs inside the root filesystem with Debian's python3, reaching PyPI
    # with the host's resolver and CA bundle; its cache is the image cache's.
    mkdir -p "${CACHE}/pip" "${root}/tmp/pip-cache"
    cp /etc/resolv.conf "${root}/etc/resolv.conf"
    cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "${root}/tmp/host-ca.crt"
    mount --bind "${CACHE}/pip" "${root}/tmp/pip-cache"
    trap 'umount "${root}/tmp/pip-cache" 2>/dev/null || true' RETURN
    local pip_env=(env -i PATH=/usr/bin:/bin HOME=/tmp PIP_CACHE_DIR=/tmp/pip-cache PIP_CERT=/tmp/host-ca.crt
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180)
    [[ -n "${PIP_INDEX_URL:-}" ]] && pip_env+=("PIP_INDEX_URL=${PIP_INDEX_URL}")
    chroot "${root}" "${pip_env[@]}" python3 -m venv /opt/storefleet/venv
    # Installed in place (editable), as the Dockerfile does: the app serves the
    # dashboard from frontend/dist relative to its source, i.e. /app/frontend/dist.
    chroot "${root}" "${pip_env[@]}" /opt/storefleet/venv/bin/pip install -q -c /app/constraints.txt -e /app
    chroot "${root}" /opt/storefleet/venv/bin/storefleet --help >/dev/null
    mkdir -p "${CACHE}/platform"
    chroot "${root}" /opt/storefleet/venv/bin/pip freeze --exclude-editable >"${CACHE}/platform/last-freeze.txt"
    umount "${root}/tmp/pip-cache"
    rm -rf "${root}/tmp/pip-cache" "${root}/tmp/host-ca.crt" "${root}/etc/resolv.conf"
    for p in "${root}/app/src" "${root}/opt/storefleet/venv"; do chown -R 0:0 "${p}"; done
}
