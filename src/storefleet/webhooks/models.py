"""Webhooks, the deliveries of their events (the outbox) and each attempt.

A delivery row is written in the same transaction as the change it reports
(a phase change, an operation's end), so an event is recorded exactly when
the change is; the worker sends it after the commit and the reconciler's
sweep picks up any delivery that is due and unclaimed (a lost queue message,
a worker killed mid-send).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storefleet.db import Base, UTCDateTime, utcnow


class EventType(StrEnum):
    store_ready = "store.ready"
    store_failed = "store.failed"
    store_degraded = "store.degraded"
    store_deleted = "store.deleted"
    backup_completed = "backup.completed"
    backup_failed = "backup.failed"
    upgrade_completed = "upgrade.completed"
    upgrade_halted = "upgrade.halted"
    #: A custom domain's certificate was obtained (or renewed), or could not be.
    domain_issued = "domain.issued"
    domain_failed = "domain.failed"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its first or next attempt
    succeeded = "succeeded"  # answered 2xx
    failed = "failed"  # every attempt failed


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: An admin's webhook for every store's events, not only its own.
    fleet_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The signing secret, sealed with the platform's SecretBox.
    secret_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    #: The event's id (one event sent to several webhooks shares it).
    event_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The exact body that is signed and sent.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A worker sending it holds it until then (a crashed worker's claim runs out).
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The start of the receiver's answer (at most 1 KiB), or why none came.
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
