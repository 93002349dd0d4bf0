"""The queue task that hands a store id to the step runner."""

from __future__ import annotations

from storefleet.operations import StoreOperator
from storefleet.queue import TaskQueue


def bind(queue: TaskQueue, operator: StoreOperator) -> None:
    """Make this process's queue run ``operate_store`` with ``operator``.

    The task takes an id, not an object: the runner loads the store, decides
    what it needs (if anything) and does it under the store's lease."""
    queue.bind(operator.operate)
