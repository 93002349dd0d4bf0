"""Each store's own database and user on a shared MySQL/MariaDB server.

Used by both drivers: database and user ``<prefix><store uid>``, the user
granted only on that database, with a connection limit. The uid is random
and recorded on the store row, so names never repeat across platform
instances or platform-database resets.

A store never adopts what it did not create: right after creating its
database the step writes the store's uid into a marker table in it
(``storefleet_owner``), and a database that exists already is used only when
its marker names this store (or when it is empty, which is where a crash
between the two statements leaves it). Anything else fails the step with the
reason; deletion likewise drops only what is marked as the store's own. Every
call is idempotent. The password is passed as a bound parameter, never logged.

Backups dump a store's database and load it back as the store's own user (so
neither can reach another store's data), in StoreFleet's own format: a gzip'd
file of JSON lines, a header and then one SQL statement a line, written from
one consistent snapshot (a single REPEATABLE READ transaction), values kept
exactly as the server gave them (no client-side type conversion). The marker
table is not dumped, and a load keeps the target database's own marker.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pymysql.converters
import pymysql.cursors
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, StepOutcome, TransientError
from storefleet.names import require_valid_store_uid

#: The table in each store database that says which store it belongs to.
OWNER_TABLE = "storefleet_owner"

_DB_EXISTS = 1007
_NO_SUCH_TABLE = 1146
_USER_EXISTS = 1396  # "Operation CREATE USER failed"
_CRON_TIMES = re.compile(r"i:(\d{9,11});a:")


@dataclass(frozen=True)
class StoreDatabaseNames:
    database: str
    user: str
    table_prefix: str


class ForeignDatabase(PermanentError):
    """A database or user with the store's name exists and is not the store's."""


class StoreDatabases:
    def __init__(self, url: str, *, prefix: str, user_host: str, max_connections: int) -> None:
        self._engine: Engine = create_engine(
            url, pool_pre_ping=True, pool_size=2, max_overflow=3, hide_parameters=True
        )
        self._prefix = prefix
        self._host = user_host
        self._max_connections = max_connections

    @property
    def engine(self) -> Engine:
        """The platform's own connection to the stores' server (all stores)."""
        return self._engine

    def names(self, uid: str) -> StoreDatabaseNames:
        # A validated prefix and a validated uid only: safe to quote.
        name = f"{self._prefix}{require_valid_store_uid(uid)}"
        return StoreDatabaseNames(database=name, user=name, table_prefix="wp_")

    def ensure(self, uid: str, password: str) -> StoreDatabaseNames:
        n = self.names(uid)
        account = f"'{n.user}'@'{self._host}'"
        try:
            with self._engine.begin() as conn:
                created = self._create_database(conn, n.database)
                owner = self._owner(conn, n.database)
                if owner is None:
                    tables = self._table_count(conn, n.database)
                    if tables:
                        raise ForeignDatabase(
                            f"database {n.database} exists, holds {tables} table(s) and was not "
                            "created for this store (no StoreFleet mark); refusing to adopt it"
                        )
                    conn.execute(
                        text(
                            f"CREATE TABLE `{n.database}`.`{OWNER_TABLE}` "
                            "(uid VARCHAR(16) NOT NULL PRIMARY KEY, "
                            "created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
                        )
                    )
                    conn.execute(
                        text(f"INSERT INTO `{n.database}`.`{OWNER_TABLE}` (uid) VALUES (:uid)"),  # noqa: S608
                        {"uid": uid},
                    )
                elif owner != uid:
                    raise ForeignDatabase(
                        f"database {n.database} belongs to another store (uid {owner}); "
                        "refusing to adopt it"
                    )
                try:
                    conn.execute(text(f"CREATE USER {account} IDENTIFIED BY :pw"), {"pw": password})
                except DBAPIError as exc:
                    if _code(exc) != _USER_EXISTS:
                        raise
                    if created:
                        raise ForeignDatabase(
                            f"the database user {n.user} exists although its database did not: "
                            "it was not created for this store; refusing to adopt it"
                        ) from exc
                # Re-running converges: the password and limit are set again.
                conn.execute(
                    text(
                        f"ALTER USER {account} IDENTIFIED BY :pw "
                        f"WITH MAX_USER_CONNECTIONS {int(self._max_connections)}"
                    ),
                    {"pw": password},
                )
                conn.execute(text(f"GRANT ALL PRIVILEGES ON `{n.database}`.* TO {account}"))
        except DBAPIError as exc:
            raise _classify(exc) from exc
        return n

    def drop(self, uid: str) -> str:
        """Drop the store's user and database; say what was done. A database
        with the store's name that is not marked as the store's is left alone."""
        n = self.names(uid)
        try:
            with self._engine.begin() as conn:
                owner = self._owner(conn, n.database)
                foreign = (owner is not None and owner != uid) or (
                    owner is None and self._table_count(conn, n.database) > 0
                )
                conn.execute(text(f"DROP USER IF EXISTS '{n.user}'@'{self._host}'"))
                if foreign:
                    return (
                        f"dropped user {n.user}; left database {n.database} alone "
                        "(it is not marked as this store's)"
                    )
                conn.execute(text(f"DROP DATABASE IF EXISTS `{n.database}`"))
        except DBAPIError as exc:
            raise _classify(exc) from exc
        return f"dropped database {n.database} and user {n.user}"

    def next_cron(self, uid: str) -> int | None:
        """When the store's next wp-cron event is due (a Unix time), read as
        the platform from its ``cron`` option; None when nothing is scheduled
        or the store has no tables yet."""
        n = self.names(uid)
        # Identifiers from a validated uid and prefix, quoted (see names()).
        table = f"{_ident(n.database)}.{_ident(n.table_prefix + 'options')}"
        query = text(f"SELECT option_value FROM {table} WHERE option_name = 'cron'")  # noqa: S608
        try:
            with self._engine.connect() as conn:
                value = conn.execute(query).scalar()
        except DBAPIError as exc:
            if _code(exc) == _NO_SUCH_TABLE:
                return None
            raise _classify(exc) from exc
        # A PHP-serialised array keyed by the events' times: "i:<time>;a:".
        times = [int(t) for t in _CRON_TIMES.findall(str(value or ""))]
        return min(times) if times else None

    # -- dumps and loads ---------------------------------------------------

    def _connect(self, uid: str, password: str) -> pymysql.connections.Connection[Any]:
        n = self.names(uid)
        url = self._engine.url
        try:
            return pymysql.connect(
                host=url.host or "127.0.0.1",
                port=url.port or 3306,
                user=n.user,
                password=password,
                database=n.database,
                charset="utf8mb4",
                # Encoders only, no decoders: every value comes as the server
                # sent it (text, or bytes for binary strings), nothing is
                # reinterpreted on the way through.
                conv=_ENCODERS_ONLY,
                autocommit=False,
                connect_timeout=10,
            )
        except pymysql.err.MySQLError as exc:
            raise _classify_raw(exc) from exc

    def dump(self, uid: str, password: str, target: Path) -> dict[str, Any]:
        """Write the store's tables to ``target`` from one consistent snapshot;
        return what was dumped (tables, rows, bytes, sha256)."""
        conn = self._connect(uid, password)
        tables = rows = 0
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                cur.execute(
                    "SELECT TABLE_NAME FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
                    "ORDER BY TABLE_NAME"
                )
                names = [_text(r[0]) for r in cur.fetchall() if _text(r[0]) != OWNER_TABLE]
            with gzip.open(target, "wt", encoding="utf-8", compresslevel=6) as out:
                header = {"format": DUMP_FORMAT, "tables": names,
                          "taken_at": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip
                out.write(json.dumps(header) + "\n")
                for name in names:
                    rows += self._dump_table(conn, name, out)
                    tables += 1
            conn.commit()
        except pymysql.err.MySQLError as exc:
            raise _classify_raw(exc) from exc
        finally:
            conn.close()
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        return {"tables": tables, "rows": rows, "bytes": target.stat().st_size, "sha256": digest}

    @staticmethod
    def _dump_table(conn: pymysql.connections.Connection[Any], name: str, out: Any) -> int:
        quoted = _ident(name)
        with conn.cursor() as cur:
            cur.execute(f"SHOW CREATE TABLE {quoted}")
            create = _text(cur.fetchone()[1])
        out.write(json.dumps({"sql": f"DROP TABLE IF EXISTS {quoted}"}) + "\n")
        out.write(json.dumps({"sql": create}) + "\n")
        count = 0
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute(f"SELECT * FROM {quoted}")  # noqa: S608 (a quoted identifier)
            columns = ", ".join(_ident(_text(d[0])) for d in cur.description)
            batch: list[str] = []
            size = 0
            for row in cur:
                values = ", ".join(_literal(conn, value) for value in row)
                batch.append(f"({values})")
                size += len(batch[-1])
                count += 1
                if size > _BATCH_BYTES:
                    out.write(json.dumps({"sql": _insert(quoted, columns, batch)}) + "\n")
                    batch, size = [], 0
            if batch:
                out.write(json.dumps({"sql": _insert(quoted, columns, batch)}) + "\n")
        return count

    def load(self, uid: str, password: str, source: Path) -> dict[str, Any]:
        """Replace the store's tables with those in ``source`` (its marker
        table stays); return what was loaded."""
        conn = self._connect(uid, password)
        statements = 0
        try:
            with conn.cursor() as cur, gzip.open(source, "rt", encoding="utf-8") as src:
                header = json.loads(src.readline() or "{}")
                if header.get("format") != DUMP_FORMAT:
                    raise PermanentError(
                        f"not a StoreFleet database dump: {header.get('format')!r}"
                    )
                cur.execute("SET NAMES utf8mb4")
                cur.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
                cur.execute("SET SESSION foreign_key_checks = 0")
                cur.execute("SET SESSION unique_checks = 0")
                cur.execute(
                    "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE()"
                )
                for name, kind in [(_text(a), _text(b)) for a, b in cur.fetchall()]:
                    if name == OWNER_TABLE:
                        continue
                    what = "VIEW" if kind == "VIEW" else "TABLE"
                    cur.execute(f"DROP {what} IF EXISTS {_ident(name)}")
                for line in src:
                    statement = json.loads(line)["sql"]
                    cur.execute(statement)
                    statements += 1
            conn.commit()
        except pymysql.err.MySQLError as exc:
            raise _classify_raw(exc) from exc
        finally:
            conn.close()
        return {"tables": len(header.get("tables", [])), "statements": statements}

    def ping(self) -> None:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise _classify(exc) from exc

    def dispose(self) -> None:
        self._engine.dispose()

    # -- helpers ----------------------------------------------------------

    @staticmethod
    def _create_database(conn: Connection, database: str) -> bool:
        """Create the database; False when it existed already."""
        try:
            conn.execute(
                text(
                    f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
        except DBAPIError as exc:
            if _code(exc) == _DB_EXISTS:
                return False
            raise
        return True

    @staticmethod
    def _owner(conn: Connection, database: str) -> str | None:
        try:
            query = text(f"SELECT uid FROM `{database}`.`{OWNER_TABLE}`")  # noqa: S608 (validated)
            row = conn.execute(query).first()
        except DBAPIError as exc:
            if _code(exc) in (_NO_SUCH_TABLE, 1049):  # no marker table, or no database
                return None
            raise
        return str(row[0]) if row else None

    @staticmethod
    def _table_count(conn: Connection, database: str) -> int:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = :db"),
                {"db": database},
            ).scalar_one()
        )


DUMP_FORMAT = "storefleet-sqldump/1"
_ENCODERS_ONLY = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}
_BATCH_BYTES = 1 << 20


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(conn: pymysql.connections.Connection[Any], value: object) -> str:
    """A value as the server sent it: text (numbers and dates come as their
    text too) quoted and escaped for this connection, binary strings as hex."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'" if value else "''"
    return str(conn.escape(str(value)))


