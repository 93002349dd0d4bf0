# Images built without a Docker engine (images/README.md): from Debian
# packages with mmdebstrap, assembled by buildah, pushed to the test registry
# (tools/k8s-testenv/registry.sh), from which the test node pulls them.
# Included from the top-level Makefile.
#   make images                                        build, push to the test registry
#   make images REGISTRY=ghcr.io/acme [IMAGE_TAG=v1.2.3]  ... and the product images to yours
#   make charts [REGISTRY=ghcr.io/acme CHART_VERSION=1.2.3]  the charts as OCI artifacts

IMG_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
REGISTRY ?=
IMAGE_TAG ?=
CHART_VERSION ?=

.PHONY: images charts

## images: build storefleet/{store,platform,mariadb,redis} + the node's pause/toolbox/coredns/traefik and push them to the test registry (REGISTRY=host/path: the product images to yours)
# The platform image holds the built dashboard and the helm/kubectl of the test
# environment's build; an image whose inputs did not change is not rebuilt,
# and one whose tag the registry has is not pushed again.
images: frontend k8s-testenv
	REGISTRY="$(REGISTRY)" IMAGE_TAG="$(IMAGE_TAG)" $(IMG_ROOT)/images/build.sh

## charts: publish charts/storefleet and charts/woocommerce-store as OCI artifacts to the test registry (REGISTRY=host/path: to yours)
charts: k8s-testenv
	$(IMG_ROOT)/scripts/publish-charts.sh $(if $(REGISTRY),--registry "$(REGISTRY)") $(if $(CHART_VERSION),--version "$(CHART_VERSION)")
