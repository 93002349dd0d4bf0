"""The platform database: engine, sessions, the declarative base and the
after-commit hooks.

One transaction per request or job: services flush, the boundary commits or
rolls back. Work that must only happen once a transaction is durable (putting a
store id on the queue) is registered with :func:`after_commit` and dropped on
rollback, so a worker never looks for a row that is not there.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Any, ParamSpec, TypeVar

import anyio
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC (portable to SQLite, MySQL and PostgreSQL) and always
    hands back timezone-aware UTC datetimes."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "mysql":  # MySQL keeps whole seconds unless asked
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite returns text for some expressions
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.UTC)


#: Connections an engine keeps (SQLAlchemy's defaults, written down: the
#: API's request slots below are counted against them).
POOL_SIZE, POOL_OVERFLOW = 5, 10
#: Requests of one API process that hold a session at once: fewer than the
#: pool's connections, so that a request never waits for a connection on the
#: event loop, and the others (the live stream's polls, a token's last use,
#: an audit record after a rollback) always find one.
REQUEST_SLOTS = 10


def make_engine(url: str) -> Engine:
    # Statement errors never echo bound values: one may be a password or hash.
    kwargs: dict[str, Any] = {
        "hide_parameters": True, "pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW,
    }  # fmt: skip
    if url.startswith("sqlite"):
        # A file in this process: no server to lose the connection, nothing
        # for a ping before each checkout to find.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_recycle"] = 1800
        # Each statement sees what others committed: a count taken after
        # locking a row (quotas) must not read an older snapshot.
        kwargs["isolation_level"] = "READ COMMITTED"
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the write
    # lock up front; we emit BEGIN ourselves. Transactions that check-then-write
    # (quotas, leases) ask for IMMEDIATE so that two writers cannot both pass the
    # check, which is what SELECT ... FOR UPDATE gives on the server databases.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def lock_for_write(session: Session) -> None:
    """Start the session's transaction as a writer (SQLite: BEGIN IMMEDIATE).

    Call first in a transaction that reads, decides and then writes. On MySQL
    and PostgreSQL use ``with_for_update()`` on the rows read instead; this is a
    no-op there."""
    session.connection(execution_options={"sqlite_immediate": True})


# -- after-commit hooks ------------------------------------------------------

_HOOKS_KEY = "storefleet.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction has committed."""
    session.info.setdefault(_HOOKS_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    # A SAVEPOINT's release fires this event too: only the real commit counts.
    if session.in_nested_transaction():
        return
    callbacks = session.info.pop(_HOOKS_KEY, [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_HOOKS_KEY, None)


_P = ParamSpec("_P")
_T = TypeVar("_T")


class Database:
    """An engine and its session factory. ``info`` is copied into every
    session's ``info`` (hooks of the process, such as waking the webhook
    sender after a commit that recorded deliveries).

    The API's requests take one of ``request_slots`` before they open a
    session, and run their reads through :meth:`read`."""

    def __init__(self, url: str, info: dict[str, Any] | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info=info or {})
        self.request_slots = anyio.CapacityLimiter(REQUEST_SLOTS)
        #: SQLite reads run where they are asked for (see :meth:`read`).
        self.reads_in_place = self.engine.dialect.name == "sqlite"

    async def read(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run ``fn``, which reads the database, from the event loop.

        On SQLite in place: a read there is a few microseconds of a file in
        this process's page cache, it never waits for a lock (WAL: readers do
        not wait for writers), and a hop to a worker thread and back costs
        more than the read (~0.2 ms of CPU, and the GIL twice; bench/api.py).
        On a server database in a worker thread, so that the loop serves
        others while the server answers. Writes always go to a thread: on
        SQLite they may wait for the write lock."""
        if self.reads_in_place:
            return fn(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on error.

        ``write`` starts it as a writer (see :func:`lock_for_write`)."""
        with self.sessions() as session, session.begin():
            if write:
                lock_for_write(session)
            yield session

    @asynccontextmanager
    async def request_transaction(self, *, write: bool) -> AsyncIterator[Session]:
        """The transaction of one API request, from the event loop: a slot
        first; a writer takes the write lock up front in a thread (it may
        wait); a reader's session connects at its first query. The end
        (commit, or rollback on error) is :meth:`read`'s business for a
        reader with nothing to do after its commit, else a thread's."""
        async with self.request_slots:
            transaction = self.transaction(write=write)
            if write:
                session = await anyio.to_thread.run_sync(transaction.__enter__)
            else:
                session = transaction.__enter__()
            try:
                yield session
            except BaseException as exc:
                await self._end(transaction, session, write, exc)
                raise
            await self._end(transaction, session, write, None)

    async def _end(
        self,
        transaction: AbstractContextManager[Session],
        session: Session,
        write: bool,
        exc: BaseException | None,
    ) -> None:
        end = functools.partial(
            transaction.__exit__, type(exc) if exc else None, exc,
            exc.__traceback__ if exc else None,
        )  # fmt: skip
        if write or session.info.get(_HOOKS_KEY):
            await anyio.to_thread.run_sync(end)
        else:
            await self.read(end)

    def dispose(self) -> None:
        self.engine.dispose()
