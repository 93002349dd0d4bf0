#!/usr/bin/env bash
# Pushes the images that images/build.sh built (var/images/index) to a registry
# with skopeo, skipping an image whose tag is already there (images/README.md).
#
#   images/push.sh                      the test registry (tools/k8s-testenv/registry.sh):
#                                       every image, as <hash> and :dev; started for the
#                                       push when it is down, and stopped again
#   images/push.sh --registry R [--tag T]
#                                       an operator's registry: the product images
#                                       (store, platform, mariadb, redis) as
#                                       R/storefleet/<name>:<hash> (and :T); credentials
#                                       from `skopeo login R` (docs/deploy.md)
#
# On the test registry, :dev follows the current build (the charts' local
# values name it), builds that the image cache no longer keeps are deleted
# (their blobs go at the registry's next start), and a running test node
# forgets a :dev it pulled before the tag moved (node-images.sh).
set -euo pipefail
TESTENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools/k8s-testenv" && pwd)"
# shellcheck source=../tools/k8s-testenv/lib.sh
source "${TESTENV_DIR}/lib.sh"
IMAGE_CACHE="${STOREFLEET_IMAGE_CACHE:-${HOME}/.cache/storefleet/images}"
log() { printf '[images] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

registry="" extra_tag=""
while (($#)); do
    case "$1" in
        --registry) registry="${2:?--registry needs a value}"; shift 2 ;;
        --tag) extra_tag="${2:?--tag needs a value}"; shift 2 ;;
        *) die "push.sh: unknown argument $1" ;;
    esac
done
[[ -f "${IMAGES_INDEX}" ]] || die "no images built yet (make images)"
"${REPO_ROOT}/tools/host-packages.sh" registry

# --- an operator's registry ------------------------------------------------------
if [[ -n "${registry}" ]]; then
    registry="${registry%/}"
    [[ "${registry}" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$ ]] ||
        die "REGISTRY=${registry}: expected host[:port][/path], e.g. ghcr.io/acme"
    [[ -z "${extra_tag}" || "${extra_tag}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
        die "IMAGE_TAG=${extra_tag} is not a valid tag"
    while read -r name ref archive; do
        [[ " ${PRODUCT_IMAGES} " == *" ${name} "* ]] || continue
        dest="${registry}/storefleet/${name}:${ref##*:}"
        if skopeo inspect --raw "docker://${dest}" >/dev/null 2>&1; then
            log "${name}: ${dest} is there"
        else
            start=${SECONDS}
            skopeo copy --quiet "oci-archive:${archive}" "docker://${dest}"
            log "${name}: pushed ${dest} in $((SECONDS - start)) s"
        fi
        if [[ -n "${extra_tag}" ]]; then
            skopeo copy --quiet "docker://${dest}" "docker://${dest%:*}:${extra_tag}"
            log "${name}: tagged ${dest%:*}:${extra_tag}"
        fi
    done <"${IMAGES_INDEX}"
    exit 0
fi

# --- the test registry -------------------------------------------------------------
[[ -z "${extra_tag}" ]] || die "--tag is for an operator's registry (--registry)"
started_here=false
if ! registry_pid >/dev/null; then
    if registry_answers; then
        # Another checkout's registry on our port (its test environment runs):
        # its up.sh pushed what it needs; ours pushes when this one starts.
        log "the registry on ${TEST_REGISTRY} is another checkout's; not pushing (k8s-up pushes)"
        exit 0
    fi
    "${TESTENV_DIR}/registry.sh" start
    started_here=true
fi
finish() { if ${started_here}; then "${TESTENV_DIR}/registry.sh" stop; fi; }
trap finish EXIT

MEDIA="application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
api="http://${TEST_REGISTRY}/v2"
digest_of() { # repository tag -> the manifest digest, or nothing
    curl -fsS --max-time 10 -I -H "Accept: ${MEDIA}" "${api}/$1/manifests/$2" 2>/dev/null |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}' || true
}

pushed=0
while read -r name ref archive; do
    repo="storefleet/${name}" tag="${ref##*:}"
    [[ "${ref}" == "${TEST_REGISTRY}/${repo}:${tag}" ]] ||
        die "${name}: ${ref} does not name ${TEST_REGISTRY}; run make images again"
    digest="$(digest_of "${repo}" "${tag}")"
    if [[ -z "${digest}" ]]; then
        [[ -f "${archive}" ]] || die "${name}: ${archive} is missing; run make images"
        start=${SECONDS}
        skopeo copy --quiet --dest-tls-verify=false "oci-archive:${archive}" "docker://${ref}"
        digest="$(digest_of "${repo}" "${tag}")"
        [[ -n "${digest}" ]] || die "${name}: ${ref} not in the registry after the push"
        log "${name}: pushed ${ref} in $((SECONDS - start)) s"
        pushed=$((pushed + 1))
    fi
    # :dev names the current build: the same manifest under a second tag.
    if [[ "$(digest_of "${repo}" dev)" != "${digest}" ]]; then
        manifest="$(mktemp)"
        type="$(curl -fsS --max-time 30 -H "Accept: ${MEDIA}" -o "${manifest}" -w '%{content_type}' \
            "${api}/${repo}/manifests/${digest}")"
        curl -fsS --max-time 30 -X PUT -H "Content-Type: ${type}" --data-binary "@${manifest}" \
            "${api}/${repo}/manifests/dev" -o /dev/null
        rm -f "${manifest}"
    fi
    # Builds the image cache no longer keeps (it keeps the last three) go.
    # ({"name":"storefleet/store","tags":["dev","8b8e1c31dd6a5029",...]})
    for old in $(curl -fsS --max-time 10 "${api}/${repo}/tags/list" |
        grep -o '"tags":\[[^]]*\]' | grep -o '"[^"]*"' | tr -d '"' | grep -vx tags || true); do
        [[ "${old}" == dev || "${old}" == "${tag}" || -f "${IMAGE_CACHE}/${name}/${old}.oci.tar" ]] && continue
        old_digest="$(digest_of "${repo}" "${old}")"
        [[ -n "${old_digest}" && "${old_digest}" != "${digest}" ]] || continue
        curl -fsS --max-time 10 -X DELETE "${api}/${repo}/manifests/${old_digest}" -o /dev/null
        touch "${REGISTRY_DIR}/run/collect"
        log "${name}: deleted the superseded ${repo}:${old}"
    done
done <"${IMAGES_INDEX}"
((pushed == 0)) || log "pushed ${pushed} image(s) to ${TEST_REGISTRY}"

# A running node drops what it pulled under a tag that moved since.
"${TESTENV_DIR}/node-images.sh" --if-running
