"""Queries on stores, their steps and events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from storefleet.stores.models import (
    ACTIVE_OPERATION,
    LIVE,
    Operation,
    OperationStatus,
    Phase,
    Store,
    StoreEvent,
    StoreOperation,
    StoreStep,
)

# The reads of every store page and of /api/auth/me are built once (a
# statement built per call costs more than its execution on SQLite; see
# bench/api.py), their values bound at execution.
_COUNT_LIVE = select(func.count()).where(
    Store.owner_id == bindparam("owner_id"), Store.phase.in_(LIVE)
)
_GET = select(Store).where(Store.id == bindparam("store_id"))
_STEPS_OF = (
    select(StoreStep)
    .where(StoreStep.operation_id.in_(bindparam("ids", expanding=True)))
    .order_by(StoreStep.operation_id, StoreStep.position)
)


def count_live(session: Session, owner_id: int) -> int:
    return session.scalar(_COUNT_LIVE, {"owner_id": owner_id}) or 0


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
    q = _GET.with_for_update(of=Store) if for_update else _GET
    return session.scalar(q, {"store_id": store_id})


def visible(
    owner_id: int | None, include_deleted: bool, phase: Phase | None, name_prefix: str | None = None
) -> Select[Store]:
    q = select(Store)
    if owner_id is not None:
        q = q.where(Store.owner_id == owner_id)
    if phase is not None:
        q = q.where(Store.phase == phase.value)
    elif not include_deleted:
        q = q.where(Store.phase != Phase.deleted.value)
    if name_prefix:
        q = q.where(Store.name.startswith(name_prefix, autoescape=True))
    return q


def count(session: Session, q: Select[Store]) -> int:
    return session.scalar(select(func.count()).select_from(q.subquery())) or 0


#: The columns a store list may be sorted by (ties broken by id).
SORT_COLUMNS = {"created_at": Store.created_at, "name": Store.name}


def page_after(
    session: Session,
    q: Select[Store],
    *,
    sort: str,
    descending: bool,
    after: tuple[Any, int] | None,
    limit: int,
) -> list[Store]:
    """Up to ``limit`` stores of ``q`` in the order of ``sort`` (then id),
    after the store whose (``sort`` value, id) is ``after``: a keyset page,
    as quick deep in the list as at its start (an index on the column)."""
    column = SORT_COLUMNS[sort]
    if after is not None:
        value, last_id = after
        if descending:
            q = q.where(or_(column < value, and_(column == value, Store.id < last_id)))
        else:
            q = q.where(or_(column > value, and_(column == value, Store.id > last_id)))
    order = (column.desc(), Store.id.desc()) if descending else (column.asc(), Store.id.asc())
    return list(session.scalars(q.order_by(*order).limit(limit)).all())


def operation_steps(session: Session, operation_id: int) -> list[StoreStep]:
    q = select(StoreStep).where(StoreStep.operation_id == operation_id)
    return list(session.scalars(q.order_by(StoreStep.position)).all())


def steps_of(session: Session, operation_ids: list[int]) -> dict[int, list[StoreStep]]:
    if not operation_ids:
        return {}
    rows = session.scalars(_STEPS_OF, {"ids": operation_ids}).all()
    out: dict[int, list[StoreStep]] = {i: [] for i in operation_ids}
    for row in rows:
        out[row.operation_id].append(row)
    return out


def active_operations(session: Session, store_id: int) -> list[StoreOperation]:
    q = select(StoreOperation).where(
        StoreOperation.store_id == store_id,
        StoreOperation.status.in_([s.value for s in ACTIVE_OPERATION]),
    )
    return list(session.scalars(q.order_by(StoreOperation.id)).all())


def operations(
    session: Session, store_id: int, *, limit: int = 50, kinds: list[Operation] | None = None
) -> list[StoreOperation]:
    q = select(StoreOperation).where(StoreOperation.store_id == store_id)
    if kinds:
        q = q.where(StoreOperation.kind.in_([k.value for k in kinds]))
    return list(session.scalars(q.order_by(StoreOperation.id.desc()).limit(limit)).all())


_LIFECYCLE = (
    select(StoreOperation)
    .where(
        StoreOperation.store_id == bindparam("store_id"),
        StoreOperation.kind.in_([Operation.provision.value, Operation.delete.value]),
    )
    .order_by(StoreOperation.id.desc())
    .limit(bindparam("limit"))
)


def lifecycle_operations(session: Session, store_id: int, *, limit: int) -> list[StoreOperation]:
    """The store's latest provision and delete operations, newest first."""
    return list(session.scalars(_LIFECYCLE, {"store_id": store_id, "limit": limit}).all())


