"""Each store's own database and user on a shared MySQL/MariaDB server.

Used by both drivers: database ``<prefix><id>``, user ``<prefix><id>`` granted
only on that database, with a connection limit. Every call is idempotent. The
password is passed as a bound parameter, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import pymysql
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, StepOutcome, TransientError


@dataclass(frozen=True)
class StoreDatabaseNames:
    database: str
    user: str
    table_prefix: str


class StoreDatabases:
    def __init__(self, url: str, *, prefix: str, user_host: str, max_connections: int) -> None:
        self._engine: Engine = create_engine(
            url, pool_pre_ping=True, pool_size=2, max_overflow=3, hide_parameters=True
        )
        self._prefix = prefix
        self._host = user_host
        self._max_connections = max_connections

    def names(self, store_id: int) -> StoreDatabaseNames:
        # Built from an integer id and a validated prefix only: safe to quote.
        name = f"{self._prefix}{int(store_id)}"
        return StoreDatabaseNames(database=name, user=name, table_prefix=f"s{int(store_id)}_")

    def ensure(self, store_id: int, password: str) -> StoreDatabaseNames:
        n = self.names(store_id)
        account = f"'{n.user}'@'{self._host}'"
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    text(
                        f"CREATE DATABASE IF NOT EXISTS `{n.database}` "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
                conn.execute(
                    text(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY :pw"), {"pw": password}
                )
                # Re-running converges: the password and limit are set again.
                conn.execute(
                    text(
                        f"ALTER USER {account} IDENTIFIED BY :pw "
                        f"WITH MAX_USER_CONNECTIONS {int(self._max_connections)}"
                    ),
                    {"pw": password},
                )
                conn.execute(text(f"GRANT ALL PRIVILEGES ON `{n.database}`.* TO {account}"))
        except OperationalError as exc:
            raise _classify(exc) from exc
        return n

    def drop(self, store_id: int) -> None:
        n = self.names(store_id)
        try:
            with self._engine.begin() as conn:
                conn.execute(text(f"DROP USER IF EXISTS '{n.user}'@'{self._host}'"))
                conn.execute(text(f"DROP DATABASE IF EXISTS `{n.database}`"))
        except OperationalError as exc:
            raise _classify(exc) from exc

    def ping(self) -> None:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise _classify(exc) from exc

    def dispose(self) -> None:
        self._engine.dispose()


def from_settings(settings: Settings, driver: str) -> StoreDatabases:
    if not settings.stores_db_url:
        raise PermanentError(
            f"STOREFLEET_STORES_DB_URL is not set: the {driver} driver needs a MySQL/MariaDB "
            "server for the stores (scripts/services.sh sets one up locally)"
        )
    return StoreDatabases(
        settings.stores_db_url,
        prefix=settings.stores_db_prefix,
        user_host=settings.stores_db_user_host,
        max_connections=settings.stores_db_max_connections,
    )


def drop_step(databases: StoreDatabases, ctx: StepContext) -> StepOutcome:
    """The deletion step both drivers share: drop the database and the user."""
    databases.drop(ctx.store.id)
    n = databases.names(ctx.store.id)
    return StepOutcome(f"dropped database {n.database} and user {n.user}")


# MySQL client error codes: 2002/2003/2006/2013 are "server not reachable".
_UNREACHABLE = {2002, 2003, 2006, 2013, 1040, 1205, 1213}


def _classify(exc: OperationalError) -> Exception:
    orig = exc.orig
    code = orig.args[0] if isinstance(orig, pymysql.err.MySQLError) and orig.args else None
    message = (
        orig.args[1]
        if isinstance(orig, pymysql.err.MySQLError) and len(orig.args) > 1
        else str(orig)
    )
    if code in _UNREACHABLE:
        return TransientError(f"the stores database server is not reachable ({code}: {message})")
    return PermanentError(f"the stores database server refused ({code}: {message})")
