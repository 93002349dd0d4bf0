"""Queries on backups (their rows change in backups.service)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefleet.backups.models import Backup, BackupKind, BackupStatus
from storefleet.stores.models import Store


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
