#!/usr/bin/env bash
# Imports the images that images/build.sh built (var/images/index) into the
# test node's containerd (namespace k8s.io, where the kubelet looks), under
# their content-hash tag and the alias :dev that the charts' local values use.
# An image already there is skipped.
#   node-images.sh               import (containerd must run)
#   node-images.sh --if-running  import only when the node's containerd runs
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! containerd_running; then
    [[ "${1:-}" == "--if-running" ]] && exit 0
    log "the node's containerd is not running (${CONTAINERD_SOCK})"
    exit 1
fi
[[ -f "${IMAGES_INDEX}" ]] || { log "no images built yet (make images)"; exit 0; }

present="$(ctr_node images list --quiet)"
while read -r name ref archive; do
    alias="${ref%:*}:dev"
    if ! grep -qxF "${ref}" <<<"${present}"; then
        [[ -f "${archive}" ]] || { log "${name}: ${archive} is missing; run make images"; exit 1; }
        start=${SECONDS}
        ctr_node images import --snapshotter overlayfs "${archive}" >/dev/null
        grep -qxF "${ref}" <<<"$(ctr_node images list --quiet)" || { log "${name}: ${ref} not found after the import"; exit 1; }
        log "imported ${ref} in $((SECONDS - start)) s"
    fi
    ctr_node images tag --force "${ref}" "${alias}" >/dev/null
done <"${IMAGES_INDEX}"
# Builds of ours that the index no longer names go (containerd keeps its root
# between runs); the :dev aliases point at the current ones.
current="$(awk '{print $2}' "${IMAGES_INDEX}")"
for ref in $(ctr_node images list --quiet | grep '^docker\.io/storefleet/' | grep -v ':dev$'); do
    grep -qxF "${ref}" <<<"${current}" || ctr_node images remove "${ref}" >/dev/null
done
