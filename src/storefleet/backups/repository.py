"""Queries on backups, and recording what the backup steps reported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefleet.backups.models import Backup, BackupKind, BackupStatus
from storefleet.db import utcnow
from storefleet.stores.models import Store, StoreOperation


def create(
    session: Session,
    store: Store,
    kind: BackupKind,
    *,
    requested_by: str,
    expires_at: dt.datetime | None = None,
) -> Backup:
    backup = Backup(
        store_id=store.id, kind=kind.value, status=BackupStatus.pending.value,
        requested_by=requested_by[:254], expires_at=expires_at,
    )  # fmt: skip
    session.add(backup)
    session.flush()
    return backup


def get(session: Session, backup_id: int) -> Backup | None:
    return session.get(Backup, backup_id)


def for_store(
    session: Session, store_id: int, *, limit: int, offset: int
) -> tuple[list[Backup], int]:
    q = select(Backup).where(Backup.store_id == store_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Backup.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def latest_completed(session: Session, store_id: int) -> Backup | None:
    return session.scalar(
        select(Backup)
        .where(Backup.store_id == store_id, Backup.status == BackupStatus.completed.value)
        .order_by(Backup.completed_at.desc())
        .limit(1)
    )


def last_attempts(session: Session, store_ids: list[int]) -> dict[int, dt.datetime]:
    """When each store's latest backup (of any outcome, but not failed long
    ago) was asked for: the schedule counts from there."""
    if not store_ids:
        return {}
    rows = session.execute(
        select(Backup.store_id, func.max(Backup.created_at))
        .where(Backup.store_id.in_(store_ids))
        .group_by(Backup.store_id)
    ).all()
    return {store_id: at for store_id, at in rows}


def restore_params(backup: Mapping[str, Any]) -> dict[str, Any]:
    """What a restore (or a clone) needs to know of a backup: where it is and
    its digest. No secrets: the key comes from the settings."""
    return {
        "backup_id": backup["id"],
        "source_backup": {
            "id": backup["id"],
            "target": backup["target"],
            "location": backup["location"],
            "sha256": backup["sha256"],
            "size": backup.get("size"),
            "wordpress_version": backup.get("wordpress_version"),
            "woocommerce_version": backup.get("woocommerce_version"),
        },
    }


def fail_for_operation(session: Session, operation_id: int, reason: str) -> None:
    rows = session.scalars(
        select(Backup).where(
            Backup.operation_id == operation_id, Backup.status == BackupStatus.pending.value
        )
    ).all()
    for backup in rows:
        backup.status = BackupStatus.failed.value
        backup.failure_reason = reason


def apply_facts(session: Session, store: Store, op: StoreOperation, facts: dict[str, Any]) -> None:
    """A backup step stored its object: complete the backup's row."""
    info = facts.get("backup")
    if not isinstance(info, dict):
        return
    backup = session.get(Backup, int(info["id"]))
    if backup is None or backup.store_id != store.id:
        return
    backup.status = BackupStatus.completed.value
    backup.target = str(info["target"])
    backup.location = str(info["location"])
    backup.sha256 = str(info["sha256"])
    backup.size_bytes = int(info["size"])
    backup.wordpress_version = info.get("wordpress_version")
    backup.woocommerce_version = info.get("woocommerce_version")
    backup.manifest = info.get("manifest")
    backup.completed_at = utcnow()


def expired(session: Session, now: dt.datetime, keep: int, limit: int = 200) -> list[Backup]:
    """Completed backups past their time: final ones after ``expires_at``,
    the others beyond the newest ``keep`` of their store."""
    out = list(
        session.scalars(
            select(Backup)
            .where(
                Backup.status == BackupStatus.completed.value,
                Backup.expires_at.is_not(None),
                Backup.expires_at < now,
            )
            .limit(limit)
        ).all()
    )
    counted = (
        select(
            Backup.id,
            func.row_number()
            .over(partition_by=Backup.store_id, order_by=Backup.id.desc())
            .label("n"),
        )
        .where(Backup.status == BackupStatus.completed.value, Backup.expires_at.is_(None))
        .subquery()
    )
    ids = session.scalars(select(counted.c.id).where(counted.c.n > keep).limit(limit)).all()
    if ids:
        out += list(session.scalars(select(Backup).where(Backup.id.in_(ids))).all())
    return out