def _insert(table: str, columns: str, rows: list[str]) -> str:
    return f"INSERT INTO {table} ({columns}) VALUES " + ",".join(rows)  # noqa: S608


def _classify_raw(exc: pymysql.err.MySQLError) -> Exception:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    if code in _UNREACHABLE:
        return TransientError(f"the stores database server is not reachable ({code}: {message})")
    return PermanentError(f"the stores database server refused ({code}: {message})")


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
    return StepOutcome(databases.drop(ctx.store.uid))


# MySQL client error codes: 2002/2003/2006/2013 are "server not reachable".
_UNREACHABLE = {2002, 2003, 2006, 2013, 1040, 1205, 1213}


def _code(exc: DBAPIError) -> int | None:
    orig = exc.orig
    if isinstance(orig, pymysql.err.MySQLError) and orig.args:
        code = orig.args[0]
        return code if isinstance(code, int) else None
    return None


def _classify(exc: DBAPIError) -> Exception:
    orig = exc.orig
    code = _code(exc)
    message = (
        orig.args[1]
        if isinstance(orig, pymysql.err.MySQLError) and len(orig.args) > 1
        else str(orig)
    )
    if code in _UNREACHABLE:
        return TransientError(f"the stores database server is not reachable ({code}: {message})")
    return PermanentError(f"the stores database server refused ({code}: {message})")
