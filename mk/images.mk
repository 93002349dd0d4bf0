# Images built without a Docker engine (images/README.md): from Debian
# packages with mmdebstrap, assembled by buildah, loaded into the test node.
# Included from the top-level Makefile.

IMG_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

.PHONY: images

## images: build storefleet/{store,platform,mariadb,redis} + the node's pause/toolbox (no Docker engine); var/images.env
# The platform image holds the built dashboard and the helm/kubectl of the test
# environment's build; an image whose inputs did not change is not rebuilt.
images: frontend k8s-testenv
	$(IMG_ROOT)/images/build.sh
