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
#   var/images/index            "<name> <ref in the test registry> <oci archive>"
# Then images/push.sh pushes them to the test registry (the test node pulls
# from it), or with REGISTRY=host/path the product images to that registry.
#
# Environment:
#   STOREFLEET_IMAGE_CACHE   cache root (default ~/.cache/storefleet/images):
#                            archives, buildah storage, .deb and pip caches
#   STOREFLEET_DEBIAN_MIRROR the Debian mirror (default: the host's apt source)
#   STOREFLEET_ARTIFACTS     WordPress/WooCommerce archives (default ../shared/vendor)
#   STOREFLEET_K8S_CACHE     where helm, kubectl and coredns were built (tools/k8s-testenv)
#   STOREFLEET_IMAGES_JOBS   images built at once (default 2)
#   REGISTRY, IMAGE_TAG      push to an operator's registry instead (images/push.sh)
set -euo pipefail
ALL_IMAGES="pause toolbox coredns traefik store platform mariadb redis"
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
        # (named in the test registry, whatever an older build called it)
        awk -v reg="${TEST_REGISTRY}" '$1 == n {t = $2; sub(/.*:/, "", t); print $1, reg "/storefleet/" $1 ":" t, $3}' \
            n="${name}" "${OUT}/index"
    fi
done >"${OUT}/index.new"
mv -f "${OUT}/index.new" "${OUT}/index"
while read -r name ref _; do
    printf 'STOREFLEET_%s_IMAGE=%s\n' "$(tr '[:lower:]' '[:upper:]' <<<"${name}")" "${ref}"
    if [[ "${name}" == mariadb ]]; then printf 'STOREFLEET_MYSQL_IMAGE=%s\n' "${ref}"; fi
done <"${OUT}/index" >"${VAR}/images.env.new"
mv -f "${VAR}/images.env.new" "${VAR}/images.env"

log "built in $((SECONDS - start)) s: ${VAR}/images.env"

# Pushed to the test registry (the test node pulls from it), or with
# REGISTRY=host/path to an operator's registry instead.
push_start=${SECONDS}
if [[ -n "${REGISTRY:-}" ]]; then
    "${IMAGES_DIR}/push.sh" --registry "${REGISTRY}" ${IMAGE_TAG:+--tag "${IMAGE_TAG}"}
else
    [[ -z "${IMAGE_TAG:-}" ]] || die "IMAGE_TAG is for an operator's registry: give REGISTRY too"
    "${IMAGES_DIR}/push.sh"
fi
log "done in $((SECONDS - start)) s (push $((SECONDS - push_start)) s)"
