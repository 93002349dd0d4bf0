#!/usr/bin/env bash
# The test node pulls every image from the test registry (registry.sh; its
# containerd's hosts.toml), nothing is imported by hand. containerd's image
# store outlives the environment (var/k8s-containerd), so what it pulled under
# a tag that has moved since would be used again under imagePullPolicy
# IfNotPresent: this makes it forget those, so that the next pod pulls the
# current build:
#   - a :dev that is not the registry's :dev (a newer make images moved it);
#   - builds of ours that var/images/index no longer names, and the images an
#     older test node imported from archives (docker.io/storefleet/...).
# Only image records go (`ctr images rm`); containerd collects the content
# that no image or container still uses.
#   node-images.sh               containerd must run
#   node-images.sh --if-running  nothing when the node's containerd does not run
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! containerd_running; then
    [[ "${1:-}" == "--if-running" ]] && exit 0
    log "the node's containerd is not running (${CONTAINERD_SOCK})"
    exit 1
fi
[[ -f "${IMAGES_INDEX}" ]] || { log "no images built yet (make images)"; exit 0; }
registry_answers || { log "the registry on ${TEST_REGISTRY} does not answer; the node's tags are left as they are"; exit 0; }

MEDIA="application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
# "ref digest" for every image the node has.
present="$(ctr_node images list 2>/dev/null | awk 'NR > 1 {print $1, $3}')"
current="$(awk '{print $2}' "${IMAGES_INDEX}")"
stale=()
while read -r ref digest; do
    [[ -n "${ref}" ]] || continue
    case "${ref}" in
        docker.io/storefleet/*) stale+=("${ref}") ;;
        "${TEST_REGISTRY}/storefleet/"*:dev)
            repo="${ref#"${TEST_REGISTRY}/"}"
            want="$(curl -fsS --max-time 10 -I -H "Accept: ${MEDIA}" "http://${TEST_REGISTRY}/v2/${repo%:dev}/manifests/dev" 2>/dev/null |
                tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}' || true)"
            [[ -z "${want}" || "${want}" == "${digest}" ]] || stale+=("${ref}") ;;
        "${TEST_REGISTRY}/storefleet/"*@sha256:*) ;; # the digest the kubelet pulled by: below
        "${TEST_REGISTRY}/storefleet/"*) grep -qxF "${ref}" <<<"${current}" || stale+=("${ref}") ;;
    esac
done <<<"${present}"
# A digest reference goes when no tag that stays names its image.
kept="$(while read -r ref digest; do
    [[ "${ref}" == *@sha256:* ]] && continue
    printf '%s\n' "${stale[@]}" | grep -qxF "${ref}" || echo "${digest}"
done <<<"${present}")"
while read -r ref digest; do
    [[ "${ref}" == "${TEST_REGISTRY}/storefleet/"*@sha256:* ]] || continue
    grep -qxF "${digest}" <<<"${kept}" || stale+=("${ref}")
done <<<"${present}"
if ((${#stale[@]})); then
    ctr_node images remove "${stale[@]}" >/dev/null
    log "the node forgot ${#stale[@]} superseded image(s): ${stale[*]}"
fi
