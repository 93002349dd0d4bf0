"""Queries of custom domains."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefleet.domains.models import HELD, DomainStatus, StoreDomain


def held_by(session: Session, store_id: int) -> list[StoreDomain]:
    """The store's domains, oldest first (removed ones left out)."""
    return list(
        session.scalars(
            select(StoreDomain)
            .where(
                StoreDomain.store_id == store_id,
                StoreDomain.status.in_([s.value for s in HELD]),
            )
            .order_by(StoreDomain.id)
        )
    )


def by_name(session: Session, name: str, *, for_update: bool = False) -> StoreDomain | None:
    q = select(StoreDomain).where(StoreDomain.live_name == name)
    if for_update:
        q = q.with_for_update()
    return session.scalar(q)


def in_status(
    session: Session, statuses: tuple[DomainStatus, ...], *, due: dt.datetime | None = None,
    limit: int = 500,
) -> list[StoreDomain]:  # fmt: skip
    """Domains in these statuses (whose next check is due by ``due``)."""
    q = select(StoreDomain).where(StoreDomain.status.in_([s.value for s in statuses]))
    if due is not None:
        q = q.where((StoreDomain.check_at.is_(None)) | (StoreDomain.check_at <= due))
    return list(session.scalars(q.order_by(StoreDomain.check_at, StoreDomain.id).limit(limit)))
