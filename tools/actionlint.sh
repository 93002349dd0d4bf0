#!/usr/bin/env bash
# actionlint, the linter of GitHub Actions workflows, built once from the Go
# module proxy at a pinned version into ~/.cache/storefleet/actionlint, then
# run on .github/workflows (or on the files given).
#   tools/actionlint.sh [FILE...]    lint; exit 1 when it finds anything
#   tools/actionlint.sh --build      only build it (prints the binary's path)
# Environment: STOREFLEET_TOOLS_CACHE (default ~/.cache/storefleet), GOCACHE, GOMODCACHE.
set -euo pipefail
VERSION=v1.7.12
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${STOREFLEET_TOOLS_CACHE:-${HOME}/.cache/storefleet}/actionlint/${VERSION}"
BIN="${BIN_DIR}/actionlint"

if [[ ! -x "${BIN}" ]]; then
    command -v go >/dev/null || { echo "actionlint.sh: go is not installed (apt-get install golang)" >&2; exit 1; }
    start=${SECONDS}
    mkdir -p "${BIN_DIR}"
    # Its own go.sum pins its dependencies, checked against the checksum database.
    GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="${BIN_DIR}" GOFLAGS=-trimpath \
        go install -ldflags="-s -w" \
        "github.com/rhysd/actionlint/cmd/actionlint@${VERSION}"
    echo "actionlint.sh: built actionlint ${VERSION} in $((SECONDS - start)) s" >&2
fi
if [[ "${1:-}" == "--build" ]]; then
    echo "${BIN}"
    exit 0
fi
cd "${ROOT}"
# shellcheck and pyflakes checks of run: blocks need those tools; this
# machine has neither, so they are off rather than silently skipped.
exec "${BIN}" -shellcheck= -pyflakes= "$@"
