# StoreFleet — the two commands a newcomer needs:
#   make up     run the platform (SQLite, embedded queue, local driver) on :8000
#   make test   install what the tests need, start their services, run every suite
# See DEVELOPERS.md for the rest.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

# WordPress and WooCommerce come from their official download locations, or
# from a mirror (STOREFLEET_ARTIFACTS). Machines without the internet keep the
# releases in ../shared/vendor (see its README): when it sits beside the
# checkout, `make up` and `make test` use it. Either way they are verified
# against the digests pinned in src/storefleet/releases/pins.json.
# (Also two levels up: a git worktree one directory deeper.)
VENDOR := $(patsubst %/SHA256SUMS,%,$(firstword $(wildcard \
	$(abspath $(CURDIR)/../shared/vendor)/SHA256SUMS $(abspath $(CURDIR)/../../shared/vendor)/SHA256SUMS)))
ifneq ($(VENDOR),)
export STOREFLEET_ARTIFACTS ?= $(VENDOR)
endif

.PHONY: up test lint lock test-python venv services bench clean help

help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## //'

## up: install what is missing, then run API + worker + reconciler on http://localhost:8000
# STOREFLEET_DRIVER=kubernetes: stores go to the test cluster of `make k8s-up`
# (scripts/k8s-platform.sh prepares it and writes var/k8s/storefleet.env).
up: venv frontend
ifeq ($(STOREFLEET_DRIVER),kubernetes)
	scripts/k8s-platform.sh
	set -a && . var/k8s/storefleet.env && set +a && exec $(VENV)/bin/storefleet up
else
	scripts/services.sh mariadb php
	$(VENV)/bin/storefleet up
endif

## test: lint and type checks, then every test suite against real services
test: venv services frontend lint test-python test-k8s frontend-test

## venv: the Python virtual environment, installed from the pinned constraints
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check 'uv==0.13.9'
	$(VENV)/bin/uv pip install -q --python $(PY) -c constraints.txt -e '.[dev]'
	@touch $@

## lock: re-pin the Python dependencies after changing pyproject.toml
lock: venv
	$(VENV)/bin/uv pip compile -q --python $(PY) pyproject.toml --extra dev -o constraints.txt

## services: install and start MariaDB, Redis, PostgreSQL and PHP on loopback
services:
	scripts/services.sh

## lint: ruff, mypy and the import-layer contracts over src/
lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports

## test-python: unit, integration and end-to-end suites (tests/k8s runs in test-k8s)
test-python: venv services frontend-browser
	$(PY) -m pytest tests --ignore=tests/k8s $(PYTEST_ARGS)

## bench: provisioning benchmarks (bench/README.md)
bench: venv services
	$(PY) bench/provision.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

include mk/k8s.mk
include mk/images.mk
include mk/frontend.mk
include mk/deploy.mk
