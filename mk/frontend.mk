# The React dashboard in frontend/ (docs/dashboard.md). Included from the
# top-level Makefile; every path is anchored at the repository root so the
# targets work whatever the current directory of the including make is.
#
#   frontend         npm ci (when the lock file changed) and build frontend/dist
#                    (when a source changed); cheap when up to date
#   frontend-test    component tests, bundle budget, client-is-current check and
#                    the browser end-to-end suite against the real platform
#   frontend-client  regenerate src/client from `storefleet openapi`

FE_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
FE := $(FE_ROOT)/frontend
FE_NPM := cd $(FE) && npm
FE_SOURCES := $(shell find $(FE)/src -type f 2>/dev/null) $(wildcard $(FE)/index.html $(FE)/vite.config.ts $(FE)/tsconfig.json)
FE_CHROMIUM ?= /usr/bin/chromium

.PHONY: frontend frontend-test frontend-client frontend-browser

## frontend: install the dashboard's packages and build frontend/dist
frontend: $(FE)/dist/index.html

$(FE)/node_modules/.installed: $(FE)/package.json $(FE)/package-lock.json
	$(FE_NPM) ci --no-audit --no-fund
	@touch $@

$(FE)/dist/index.html: $(FE)/node_modules/.installed $(FE_SOURCES)
	$(FE_NPM) run build
	@touch $@

## frontend-client: regenerate the typed API client from the OpenAPI document
frontend-client: venv $(FE)/node_modules/.installed
	$(FE_NPM) run client

## frontend-browser: Debian's Chromium for the end-to-end suite (no browser downloads)
frontend-browser:
	@if [ ! -x $(FE_CHROMIUM) ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> installing chromium (apt)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || { \
			$$SUDO apt-get update -q >/dev/null && \
			$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
			echo "frontend-browser: could not install chromium" >&2; \
	fi

## frontend-test: component tests, bundle budget, client check, browser end-to-end
frontend-test: venv services frontend frontend-browser
	$(FE_NPM) run test:unit
	$(FE_NPM) run size
	$(FE_NPM) run client:check
	$(FE_NPM) run test:e2e
