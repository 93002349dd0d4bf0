"""The contract between the step runner and a store driver.

A driver turns a store into running software as an ordered list of named,
idempotent steps for each operation (provision, delete). The runner records
each step, retries transient errors with backoff until the step's deadline, and
skips steps that already succeeded; a driver never keeps state between steps in
memory: what a later step needs is recorded on the store (``ctx.record``) or
kept where the store lives (a secret file, a Kubernetes Secret).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


class StepError(Exception):
    """A step failed; ``reason`` is what a person can act on."""


class TransientError(StepError):
    """Worth retrying: a server not up yet, a port taken, a timeout."""


class PermanentError(StepError):
    """Retrying will not help until something changes (bad input, missing file)."""


class StopRequested(Exception):
    """The operation should stop now (the store is being deleted, or the lease
    was lost); the step leaves things in a state a re-run can continue from."""


@dataclass(frozen=True)
class StoreSnapshot:
    """What a driver may know of a store. No secrets here."""

    id: int
    name: str
    admin_email: str
    #: Names everything the store owns outside the platform DB (see Store.uid).
    uid: str
    url: str | None = None
    port: int | None = None
    sample_products: bool = True
    wordpress_version: str | None = None
    woocommerce_version: str | None = None


@dataclass
class StepOutcome:
    message: str | None = None
    skipped: bool = False


class StepContext(ABC):
    """What a running step can see and do."""

    def __init__(self, store: StoreSnapshot, deadline: float) -> None:
        self.store = store
        self.deadline = deadline  # time.monotonic() value

    def remaining(self) -> float:
        """Seconds left before the step's deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    @abstractmethod
    def admin_password(self) -> str:
        """The merchant's chosen admin password (decrypted on demand)."""

    @abstractmethod
    def record(self, **fields: object) -> None:
        """Persist observed facts on the store now (``url``, ``admin_url``, ``port``)."""

    @abstractmethod
    def event(self, message: str, level: str = "info") -> None:
        """Add a line to the store's timeline."""

    @abstractmethod
    def should_stop(self) -> bool:
        """True when the operation must stop (deletion requested, lease lost)."""

    def check_stop(self) -> None:
        if self.should_stop():
            raise StopRequested


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[StepContext], StepOutcome | None]
    #: Set on the step after whose success the admin password is wiped.
    consumes_admin_password: bool = False


@dataclass
class SupervisionReport:
    restarted: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


class StoreDriver(ABC):
    name: str

    @abstractmethod
    def provision_steps(self) -> Sequence[Step]: ...

    @abstractmethod
    def delete_steps(self) -> Sequence[Step]: ...

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        """Bring back what should be running (the reconciler calls this)."""
        return SupervisionReport()

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        """Stop every store this machine runs (``storefleet up`` on exit)."""
        return None

    def check(self) -> None:
        """Raise with a clear message when the driver cannot work at all
        (a missing binary, an unreachable server); called at start-up."""
        return None
