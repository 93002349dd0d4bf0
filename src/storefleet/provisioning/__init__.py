"""Provisioning: the step runner that operates on one store at a time under a
lease, and the reconciler that makes sure no work is ever lost."""

from storefleet.provisioning.reconciler import Reconciler
from storefleet.provisioning.runner import StoreOperator, snapshot_of

__all__ = ["Reconciler", "StoreOperator", "snapshot_of"]
