"""The local store driver (PHP processes on this machine)."""

from storefleet.drivers.local.driver import LocalDriver

__all__ = ["LocalDriver"]
