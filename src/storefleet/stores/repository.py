"""Queries on stores, their steps and events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from storefleet.stores.models import LIVE, Phase, Store, StoreEvent, StoreStep


def count_live(session: Session, owner_id: int) -> int:
    q = select(func.count()).where(Store.owner_id == owner_id, Store.phase.in_(LIVE))
    return session.scalar(q) or 0


def count_created_since(session: Session, owner_id: int, since: dt.datetime) -> int:
    q = select(func.count()).where(Store.owner_id == owner_id, Store.created_at >= since)
    return session.scalar(q) or 0


def oldest_created_since(session: Session, owner_id: int, since: dt.datetime) -> dt.datetime | None:
    q = select(func.min(Store.created_at)).where(
        Store.owner_id == owner_id, Store.created_at >= since
    )
    return session.scalar(q)


def by_live_name(session: Session, name: str) -> Store | None:
    return session.scalar(select(Store).where(Store.live_name == name))


def get(session: Session, store_id: int, *, for_update: bool = False) -> Store | None:
    q = select(Store).where(Store.id == store_id)
    if for_update:
        q = q.with_for_update(of=Store)
    return session.scalar(q)


def visible(owner_id: int | None, include_deleted: bool, phase: Phase | None) -> Select[Store]:
    q = select(Store)
    if owner_id is not None:
        q = q.where(Store.owner_id == owner_id)
    if phase is not None:
        q = q.where(Store.phase == phase.value)
    elif not include_deleted:
        q = q.where(Store.phase != Phase.deleted.value)
    return q


def page(session: Session, q: Select[Store], *, limit: int, offset: int) -> tuple[list[Store], int]:
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(Store.created_at.desc(), Store.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def steps(session: Session, store_id: int, operation: str | None = None) -> list[StoreStep]:
    q = select(StoreStep).where(StoreStep.store_id == store_id)
    if operation is not None:
        q = q.where(StoreStep.operation == operation)
    return list(session.scalars(q.order_by(StoreStep.operation.desc(), StoreStep.position)).all())


def step(session: Session, store_id: int, operation: str, name: str) -> StoreStep | None:
    return session.scalar(
        select(StoreStep).where(
            StoreStep.store_id == store_id, StoreStep.operation == operation, StoreStep.name == name
        )
    )


def progress(session: Session, store_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(done, total) steps of each store's current operation."""
    if not store_ids:
        return {}
    rows = session.execute(
        select(StoreStep.store_id, StoreStep.operation, StoreStep.status, func.count())
        .where(StoreStep.store_id.in_(store_ids))
        .group_by(StoreStep.store_id, StoreStep.operation, StoreStep.status)
    ).all()
    out: dict[int, dict[str, list[int]]] = {}
    for store_id, operation, status, n in rows:
        per_op = out.setdefault(store_id, {}).setdefault(operation, [0, 0])
        per_op[1] += n
        if status in ("succeeded", "skipped"):
            per_op[0] += n
    result: dict[int, tuple[int, int]] = {}
    for store_id, ops in out.items():
        # The delete operation, when present, is the current one.
        done, total = ops.get("delete") or ops.get("provision") or [0, 0]
        result[store_id] = (done, total)
    return result


def events(session: Session, store_id: int, *, after_id: int, limit: int) -> list[StoreEvent]:
    q = (
        select(StoreEvent)
        .where(StoreEvent.store_id == store_id, StoreEvent.id > after_id)
        .order_by(StoreEvent.id)
        .limit(limit)
    )
    return list(session.scalars(q).all())


def add_event(
    session: Session, store_id: int, kind: str, message: str, level: str = "info"
) -> None:
    session.add(StoreEvent(store_id=store_id, kind=kind, message=message, level=level))
