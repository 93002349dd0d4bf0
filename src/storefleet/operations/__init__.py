"""Operations: every change to a store (provision, delete, backup, restore,
upgrade, suspend, resume) as a named list of recorded steps (``step_lists``)
run by one runner under the store's lease (``runner``, ``lease``); the
store's lifecycle and its one phase-changing function (``lifecycle``); and
the reconciler that makes sure no work is ever lost (``reconciler``)."""

from storefleet.operations.reconciler import Reconciler
from storefleet.operations.runner import StoreOperator, snapshot_of

__all__ = ["Reconciler", "StoreOperator", "snapshot_of"]
