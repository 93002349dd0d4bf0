"""The contract between the step runner and a store driver.

A driver turns a store into running software as an ordered list of named,
idempotent steps for each operation: provision, delete, and the day-2
operations (backup, restore, upgrade, suspend, resume). The runner records
each step, retries transient errors with backoff until the step's deadline, and
skips steps that already succeeded; a driver never keeps state between steps in
memory: what a later step needs is recorded on the store (``ctx.record``), in
the operation's result (``StepOutcome.facts``), in the operation's scratch
directory (``ctx.workdir``) or where the store lives (a secret file, a
Kubernetes Secret).

A driver's half of a day-2 operation is a set of step functions; the platform's
half (storing a backup in its target, fetching one back, the checkout test's
order) is composed around them by ``storefleet.operations.operations``.
"""

from __future__ import annotations

import datetime as dt
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storefleet.drivers.logs import LogPage, LogQuery


class StepError(Exception):
    """A step failed; ``reason`` is what a person can act on."""


class TransientError(StepError):
    """Worth retrying: a server not up yet, a port taken, a timeout."""


class PermanentError(StepError):
    """Retrying will not help until something changes (bad input, missing file)."""


class NotSupported(PermanentError):
    """The driver cannot do this operation (yet)."""


class StopRequested(Exception):
    """The operation should stop now (the store is being deleted, or the lease
    was lost); the step leaves things in a state a re-run can continue from."""


@dataclass(frozen=True)
class DomainSnapshot:
    """A custom domain of a store, as the driver needs it."""

    name: str
    #: The store's address moves to it once it is active.
    primary: bool = False
    #: Proven the merchant's and not being removed: routed to the store.
    routed: bool = True
    #: The platform holds a valid certificate for it: served over TLS.
    active: bool = False


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
    #: What the store may use (storefleet.plans).
    plan: str = "small"
    #: A standby of the warm pool: kept serving, but nobody's store yet
    #: (no wp-cron: nothing of its waiting may show in the store it becomes).
    standby: bool = False
    #: Its custom domains that are routed (or being removed), read fresh for each step.
    domains: tuple[DomainSnapshot, ...] = ()

    @property
    def primary_domain(self) -> DomainSnapshot | None:
        """The domain the store's address is on, when it is active."""
        return next((d for d in self.domains if d.primary and d.routed and d.active), None)


@dataclass(frozen=True)
class OperationInfo:
    """The operation a step belongs to: its id, kind and parameters (never
    secrets), and the facts earlier steps reported."""

    id: int
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    result: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class StepOutcome:
    message: str | None = None
    skipped: bool = False
    #: Facts for later steps and for the platform (merged into the
    #: operation's result when the step succeeds). Never secrets.
    facts: dict[str, Any] = field(default_factory=dict)