def latest_operation(session: Session, store_id: int, kind: Operation) -> StoreOperation | None:
    return session.scalar(
        select(StoreOperation)
        .where(StoreOperation.store_id == store_id, StoreOperation.kind == kind.value)
        .order_by(StoreOperation.id.desc())
        .limit(1)
    )


def add_operation(
    session: Session,
    store: Store,
    kind: Operation,
    *,
    requested_by: str,
    params: dict[str, Any] | None = None,
    status: OperationStatus = OperationStatus.pending,
    fleet_upgrade_id: int | None = None,
    wave: int | None = None,
) -> StoreOperation:
    """Record an operation on ``store``; the caller asks a worker to look."""
    op = StoreOperation(
        store_id=store.id, kind=kind.value, status=status.value, params=params or {},
        result={}, requested_by=requested_by[:254], fleet_upgrade_id=fleet_upgrade_id, wave=wave,
    )  # fmt: skip
    session.add(op)
    session.flush()
    return op


def rerun(
    session: Session, store: Store, failed: StoreOperation, requested_by: str
) -> StoreOperation:
    """A new operation doing what ``failed`` did, with its steps as they
    were: those that succeeded are not run again, the others are (with their
    attempts counted on). The failed operation stays failed, for the record."""
    op = add_operation(
        session, store, Operation(failed.kind), requested_by=requested_by,
        params=dict(failed.params or {}), fleet_upgrade_id=None,
    )  # fmt: skip
    op.result = dict(failed.result or {})
    for step in operation_steps(session, failed.id):
        done = step.status in ("succeeded", "skipped")
        session.add(
            StoreStep(
                store_id=store.id, operation_id=op.id, operation=op.kind,
                position=step.position, name=step.name,
                status=step.status if done else "pending", attempt=step.attempt,
                started_at=step.started_at if done else None,
                finished_at=step.finished_at if done else None,
                message=step.message if done else None,
                duration_seconds=step.duration_seconds if done else None,
            )
        )  # fmt: skip
    session.flush()
    return op


_LATEST_LIFECYCLE = (
    select(StoreOperation.store_id, func.max(StoreOperation.id))
    .where(
        StoreOperation.store_id.in_(bindparam("store_ids", expanding=True)),
        StoreOperation.kind.in_([Operation.provision.value, Operation.delete.value]),
    )
    .group_by(StoreOperation.store_id)
)
_STEP_COUNTS = (
    select(StoreStep.operation_id, StoreStep.status, func.count())
    .where(StoreStep.operation_id.in_(bindparam("ids", expanding=True)))
    .group_by(StoreStep.operation_id, StoreStep.status)
)


def shown_operation_ids(session: Session, stores: list[Store]) -> dict[int, int]:
    """The operation whose steps a store's progress shows: the one in flight,
    else the latest provision or delete."""
    out = {s.id: s.operation_id for s in stores if s.operation_id is not None}
    rest = [s.id for s in stores if s.id not in out]
    if rest:
        rows = session.execute(_LATEST_LIFECYCLE, {"store_ids": rest}).all()
        out.update({store_id: op_id for store_id, op_id in rows})
    return out


def progress(session: Session, stores: list[Store]) -> dict[int, tuple[int, int]]:
    """(done, total) steps of each store's current operation."""
    shown = shown_operation_ids(session, stores)
    if not shown:
        return {}
    rows = session.execute(_STEP_COUNTS, {"ids": list(shown.values())}).all()
    per_op: dict[int, list[int]] = {}
    for op_id, status, n in rows:
        counts = per_op.setdefault(op_id, [0, 0])
        counts[1] += n
        if status in ("succeeded", "skipped"):
            counts[0] += n
    result: dict[int, tuple[int, int]] = {}
    for store_id, op_id in shown.items():
        done, total = per_op.get(op_id, [0, 0])
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
