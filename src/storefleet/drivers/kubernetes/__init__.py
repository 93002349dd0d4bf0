"""The Kubernetes store driver: a namespace and a Helm release per store."""

from storefleet.drivers.kubernetes.driver import KubernetesDriver

__all__ = ["KubernetesDriver"]
