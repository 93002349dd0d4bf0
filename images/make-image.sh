#!/usr/bin/env bash
# Makes one image (sourced by images/build.sh; run by mmdebstrap for its
# hooks as `make-image.sh --hook ...`): the root filesystem from Debian
# packages, the recipe's customisation, the buildah commit to an OCI archive
# and its manifest. Everything that decides an image's content is here or in
# the recipe, and both are hashed into the image's tag; images/build.sh only
# orchestrates (which images, in parallel, the index, the import).
set -euo pipefail

IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${IMAGES_DIR}/.." && pwd)"
SUITE=bookworm
CACHE="${STOREFLEET_IMAGE_CACHE:-${HOME}/.cache/storefleet/images}"
VAR="${REPO_ROOT}/var"
OUT="${VAR}/images"
# shellcheck source=../tools/k8s-testenv/registry.env
source "${REPO_ROOT}/tools/k8s-testenv/registry.env"

# Every file of every image gets this modification time, and the image this
# creation time, whenever it is built (reproducible images). Not 0: PHP's
# opcache caches no script whose modification time it reads as 0 (it takes
# that for "no timestamp", as of a socket), so the store image's WordPress
# was compiled again on every request. 2023-06-10 00:00 UTC, Debian 12's
# release.
IMAGE_EPOCH=1686355200

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }


