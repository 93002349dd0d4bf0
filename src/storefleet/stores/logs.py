"""A store's logs for its owner (``GET /api/stores/{id}/logs``): PHP's errors
or the access log, newest first, redacted (storefleet/drivers/logs.py).

Local stores' logs are files on this machine, read here through the drivers
package (``drivers.store_logs``). A Kubernetes store's are its pod's, and the
API has no cluster rights: it writes the question into the platform database
(``store_log_requests``), a worker's log reader (operations/log_reader.py)
reads the pod's logs with the worker's rights and writes the redacted
answer, and the API returns it and deletes the row. The database is the one
thing every API replica and worker already shares; nothing waits behind the
store operations on the queue; nothing is read unless someone asks.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storefleet import drivers
from storefleet.auth.models import User
from storefleet.db import utcnow
from storefleet.drivers import LogEntry, LogPage, LogQuery, LogSource
from storefleet.exceptions import ServiceUnavailable
from storefleet.runtime import Runtime
from storefleet.stores import service
from storefleet.stores.models import Store, StoreLogRequest

#: How long the API waits for a worker's answer before a 503.
WORKER_ANSWER_SECONDS = 8.0
_POLL_SECONDS = 0.15
#: A question no worker took by then is not taken any more (its asker gave up).
QUESTION_TTL = dt.timedelta(seconds=30)
#: Rows left behind (an API process that died waiting) are deleted after this.
ROW_TTL = dt.timedelta(minutes=5)


def read(
    session: Session,
    runtime: Runtime,
    user: User,
    store_id: int,
    *,
    source: str,
    since: dt.datetime | None,
    q: str | None,
    limit: int,
) -> LogPage:
    """The store's lines (404 when the user may not see the store)."""
    store = service.get_visible(session, user, store_id)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)  # a time without a zone is UTC's
    query = LogQuery(
        source=LogSource(source),
        since=since.astimezone(dt.UTC) if since else None,
        q=q or None,
        limit=limit,
    )
    page = drivers.store_logs(runtime.settings, store.driver, store.uid, query)
    if page is not None:
        return page
    return _ask_a_worker(runtime, store.id, query)


def _ask_a_worker(runtime: Runtime, store_id: int, query: LogQuery) -> LogPage:
    with runtime.db.transaction() as session:
        row = StoreLogRequest(store_id=store_id, query=dump_query(query))
        session.add(row)
        session.flush()
        request_id = row.id
    try:
        answer = _wait_for_answer(runtime, request_id)
    finally:
        with runtime.db.transaction() as session:
            session.execute(delete(StoreLogRequest).where(StoreLogRequest.id == request_id))
    if "error" in answer:
        raise ServiceUnavailable(
            f"The store's logs could not be read: {answer['error']}", retry_after=5
        )
    return load_page(answer)


def _wait_for_answer(runtime: Runtime, request_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + WORKER_ANSWER_SECONDS
    while True:
        time.sleep(_POLL_SECONDS)
        with runtime.db.transaction(write=False) as session:
            answer = session.scalar(
                select(StoreLogRequest.answer).where(
                    StoreLogRequest.id == request_id, StoreLogRequest.answered_at.is_not(None)
                )
            )
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise ServiceUnavailable(
                f"No worker answered within {WORKER_ANSWER_SECONDS:.0f} s: a worker reads "
                "this store's logs from its cluster, and none is running or all are busy",
                retry_after=5,
            )


# -- the worker's side -----------------------------------------------------------------


def pending(session: Session, driver: str) -> list[tuple[int, Store, LogQuery]]:
    """Questions about stores of ``driver`` that no worker has taken."""
    rows = session.execute(
        select(StoreLogRequest.id, StoreLogRequest.query, Store)
        .join(Store, Store.id == StoreLogRequest.store_id)
        .where(
            StoreLogRequest.claimed_by.is_(None),
            StoreLogRequest.created_at > utcnow() - QUESTION_TTL,
            Store.driver == driver,
        )
        .order_by(StoreLogRequest.id)
        .limit(20)
    ).all()
    return [(request_id, store, load_query(q)) for request_id, q, store in rows]


def claim(session: Session, request_id: int, owner: str) -> bool:
    """Take a question; False when another worker took it first."""
    done = session.execute(
        update(StoreLogRequest)
        .where(StoreLogRequest.id == request_id, StoreLogRequest.claimed_by.is_(None))
        .values(claimed_by=owner)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def answer(session: Session, request_id: int, result: dict[str, Any]) -> None:
    session.execute(
        update(StoreLogRequest)
        .where(StoreLogRequest.id == request_id)
        .values(answer=result, answered_at=utcnow())
    )


def forget_old(session: Session) -> int:
    """Delete rows whose asker is gone."""
    done = session.execute(
        delete(StoreLogRequest).where(StoreLogRequest.created_at < utcnow() - ROW_TTL)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


# -- on the wire (the database) -------------------------------------------------------------


def dump_query(query: LogQuery) -> dict[str, Any]:
    return {
        "source": query.source.value,
        "since": query.since.isoformat() if query.since else None,
        "q": query.q,
        "limit": query.limit,
    }


def load_query(data: dict[str, Any]) -> LogQuery:
    since = data.get("since")
    return LogQuery(
        source=LogSource(data["source"]),
        since=dt.datetime.fromisoformat(since) if since else None,
        q=data.get("q"),
        limit=int(data["limit"]),
    )


def dump_page(page: LogPage) -> dict[str, Any]:
    return {
        "entries": [[e.at.isoformat() if e.at else None, e.text] for e in page.entries],
        "more": page.more,
        "kept": page.kept,
    }


def load_page(data: dict[str, Any]) -> LogPage:
    return LogPage(
        entries=[
            LogEntry(dt.datetime.fromisoformat(at) if at else None, text)
            for at, text in data["entries"]
        ],
        more=bool(data["more"]),
        kept=str(data["kept"]),
    )
