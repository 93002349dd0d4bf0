#!/usr/bin/env bash
# pebble (Let's Encrypt's test ACME server) and pebble-challtestsrv (its
# mock DNS server with a management API), built once from the Go module
# proxy at the version pinned in this directory's go.mod into
# ~/.cache/storefleet/pebble/<version>/; prints that directory.
# The custom-domain tests (tests/domains.py) run them on free loopback ports.
# Environment: STOREFLEET_TOOLS_CACHE (default ~/.cache/storefleet), GOCACHE, GOMODCACHE.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="$(sed -n 's/^\s*github.com\/letsencrypt\/pebble\/v2 \(v[^ ]*\).*/\1/p' "${HERE}/go.mod" | head -1)"
DIR="${STOREFLEET_TOOLS_CACHE:-${HOME}/.cache/storefleet}/pebble/${VERSION}"
if [[ ! -x "${DIR}/pebble" || ! -x "${DIR}/pebble-challtestsrv" || ! -s "${DIR}/pebble.minica.pem" ]]; then
    command -v go >/dev/null || { echo "pebble/build.sh: go is not installed (apt-get install golang)" >&2; exit 1; }
    start=${SECONDS}
    mkdir -p "${DIR}"
    cd "${HERE}"
    # go.sum pins every module, checked against the checksum database.
    for cmd in pebble pebble-challtestsrv; do
        GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
            go build -trimpath -ldflags="-s -w" -o "${DIR}/${cmd}.tmp" \
            "github.com/letsencrypt/pebble/v2/cmd/${cmd}"
        mv -f "${DIR}/${cmd}.tmp" "${DIR}/${cmd}"
    done
    # The test certificate of pebble's own HTTPS API (and the CA that signed
    # it), shipped in the module: clients trust the CA to reach the API.
    src="$(GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/letsencrypt/pebble/v2)"
    install -m 0644 "${src}/test/certs/localhost/cert.pem" "${DIR}/localhost.cert.pem"
    install -m 0600 "${src}/test/certs/localhost/key.pem" "${DIR}/localhost.key.pem"
    install -m 0644 "${src}/test/certs/pebble.minica.pem" "${DIR}/pebble.minica.pem"
    echo "pebble/build.sh: built pebble ${VERSION} in $((SECONDS - start)) s" >&2
fi
echo "${DIR}"
