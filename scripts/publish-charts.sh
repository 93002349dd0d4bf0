#!/usr/bin/env bash
# Publishes charts/storefleet and charts/woocommerce-store as OCI artifacts
# (`helm package` + `helm push`), so that a cluster installs them as
#   helm install store oci://<registry>/charts/woocommerce-store --version <v>
#
#   scripts/publish-charts.sh                    the test registry (oci://127.0.0.1:15000/charts,
#                                                plain HTTP); started for it when down and
#                                                stopped again; a chart whose files did not
#                                                change since its last push is not pushed again
#   scripts/publish-charts.sh --registry R [--version V]
#                                                oci://R/charts, at the charts' own versions
#                                                or at V (a tag v1.2.3 gives 1.2.3);
#                                                credentials from `helm registry login`
# helm is the test environment's (make k8s-testenv), or the one on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTENV_DIR="${ROOT}/tools/k8s-testenv"
# shellcheck source=../tools/k8s-testenv/lib.sh
source "${TESTENV_DIR}/lib.sh"
log() { printf '[charts] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
CHARTS=(woocommerce-store storefleet)

registry="" version=""
while (($#)); do
    case "$1" in
        --registry) registry="${2:?--registry needs a value}"; shift 2 ;;
        --version) version="${2:?--version needs a value}"; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
helm="${K8S_BIN}/helm"
[[ -x "${helm}" ]] || helm="$(command -v helm)" || die "no helm: run make k8s-testenv"
version="${version#v}"
[[ -z "${version}" || "${version}" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
    die "CHART_VERSION=${version} is not a semantic version"

work="$(mktemp -d)"
started_here=false
finish() {
    rm -rf "${work}"
    if ${started_here}; then "${TESTENV_DIR}/registry.sh" stop; fi
}
trap finish EXIT

if [[ -n "${registry}" ]]; then
    registry="${registry%/}"
    for chart in "${CHARTS[@]}"; do
        "${helm}" package "${ROOT}/charts/${chart}" --destination "${work}" \
            ${version:+--version "${version}" --app-version "${version}"} >/dev/null
        "${helm}" push "${work}/${chart}-"*.tgz "oci://${registry}/charts" 2>&1 | sed 's/^/  /' >&2
        log "${chart}: pushed to oci://${registry}/charts/${chart}"
    done
    exit 0
fi

[[ -z "${version}" ]] || die "--version is for an operator's registry (--registry)"
if ! registry_pid >/dev/null; then
    if registry_answers; then
        log "the registry on ${TEST_REGISTRY} is another checkout's; not publishing (k8s-up does)"
        exit 0
    fi
    "${TESTENV_DIR}/registry.sh" start
    started_here=true
fi
# What was pushed last: "<chart> <sha256 of its files> <manifest digest>".
stamps="${REGISTRY_DIR}/run/charts"
touch "${stamps}"
MEDIA=application/vnd.oci.image.manifest.v1+json
for chart in "${CHARTS[@]}"; do
    dir="${ROOT}/charts/${chart}"
    files="$(cd "${dir}" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)"
    chart_version="$(awk '$1 == "version:" {print $2; exit}' "${dir}/Chart.yaml")"
    digest="$(curl -fsS --max-time 10 -I -H "Accept: ${MEDIA}" \
        "http://${TEST_REGISTRY}/v2/charts/${chart}/manifests/${chart_version}" 2>/dev/null |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}' || true)"
    if [[ -n "${digest}" ]] && grep -qxF "${chart} ${files} ${digest}" "${stamps}"; then
        continue
    fi
    "${helm}" package "${dir}" --destination "${work}" >/dev/null
    out="$("${helm}" push "${work}/${chart}-${chart_version}.tgz" "oci://${TEST_REGISTRY}/charts" --plain-http 2>&1)" ||
        die "helm push ${chart}: ${out}"
    new="$(awk '$1 == "Digest:" {print $2}' <<<"${out}")"
    [[ -n "${new}" ]] || die "helm push ${chart} printed no digest: ${out}"
    # The previous push of this version is untagged now: collected at the next start.
    [[ -z "${digest}" || "${digest}" == "${new}" ]] || touch "${REGISTRY_DIR}/run/collect"
    { grep -v "^${chart} " "${stamps}" || true; echo "${chart} ${files} ${new}"; } >"${stamps}.new"
    mv -f "${stamps}.new" "${stamps}"
    log "${chart} ${chart_version}: pushed to oci://${TEST_REGISTRY}/charts/${chart} (${new})"
done
