"""Stores, their operations, recorded steps and event timeline.

A store row holds what the user wants (``desired``) and what is observed
(``phase``). Everything done to a store — provision, delete, backup, restore,
upgrade, suspend, resume — is a :class:`StoreOperation`: a named list of
recorded steps run by the one step runner under the store's lease. The lease
columns make sure that at most one worker operates on a store at a time.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storefleet.auth.models import User
from storefleet.db import Base, UTCDateTime, utcnow
from storefleet.fleet import models as _fleet  # noqa: F401  (store_operations refers to it)
from storefleet.names import new_store_uid


class Desired(StrEnum):
    present = "present"
    absent = "absent"


class Phase(StrEnum):
    pending = "pending"
    provisioning = "provisioning"
    ready = "ready"
    #: Ready, but repeated health checks failed; back to ready by itself.
    degraded = "degraded"
    #: Stopped on purpose (its data kept); resume brings it back.
    suspended = "suspended"
    failed = "failed"
    deleting = "deleting"
    deleted = "deleted"


#: Phases in which a worker still has something to do.
UNFINISHED = (Phase.pending, Phase.provisioning, Phase.deleting)
#: Phases that count against a user's live-store quota.
LIVE = (
    Phase.pending, Phase.provisioning, Phase.ready, Phase.degraded, Phase.suspended,
    Phase.failed, Phase.deleting,
)  # fmt: skip
#: Phases of a store that runs (serves its shop, or should).
RUNNING = (Phase.ready, Phase.degraded)


class Operation(StrEnum):
    provision = "provision"
    delete = "delete"
    backup = "backup"
    restore = "restore"
    upgrade = "upgrade"
    suspend = "suspend"
    resume = "resume"
    #: The store's serving set up again for its plan (a plan change, or a
    #: store moved to the current way of serving).
    resize = "resize"
    #: The store's custom domains converged: routed, certificates obtained or
    #: renewed, its address on its primary domain (or back on its own).
    domain = "domain"
    #: A staging copy's files and/or database put into its live store.
    push = "push"
    #: A staging copy made again from a fresh backup of its live store.
    refresh = "refresh"
    #: A standby store of the warm pool made a merchant's new store: its name,
    #: address, title, admin and secrets become the new store's (stores/pool.py).
    adopt = "adopt"


class OperationStatus(StrEnum):
    #: Part of a fleet upgrade whose wave has not started yet.
    waiting = "waiting"
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


#: Operations a worker still has to run (or finish).
ACTIVE_OPERATION = (OperationStatus.pending, OperationStatus.running)
DONE_OPERATION = (OperationStatus.succeeded, OperationStatus.failed, OperationStatus.cancelled)


class StepStatus(StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    skipped = "skipped"
    failed = "failed"


DONE_STEP = (StepStatus.succeeded, StepStatus.skipped)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL for a standby store of the warm pool (nobody's until adopted).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: A pre-provisioned store waiting in the warm pool: never listed, counted
    #: or shown to anybody; "Create store" adopts it (stores/pool.py).
    standby: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    name: Mapped[str] = mapped_column(String(40))
    # The store's identity on the machines and servers it lives on (database,
    # user, directory, namespace label): random, never reused, so nothing a
    # store leaves behind can be mistaken for another store's.
    uid: Mapped[str] = mapped_column(String(16), unique=True, default=new_store_uid)
    # The name while the store is live, NULL once deleted: a unique index on it
    # keeps live names unique and frees the name on deletion.
    live_name: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    driver: Mapped[str] = mapped_column(String(16))
    desired: Mapped[str] = mapped_column(String(16), default=Desired.present.value)
    phase: Mapped[str] = mapped_column(String(16), default=Phase.pending.value, index=True)
    admin_email: Mapped[str] = mapped_column(String(254))
    sample_products: Mapped[bool] = mapped_column(Boolean, default=True)
    #: What the store may use (storefleet.plans); a resize applies a new one.
    plan: Mapped[str] = mapped_column(String(32), default="small", server_default="small")
    # The releases the store runs (set at creation from the platform's pins).
    wordpress_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    woocommerce_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Encrypted with the platform key; wiped once the store holds the password.
    admin_password_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    admin_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    port: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    current_step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    ready_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # A staging copy: the live store it copies, and when it is deleted by
    # itself (the owner may extend it). NULL for every other store.
    staging_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("stores.id"), nullable=True, index=True
    )
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Backups: every this many hours (NULL: the platform's default; 0: never).
    backup_schedule_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Health after ready: failed checks in a row, and when it was last checked.
    health_failures: Mapped[int] = mapped_column(Integer, default=0)
    health_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # The operation in flight (its kind and id) and the store's lease.
    operation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    operation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    operation_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    owner: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_stores_owner_created", "owner_id", "created_at"),
        Index("ix_stores_standby_phase", "standby", "phase"),
    )


class StoreOperation(Base):
    """One thing done to a store: what was asked (kind, params — never
    secrets), by whom, and how it went. Its steps are :class:`StoreStep` rows."""

    __tablename__ = "store_operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(
        String(16), default=OperationStatus.pending.value, index=True
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Facts the steps reported (a backup's digest, the versions now running).
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: A user's email, "schedule", "fleet upgrade 3", "reconciler".
    requested_by: Mapped[str] = mapped_column(String(254))
    fleet_upgrade_id: Mapped[int | None] = mapped_column(
        ForeignKey("fleet_upgrades.id"), nullable=True, index=True
    )
    wave: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The step that failed, for the metrics ("failures by step").
    failed_step: Mapped[str | None] = mapped_column(String(40), nullable=True)

    __table_args__ = (Index("ix_store_operations_store_status", "store_id", "status"),)


class StoreStep(Base):
    __tablename__ = "store_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[int] = mapped_column(
        ForeignKey("store_operations.id", ondelete="CASCADE"), index=True
    )
    #: The operation's kind (denormalised: the API lists steps with it).
    operation: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=StepStatus.pending.value)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Why it failed, in one word (permanent, attempts, deadline): a metrics label.
    failure_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)

    __table_args__ = (UniqueConstraint("operation_id", "name"),)


class StoreEvent(Base):
    __tablename__ = "store_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(16), default="info")
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)


class StoreLogRequest(Base):
    """A request for a store's log lines that only a worker can read (a
    Kubernetes store's pod: the API has no cluster rights), and the worker's
    answer — the lines already redacted. The API deletes it once read; a
    worker deletes those left behind (stores/logs.py)."""

    __tablename__ = "store_log_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    #: The question: source, since, q, limit.
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The page (entries, more, kept) or {"error": why}.
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
