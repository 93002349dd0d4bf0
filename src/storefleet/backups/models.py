"""A store's backups. The object itself lives in the backup target (a
directory or a bucket); the row says where, what it holds and its digest,
which a restore checks before using it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storefleet.db import Base, UTCDateTime, utcnow


class BackupKind(StrEnum):
    manual = "manual"
    scheduled = "scheduled"
    #: Taken before the store was deleted; kept for final_backup_days.
    final = "final"
    #: Taken by a fleet upgrade before it changed the store.
    upgrade = "upgrade"
    #: Taken of a live store to make (or refresh) a staging copy from it.
    staging = "staging"
    #: Taken of a live store before a staging copy was pushed into it.
    push = "push"
    #: Taken to be exported (``storefleet stores export``: stores/moves.py).
    export = "export"
    #: The archive a store was imported from, sealed under this platform's key.
    imported = "import"


class BackupStatus(StrEnum):
    pending = "pending"
    completed = "completed"
    failed = "failed"
    #: Pruned by retention; the row stays for the record.
    expired = "expired"


class Backup(Base):
    __tablename__ = "backups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    #: The operation that takes it (a backup, an upgrade or a deletion).
    operation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=BackupStatus.pending.value)
    requested_by: Mapped[str] = mapped_column(String(254))
    #: "dir" or "s3", and the object's key in it.
    target: Mapped[str | None] = mapped_column(String(8), nullable=True)
    location: Mapped[str | None] = mapped_column(String(512), nullable=True)
    #: SHA-256 of the stored (encrypted) object.
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    wordpress_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    woocommerce_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: What it holds: files, sizes and digests (no secrets).
    manifest: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Kept until then (final backups); NULL: kept by the retention count.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_backups_store_status", "store_id", "status"),)
