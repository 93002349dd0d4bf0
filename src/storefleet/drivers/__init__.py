"""Store drivers: they turn a store into running software."""

from __future__ import annotations

from storefleet.config import DriverName, Settings
from storefleet.drivers.base import StoreDriver


def make_driver(settings: Settings) -> StoreDriver:
    if settings.driver is DriverName.local:
        from storefleet.drivers.local import LocalDriver

        return LocalDriver(settings)
    from storefleet.drivers.kubernetes import KubernetesDriver

    return KubernetesDriver(settings)
