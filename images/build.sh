#!/usr/bin/env bash
# Builds the StoreFleet images without a Docker engine, from Debian packages
# only (images/README.md). Each image is made by images/make-image.sh from its
# recipe (images/<name>/image.sh); up to STOREFLEET_IMAGES_JOBS (default 2)
# at once, since much of a build waits on the mirror and the disk.
#
#   images/build.sh [NAME...]     build what is missing (default: every image)
#   images/build.sh --list        the image names
#
# An image's tag is a hash of everything that goes into it (make-image.sh,
# its recipe directory, the mirror, its inputs: releases, sources, binaries).
# A built tag is kept in the cache, so a second run with nothing changed
# builds nothing. Debian's own updates on the mirror do not change the tag:
# force a rebuild with STOREFLEET_IMAGES_REBUILD=1.
#
# Outputs, besides the cache:
#   var/images.env              STOREFLEET_<NAME>_IMAGE=<ref> for every image
#   var/images/<name>.manifest  what the image holds (dpkg list, release digests)
#   var/images/index            "<name> <ref> <oci archive>" (up.sh imports these)
# When the test node's containerd runs (make k8s-up), new images are imported
# into it at once.
#
# Environment:
#   STOREFLEET_IMAGE_CACHE   cache root (default ~/.cache/storefleet/images):
#                            archives, buildah storage, .deb and pip caches
#   STOREFLEET_DEBIAN_MIRROR the Debian mirror (default: the host's apt source)
#   STOREFLEET_ARTIFACTS     WordPress/WooCommerce archives (default ../shared/vendor)
#   STOREFLEET_K8S_CACHE     where helm, kubectl and coredns were built (tools/k8s-testenv)
#   STOREFLEET_IMAGES_JOBS   images built at once (default 2)
set -euo pipefail
ALL_IMAGES="pause toolbox coredns store platform mariadb redis"
if [[ "${1:-}" == "--list" ]]; then
    echo "${ALL_IMAGES}"
    exit 0
fi
# shellcheck source=make-image.sh
source "$(dirname "${BASH_SOURCE[0]}")/make-image.sh"

wanted=("$@")
((${#wanted[@]})) || read -r -a wanted <<<"${ALL_IMAGES}"
for name in "${wanted[@]}"; do
    [[ " ${ALL_IMAGES} " == *" ${name} "* ]] || die "unknown image ${name} (one of: ${ALL_IMAGES})"
done
"${REPO_ROOT}/tools/host-packages.sh" images
mkdir -p "${CACHE}" "${OUT}"
exec 9>"${CACHE}/.lock"
flock 9 # one build at a time per cache (two worktrees share it)

jobs="${STOREFLEET_IMAGES_JOBS:-2}"
start=${SECONDS}
declare -A pids=()
failed=()
reap() { # wait for one finished build (or all with "all")
    local name
    for name in "${!pids[@]}"; do
        if [[ "$1" == all ]] || ! kill -0 "${pids[${name}]}" 2>/dev/null; then
            wait "${pids[${name}]}" || failed+=("${name}")
            unset "pids[${name}]"
        fi
    done
}
for name in "${wanted[@]}"; do
    rm -f "${OUT}/.index.${name}"
    while ((${#pids[@]} >= jobs)); do
        reap one
        ((${#pids[@]} < jobs)) || sleep 0.5
    done
    (build_image "${name}") &
    pids[${name}]=$!
done
reap all
((${#failed[@]} == 0)) || die "failed: ${failed[*]} (see above)"

# The index keeps the images not asked for this time; var/images.env follows it.
touch "${OUT}/index"
for name in ${ALL_IMAGES}; do
    if [[ -f "${OUT}/.index.${name}" ]]; then
        cat "${OUT}/.index.${name}"
        rm -f "${OUT}/.index.${name}"
    else
        grep "^${name} " "${OUT}/index" || true
    fi
done >"${OUT}/index.new"
mv -f "${OUT}/index.new" "${OUT}/index"
while read -r name ref _; do
    printf 'STOREFLEET_%s_IMAGE=%s\n' "$(tr '[:lower:]' '[:upper:]' <<<"${name}")" "${ref}"
    if [[ "${name}" == mariadb ]]; then printf 'STOREFLEET_MYSQL_IMAGE=%s\n' "${ref}"; fi
done <"${OUT}/index" >"${VAR}/images.env.new"
mv -f "${VAR}/images.env.new" "${VAR}/images.env"

# A running test node gets the images now; otherwise up.sh imports them.
"${REPO_ROOT}/tools/k8s-testenv/node-images.sh" --if-running
log "done in $((SECONDS - start)) s: ${VAR}/images.env"
