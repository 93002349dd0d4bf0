#!/usr/bin/env bash
# Installs, when missing, the Debian packages that the test node and the image
# builds need on the host (one apt-get, only for what is missing):
#   tools/host-packages.sh node     containerd, runc, CNI plugins, iptables, ipset, conntrack
#   tools/host-packages.sh images   mmdebstrap, buildah (vfs storage), skopeo
#   tools/host-packages.sh registry docker-registry (the test registry), skopeo
# A new machine has no package lists: apt-get update runs once when an install fails.
set -euo pipefail

packages=()
for group in "$@"; do
    case "${group}" in
        node) packages+=(containerd runc containernetworking-plugins iptables ipset conntrack iproute2 openssl curl) ;;
        images) packages+=(mmdebstrap buildah skopeo uidmap) ;;
        registry) packages+=(docker-registry skopeo curl) ;;
        *) echo "host-packages.sh: unknown group ${group}" >&2; exit 2 ;;
    esac
done
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q '^install ok installed$' || missing+=("${pkg}")
done
((${#missing[@]})) || exit 0
as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }
echo "host-packages: installing ${missing[*]} (apt)" >&2
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