debian_mirror() {
    if [[ -n "${STOREFLEET_DEBIAN_MIRROR:-}" ]]; then
        echo "${STOREFLEET_DEBIAN_MIRROR}"
        return
    fi
    # The first main archive of the host's apt sources (deb822 or one-line format).
    local uri
    uri="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)"
    [[ -n "${uri}" ]] || uri="$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR="$(debian_mirror)"

# --- inputs ------------------------------------------------------------------

# sha256 of a list of files and directories (paths relative to the repository,
# so that two clones in different places get the same tag).
hash_paths() {
    local p
    for p in "$@"; do
        if [[ -d "${p}" ]]; then
            (cd "${p}" && find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*' ! -path '*/node_modules/*' -print0 |
                LC_ALL=C sort -z | xargs -0 -r sha256sum)
        elif [[ -f "${p}" ]]; then
            sha256sum <"${p}"
        else
            echo "missing ${p#"${REPO_ROOT}"/}"
        fi
    done | sha256sum | cut -d' ' -f1
}

# --- the two ways to make a root filesystem ----------------------------------

# Files of Debian packages unpacked into ROOTFS, no dpkg database (for the
# images that are one static binary). Records "package version" lines.
debs_rootfs() { # rootfs packages...
    local rootfs="$1" pkg deb
    shift
    local debs="${CACHE}/debs/${NAME}"
    mkdir -p "${debs}" "${rootfs}" && chmod 0755 "${CACHE}/debs" "${debs}" # apt's _apt user reads it
    for pkg in "$@"; do
        deb="$(find "${debs}" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort | tail -n1)"
        if [[ -z "${deb}" ]]; then
            (cd "${debs}" && { apt-get download -q "${pkg}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q "${pkg}" >/dev/null; }; })
            deb="$(find "${debs}" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort | tail -n1)"
        fi
        dpkg-deb -x "${deb}" "${rootfs}"
        dpkg-deb -f "${deb}" Package Version | paste -sd' ' | sed 's/Package: //; s/ Version: / /' >>"${WORK}/packages"
    done
}

# A bookworm root filesystem with PACKAGES and their dependencies (no
# recommends, no apt), made by mmdebstrap; the recipe's image_customize runs
# inside mmdebstrap's customize hook, with /proc and /dev mounted.
debian_rootfs() { # rootfs packages...
    local rootfs="$1"
    shift
    local debs="${CACHE}/debs/${NAME}"
    mkdir -p "${debs}" && chmod 0755 "${CACHE}/debs" "${debs}" # apt's _apt user reads it
    local include
    include="$(tr ' ' ',' <<<"$*")"
    local verbosity=(--quiet)
    [[ -z "${STOREFLEET_IMAGES_VERBOSE:-}" ]] || verbosity=(--verbose)
    mmdebstrap "${verbosity[@]}" --mode=root --variant=essential --include="${include}" \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
        --setup-hook="sync-in ${debs} /var/cache/apt/archives" \
        --essential-hook="${IMAGES_DIR}/make-image.sh --hook essential ${NAME} \"\$1\"" \
        --customize-hook="sync-out /var/cache/apt/archives ${debs}" \
        --customize-hook="${IMAGES_DIR}/make-image.sh --hook customize ${NAME} \"\$1\"" \
        --customize-hook='chroot "$1" dpkg-query -W -f="\${Package} \${Version}\n"'" >${WORK}/packages" \
        --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/tmp/*; find "$1"/var/log -type f -delete' \
        --skip=download/empty \
        "${SUITE}" "${rootfs}" "${MIRROR}"
}

# --- hooks (run by mmdebstrap as a separate process) --------------------------

if [[ "${1:-}" == "--hook" ]]; then
    hook="$2" NAME="$3" ROOTFS="$4"
    # shellcheck source=/dev/null
    source "${IMAGES_DIR}/${NAME}/image.sh"
    case "${hook}" in
        essential) if declare -F image_essential >/dev/null; then image_essential "${ROOTFS}"; fi ;;
        customize) if declare -F image_customize >/dev/null; then image_customize "${ROOTFS}"; fi ;;
    esac
    exit 0
fi

# --- one image ---------------------------------------------------------------

buildah_() { buildah --storage-driver vfs --root "${CACHE}/storage" --runroot "${CACHE}/runroot" "$@"; }

build_image() { # name
    NAME="$1"
    local recipe="${IMAGES_DIR}/${NAME}/image.sh"
    [[ -f "${recipe}" ]] || die "no recipe ${recipe}"
    # Reset what a recipe may define, then read this one.
    unset -f image_inputs image_essential image_customize image_manifest 2>/dev/null || true
    IMAGE_BASE="" IMAGE_PACKAGES="" IMAGE_CONFIG=()
    # shellcheck source=/dev/null
    source "${recipe}"

    local inputs tag ref archive manifest
    inputs="$({
        echo "recipe $(hash_paths "${IMAGES_DIR}/make-image.sh" "${IMAGES_DIR}/${NAME}")"
        echo "base ${IMAGE_BASE} ${SUITE} ${MIRROR} ${IMAGE_PACKAGES}"
        if declare -F image_inputs >/dev/null; then image_inputs; fi
    })"
    tag="$(sha256sum <<<"${inputs}" | cut -c1-16)"
    # The name in the archive; the index names it in the test registry, where
    # images/push.sh puts it and the test node pulls it from.
    ref="docker.io/storefleet/${NAME}:${tag}"
    archive="${CACHE}/${NAME}/${tag}.oci.tar"
    manifest="${CACHE}/${NAME}/${tag}.manifest"
    if [[ -f "${archive}" && -f "${manifest}" && "${STOREFLEET_IMAGES_REBUILD:-}" != 1 ]]; then
        log "${NAME}: up to date (${ref})"
    else
        local start=${SECONDS}
        log "${NAME}: building ${ref}"
        WORK="$(mktemp -d "${CACHE}/work.XXXXXX")"
        trap 'rm -rf "${WORK}"' EXIT
        local rootfs="${WORK}/rootfs"
        : >"${WORK}/packages"
        case "${IMAGE_BASE}" in
            debian)
                # shellcheck disable=SC2086  # a list of package names
                if ! debian_rootfs "${rootfs}" ${IMAGE_PACKAGES}; then
                    # A mirror hiccup should not fail a CI run: once more, verbosely.
                    log "${NAME}: mmdebstrap failed; trying once more"
                    rm -rf "${rootfs}" && : >"${WORK}/packages"
                    STOREFLEET_IMAGES_VERBOSE=1 debian_rootfs "${rootfs}" ${IMAGE_PACKAGES}
                fi ;;
            debs)
                # shellcheck disable=SC2086  # a list of package names
                debs_rootfs "${rootfs}" ${IMAGE_PACKAGES}
                image_customize "${rootfs}" ;;
            *) die "${NAME}: IMAGE_BASE must be debian or debs" ;;
        esac

        local ctr
        ctr="$(buildah_ from --quiet scratch)"
        # One layer: the whole root filesystem, owners and modes as made.
        buildah_ add --quiet "${ctr}" "${rootfs}" / >/dev/null
        buildah_ config --label "org.opencontainers.image.title=storefleet-${NAME}" \
            --label "org.opencontainers.image.source=images/${NAME}" \
            --label "io.storefleet.inputs=${tag}" \
            --os linux --arch amd64 "${IMAGE_CONFIG[@]}" "${ctr}"
        mkdir -p "${CACHE}/${NAME}"
        rm -f "${archive}.partial"
        buildah_ commit --quiet --rm --format oci --timestamp "${IMAGE_EPOCH}" "${ctr}" "oci-archive:${archive}.partial:${ref}" >/dev/null
        {
            echo "# storefleet/${NAME}:${tag} — built $(date -u +%Y-%m-%dT%H:%M:%SZ) by images/build.sh"
            echo "# base: ${IMAGE_BASE} ${SUITE} from ${MIRROR}"
            echo "## inputs"
            sed 's/^/  /' <<<"${inputs}"
            if declare -F image_manifest >/dev/null; then
                echo "## contents"
                image_manifest | sed 's/^/  /'
            fi
            echo "## Debian packages ($(wc -l <"${WORK}/packages"))"
            LC_ALL=C sort "${WORK}/packages" | sed 's/^/  /'
            echo "## image"
            echo "  archive sha256 $(sha256sum "${archive}.partial" | cut -d' ' -f1)"
            echo "  size $(du -h "${archive}.partial" | cut -f1)"
        } >"${manifest}"
        mv -f "${archive}.partial" "${archive}"
        rm -rf "${WORK}"
        trap - EXIT
        # Older builds of this image are superseded; keep only the last three.
        find "${CACHE}/${NAME}" -maxdepth 1 -name '*.oci.tar' -printf '%T@ %p\n' | sort -rn | tail -n +4 |
            cut -d' ' -f2- | while read -r old; do rm -f "${old}" "${old%.oci.tar}.manifest"; done
        log "${NAME}: built in $((SECONDS - start)) s ($(du -h "${archive}" | cut -f1))"
    fi
    cp -f "${manifest}" "${OUT}/${NAME}.manifest"
    printf '%s %s %s\n' "${NAME}" "${TEST_REGISTRY}/storefleet/${NAME}:${tag}" "${archive}" >"${OUT}/.index.${NAME}"
}

