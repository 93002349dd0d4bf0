"""The Kubernetes store driver (a Helm release per store)."""

from __future__ import annotations

from collections.abc import Sequence

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, Step, StoreDriver


class KubernetesDriver(StoreDriver):
    """Not built yet: see the Kubernetes driver issue."""

    name = "kubernetes"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self) -> None:
        raise PermanentError(
            "the kubernetes driver is not available yet; use STOREFLEET_DRIVER=local"
        )

    def provision_steps(self) -> Sequence[Step]:
        return ()

    def delete_steps(self) -> Sequence[Step]:
        return ()
