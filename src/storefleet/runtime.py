"""The long-lived parts one process shares: settings, database, queue, the
secret box. Built once per process (API or worker) and handed down."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from storefleet import releases
from storefleet.auth.throttle import LoginThrottle
from storefleet.config import Settings
from storefleet.crypto import SecretBox
from storefleet.db import Database
from storefleet.queue import TaskQueue


@dataclass
class Runtime:
    settings: Settings

    def __post_init__(self) -> None:
        if self.settings.release_pins is not None:
            releases.add_pins(self.settings.release_pins)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.effective_database_url)

    @cached_property
    def queue(self) -> TaskQueue:
        return TaskQueue(self.settings)

    @cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.settings.signing_key())

    @cached_property
    def throttle(self) -> LoginThrottle:
        return LoginThrottle(self.settings)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
