"""The job queue: huey, with its SQLite backend embedded (no server to run)
or its Redis backend when ``STOREFLEET_REDIS_URL`` is set.

A message only says "look at store X now" (the store id, never a secret); the
database is the source of truth and the reconciler re-enqueues anything a lost
message would have left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from storefleet.config import Settings

log = logging.getLogger(__name__)

QUEUE_NAME = "storefleet"
OPERATE_STORE = "storefleet.operate_store"
DELIVER_WEBHOOKS = "storefleet.deliver_webhooks"


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False)
    settings.ensure_data_dir()
    return SqliteHuey(QUEUE_NAME, filename=str(settings.queue_path), results=False)


class TaskQueue:
    """The platform's one queue and its tasks: ``operate_store(store_id)``,
    and ``deliver_webhooks()`` (send the webhook deliveries that are due;
    the message carries nothing, the outbox is in the database).

    The tasks' bodies are bound by the worker (:meth:`bind`); the API only enqueues.
    """

    def __init__(self, settings: Settings) -> None:
        self.huey = make_huey(settings)
        self._handler: Callable[[int], None] | None = None
        self._deliverer: Callable[[], object] | None = None
        self._task: TaskWrapper = self.huey.task(name=OPERATE_STORE)(self._run)
        self._webhooks: TaskWrapper = self.huey.task(name=DELIVER_WEBHOOKS)(self._deliver)

    def bind(self, handler: Callable[[int], None]) -> None:
        self._handler = handler

    def bind_webhooks(self, deliverer: Callable[[], object]) -> None:
        self._deliverer = deliverer

    def _deliver(self) -> None:
        if self._deliverer is None:
            raise RuntimeError("no handler bound: only a worker runs tasks")
        self._deliverer()

    def wake_webhooks(self, delay: float | None = None) -> None:
        """Ask a worker to send the webhook deliveries that are due (now, or
        after ``delay`` seconds)."""
        if delay:
            self._webhooks.schedule(delay=delay)
        else:
            self._webhooks()

    def _run(self, store_id: int) -> None:
        if self._handler is None:
            raise RuntimeError("no handler bound: only a worker runs tasks")
        self._handler(store_id)

    def enqueue_store(self, store_id: int) -> None:
        self._task(store_id)

    def pending_count(self) -> int:
        return int(self.huey.pending_count())

    def ping(self) -> None:
        """Raise if the queue's storage cannot be reached."""
        self.huey.pending_count()

    def raw_messages(self) -> list[Any]:
        """Every message now on the queue (for tests that look for secrets)."""
        return list(self.huey.storage.enqueued_items())