class StepContext(ABC):
    """What a running step can see and do."""

    def __init__(
        self,
        store: StoreSnapshot,
        deadline: float,
        operation: OperationInfo | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.store = store
        self.deadline = deadline  # time.monotonic() value
        self.operation = operation or OperationInfo(0, "provision")
        self._workdir = workdir

    @property
    def workdir(self) -> Path:
        """The operation's scratch directory (private to the platform; kept
        across steps and retries, removed when the operation ends)."""
        if self._workdir is None:
            raise PermanentError("this operation has no scratch directory")
        return self._workdir

    def remaining(self) -> float:
        """Seconds left before the step's deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    @abstractmethod
    def admin_password(self) -> str:
        """The merchant's chosen admin password (decrypted on demand)."""

    @abstractmethod
    def record(self, **fields: object) -> None:
        """Persist observed facts on the store now (``url``, ``admin_url``,
        ``port``, ``wordpress_version``, ``woocommerce_version``)."""

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
    #: Writes files into ctx.workdir that later steps read.
    writes_scratch: bool = False
    #: Reads what an earlier step wrote into ctx.workdir.
    reads_scratch: bool = False


@dataclass
class SupervisionReport:
    restarted: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    #: Stores whose serving must be set up again (a ``resize`` to their own
    #: plan), with why: e.g. stores a previous release served otherwise.
    reconfigure: dict[int, str] = field(default_factory=dict)


def _unsupported(driver: str, what: str) -> Callable[[StepContext], StepOutcome | None]:
    def run(ctx: StepContext) -> StepOutcome | None:
        raise NotSupported(f"the {driver} driver cannot {what} yet")

    return run


class StoreDriver(ABC):
    """Where stores run. Day-2 step lists default to one step that says the
    driver cannot do it, so that an operation fails with that reason instead
    of pretending."""

    name: str
    #: The API cannot read this driver's stores' logs itself: a worker reads
    #: them when asked (operations/log_reader.py).
    logs_through_worker: bool = False

    @abstractmethod
    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        """Provisioning; ``clone``: from a backup (the operation's ``fetch``
        step has unpacked it into ``ctx.workdir``) instead of a fresh install."""

    @abstractmethod
    def delete_steps(self) -> Sequence[Step]: ...

    def backup_steps(self) -> Sequence[Step]:
        """Write ``database.jsonl.gz`` and ``wp-content.tar.gz`` into
        ``ctx.workdir``, each step reporting its file's facts (see
        storefleet.backups.archive.BackupParts)."""
        return (Step("database", _unsupported(self.name, "back up stores")),)

    def restore_steps(self) -> Sequence[Step]:
        """Put the backup unpacked in ``ctx.workdir`` back into the store
        (keeping the store's own database marker, URL and secrets) and bring
        it up at the backup's releases."""
        return (Step("database", _unsupported(self.name, "restore stores")),)

    def upgrade_steps(self) -> Sequence[Step]:
        """New release files (``params`` wordpress, woocommerce) and the
        database upgrades; the store is serving again at the end."""
        return (Step("files", _unsupported(self.name, "upgrade stores")),)

    def checkout_product(self, ctx: StepContext) -> int:
        """The id of a product the checkout test may order: hidden from the
        shop, virtual, made when missing. Orders of it touch no stock."""
        raise NotSupported(f"the {self.name} driver cannot run the checkout test yet")

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        """Read order ``order_id`` as the store's admin (server-side, so the
        platform needs no admin password), then delete it. Returns the order's
        status, payment method and total."""
        raise NotSupported(f"the {self.name} driver cannot confirm orders yet")

    #: Whether the driver has ``adopt_steps`` (the warm pool needs them).
    can_adopt: bool = False

    def adopt_steps(self) -> Sequence[Step]:
        """A ready standby store of the warm pool becomes a new store (the
        row already has its name, owner, admin email, plan and sample
        products choice; the admin password is the merchant's): its
        address, title, admin and secrets are the new store's and nothing
        of its standby life remains; verified as provisioning verifies."""
        return (Step("adopt", _unsupported(self.name, "adopt standby stores")),)

    def resize_steps(self) -> Sequence[Step]:
        """The store's serving set up again for its plan (``ctx.store.plan``,
        recorded before the operation starts), gracefully."""
        return (Step("server", _unsupported(self.name, "resize stores")),)

    def stage_step(self) -> Step:
        """Make a clone of a live store (``params['live']``) a staging copy."""
        return Step("stage", _unsupported(self.name, "make staging copies"))

    def push_steps(self, *, files: bool, database: bool) -> Sequence[Step]:
        """Put the staging copy named in ``params['staging']`` (its files,
        its database or both) into this store, which keeps what arrived on it
        meanwhile (orders, customers …), and serve it again. The platform
        backs the store up before these steps and restores it if they fail."""
        return (Step("push", _unsupported(self.name, "push staging copies to live")),)

    def suspend_steps(self) -> Sequence[Step]:
        return (Step("server", _unsupported(self.name, "suspend stores")),)

    def domain_steps(self, certificates: Step) -> Sequence[Step]:
        """The store's custom domains converged (``ctx.store.domains``):
        routed for HTTP (the ACME challenge), then ``certificates`` (the
        platform's: obtains or renews them through :meth:`publish_challenge`
        and :meth:`install_certificate`), the store's address on its active
        primary domain (or back on its own), TLS for the active domains and
        the old address redirecting, verified."""
        return (Step("route", _unsupported(self.name, "serve custom domains")),)

    def publish_challenge(
        self, ctx: StepContext, domain: str, token: str, key_authorization: str
    ) -> None:
        """Answer ``http://<domain>/.well-known/acme-challenge/<token>`` with
        ``key_authorization``; return once it does (checked from here)."""
        raise NotSupported(f"the {self.name} driver cannot serve ACME challenges yet")

    def withdraw_challenge(self, ctx: StepContext, domain: str, token: str) -> None:
        """Stop answering a challenge (nothing to do when it is not there)."""
        return None

    def install_certificate(
        self, ctx: StepContext, domain: str, fullchain_pem: bytes, key_pem: bytes
    ) -> None:
        """Keep ``domain``'s certificate (and its private key) where the
        store's web server reads it; served from the next ``serve`` step."""
        raise NotSupported(f"the {self.name} driver cannot keep certificates yet")

    def certificate_expiry(self, store: StoreSnapshot, domain: str) -> dt.datetime | None:
        """When the certificate the driver holds for ``domain`` expires (None: it holds none)."""
        return None

    def resume_steps(self) -> Sequence[Step]:
        return (Step("server", _unsupported(self.name, "resume stores")),)

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        """The health check after ready: return what answered; raise
        StepError with the reason when the store does not answer as itself."""
        raise NotSupported(f"the {self.name} driver cannot check stores' health yet")

    def read_logs(self, store: StoreSnapshot, query: LogQuery) -> LogPage:
        """The store's log lines, newest first and redacted (drivers/logs.py).
        A worker calls this for the API when ``logs_through_worker``."""
        raise NotSupported(f"the {self.name} driver cannot read stores' logs")

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        """Bring back what should be running (the reconciler calls this)."""
        return SupervisionReport()

    def supervise_suspended(self, suspended: Sequence[StoreSnapshot]) -> SupervisionReport:
        """Keep suspended stores' "unavailable" answer up."""
        return SupervisionReport()

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        """Stop every store this machine runs (``storefleet up`` on exit)."""
        return None

    def check(self) -> None:
        """Raise with a clear message when the driver cannot work at all
        (a missing binary, an unreachable server); called at start-up."""
        return None
