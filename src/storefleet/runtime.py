"""The long-lived parts one process shares: settings, database, queue, the
secret box, the counters of the throttle and the rate limit, and the bound on
password checks. Built once per process (API or worker) and handed down."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from functools import cached_property

from limits.storage import Storage, storage_from_string
from redis.exceptions import RedisError

from storefleet import releases
from storefleet.auth.passwords import PasswordChecks, concurrency_for
from storefleet.auth.throttle import LoginThrottle
from storefleet.config import Settings
from storefleet.crypto import SecretBox
from storefleet.db import Database
from storefleet.queue import TaskQueue

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings

    def __post_init__(self) -> None:
        if self.settings.release_pins is not None:
            releases.add_pins(self.settings.release_pins)

    @cached_property
    def db(self) -> Database:
        # A transaction that records webhook deliveries wakes the sender once
        # it has committed (webhooks/events.py).
        return Database(
            self.settings.effective_database_url,
            info={"storefleet.wake_webhooks": self._wake_webhooks},
        )

    def _wake_webhooks(self) -> None:
        try:
            self.queue.wake_webhooks()
        except (RedisError, OSError, sqlite3.Error):
            # The reconciler's sweep sends them anyway, a few seconds later.
            log.warning("could not wake the webhook sender", exc_info=True)

    @cached_property
    def queue(self) -> TaskQueue:
        return TaskQueue(self.settings)

    @cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.settings.signing_key())

    @cached_property
    def limits_storage(self) -> Storage:
        """Where the throttle and the rate limit count: this process's memory,
        or Redis, so that every API replica sees the same counts."""
        storage = storage_from_string(self.settings.redis_url or "memory://")
        if not isinstance(storage, Storage):
            raise TypeError(f"{type(storage).__name__} is not a synchronous limits storage")
        return storage

    @cached_property
    def throttle(self) -> LoginThrottle:
        return LoginThrottle(self.settings, self.limits_storage)

    @cached_property
    def passwords(self) -> PasswordChecks:
        s = self.settings
        return PasswordChecks(
            concurrency_for(s.password_check_memory_mib), s.password_check_wait_seconds
        )

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
