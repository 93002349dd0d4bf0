# Deploy StoreFleet onto the cluster of the current kubectl context (Docker
# Desktop, kind, k3d) with charts/storefleet; see docs/deploy.md. Included
# from the top-level Makefile; paths are anchored at the repository root.
#   make deploy                      install or upgrade (images already loaded)
#   make deploy DEPLOY_ARGS=--build  build and load the images first
#   make undeploy                    remove the platform and its namespace
#   make undeploy PURGE=1            ... and every store namespace

DEPLOY_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
DEPLOY_ARGS ?=
PURGE ?=

.PHONY: deploy undeploy

## deploy: install or upgrade StoreFleet on the current kubectl context, print the URL and admin login
deploy:
	$(DEPLOY_ROOT)/deploy.sh $(DEPLOY_ARGS)

## undeploy: remove StoreFleet from the current kubectl context (PURGE=1: the stores too)
undeploy:
	$(DEPLOY_ROOT)/deploy.sh --uninstall $(if $(PURGE),--purge-stores) $(DEPLOY_ARGS)
