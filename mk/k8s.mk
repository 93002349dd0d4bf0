# Kubernetes test environment: a real control plane built from the Go module
# proxy, one real node (containerd, images from `make images`) and
# kwok-simulated nodes for scale tests (docs/k8s-testenv.md). Included from the
# top-level Makefile; every path is anchored at the repository root so the
# targets work whatever the current directory of the including make is.

K8S_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
K8S_TESTENV := $(K8S_ROOT)/tools/k8s-testenv
K8S_PYTEST_ARGS ?=

.PHONY: k8s-testenv k8s-up k8s-down test-k8s

## k8s-testenv: build kube-apiserver & co, kubelet, kube-proxy, the node add-ons, etcd, kwok and helm into ~/.cache (once)
k8s-testenv:
	$(K8S_TESTENV)/build.sh

## k8s-up: start the k8s test environment in the background (var/k8s/kubeconfig)
k8s-up: k8s-testenv images
	$(K8S_TESTENV)/up.sh

## k8s-down: stop the k8s test environment and remove its state (binaries stay cached)
k8s-down:
	$(K8S_TESTENV)/down.sh

## test-k8s: build the k8s test environment and the images when Go is present, then run tests/k8s
# (Chromium and playwright-core too: the suite orders from real stores in a browser)
# Under CI=true a failed build or a missing binary fails the run instead of skipping.
test-k8s: venv services frontend frontend-browser
	@if [ -n "$${STOREFLEET_TEST_KUBECONFIG:-}" ]; then \
		echo "test-k8s: using the cluster of STOREFLEET_TEST_KUBECONFIG=$${STOREFLEET_TEST_KUBECONFIG}"; \
	elif command -v go >/dev/null 2>&1; then \
		{ $(K8S_TESTENV)/build.sh && $(MAKE) --no-print-directory -C $(K8S_ROOT) images; } || { \
			if [ "$${CI:-}" = true ]; then echo "test-k8s: build failed (CI=true)" >&2; exit 1; fi; \
			echo "test-k8s: build failed; the k8s tests will be skipped" >&2; }; \
	elif [ "$${CI:-}" = true ]; then \
		echo "test-k8s: go is not installed and STOREFLEET_TEST_KUBECONFIG is unset (CI=true)" >&2; exit 1; \
	else \
		echo "test-k8s: go is not installed; the k8s tests will be skipped" >&2; \
	fi
	cd $(K8S_ROOT) && .venv/bin/python -m pytest -rs tests/k8s $(K8S_PYTEST_ARGS)
