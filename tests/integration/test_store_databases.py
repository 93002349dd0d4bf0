"""A store's database and user on the real MariaDB server: named from the
store's uid, marked as the store's own, and never adopted when they are not."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pymysql
import pytest
from sqlalchemy import create_engine, text

from storefleet.drivers.storedb import ForeignDatabase, StoreDatabases
from storefleet.names import new_store_uid


@pytest.fixture
def databases(mariadb_admin_url: str) -> Iterator[StoreDatabases]:
    prefix = f"t{secrets.token_hex(3)}_"
    dbs = StoreDatabases(mariadb_admin_url, prefix=prefix, user_host="%", max_connections=5)
    yield dbs
    dbs.dispose()
    engine = create_engine(mariadb_admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        like = prefix.replace("_", r"\_") + "%"
        for (name,) in conn.execute(
            text("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :p"),
            {"p": like},
        ).all():
            conn.execute(text(f"DROP DATABASE `{name}`"))
        for user, host in conn.execute(
            text("SELECT User, Host FROM mysql.user WHERE User LIKE :p"), {"p": like}
        ).all():
            conn.execute(text(f"DROP USER '{user}'@'{host}'"))
    engine.dispose()


def _admin(url: str) -> pymysql.Connection:
    engine = create_engine(url)
    conn = engine.raw_connection().dbapi_connection
    assert isinstance(conn, pymysql.Connection)
    conn.autocommit(True)
    return conn


def test_a_new_store_gets_a_marked_database_and_a_user_confined_to_it(
    databases: StoreDatabases, mariadb_admin_url: str
) -> None:
    uid = new_store_uid()
    n = databases.ensure(uid, "first-password")
    assert n.database == n.user and n.database.endswith(uid)
    again = databases.ensure(uid, "second-password")  # converges, new password
    assert again == n
    conn = pymysql.connect(
        host="127.0.0.1", user=n.user, password="second-password", database=n.database
    )
    with conn.cursor() as cur:
        cur.execute("SELECT uid FROM storefleet_owner")
        assert cur.fetchall() == ((uid,),)
        cur.execute("SHOW DATABASES")
        assert {row[0] for row in cur.fetchall()} == {"information_schema", n.database}
    conn.close()
    assert databases.drop(uid) == f"dropped database {n.database} and user {n.user}"
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", user=n.user, password="second-password")


def test_a_database_holding_data_that_is_not_the_stores_is_refused(
    databases: StoreDatabases, mariadb_admin_url: str
) -> None:
    uid = new_store_uid()
    name = databases.names(uid).database
    admin = _admin(mariadb_admin_url)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.wp_posts (id INT PRIMARY KEY)")
        cur.execute(f"INSERT INTO `{name}`.wp_posts VALUES (1)")
    with pytest.raises(ForeignDatabase, match="was not created for this store"):
        databases.ensure(uid, "a-password")
    with admin.cursor() as cur:  # no user was made for it, nothing was changed
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE User = %s", (name,))
        assert cur.fetchone() == (0,)
        cur.execute(f"SELECT COUNT(*) FROM `{name}`.wp_posts")
        assert cur.fetchone() == (1,)
    # Deleting the store leaves the foreign database alone.
    assert "left database" in databases.drop(uid)
    with admin.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)
        )
        assert cur.fetchone() == (1,)
    admin.close()


def test_a_database_marked_for_another_store_is_refused(
    databases: StoreDatabases, mariadb_admin_url: str
) -> None:
    uid = new_store_uid()
    name = databases.names(uid).database
    admin = _admin(mariadb_admin_url)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.storefleet_owner (uid VARCHAR(16) PRIMARY KEY)")
        cur.execute(f"INSERT INTO `{name}`.storefleet_owner VALUES ('someoneelse1')")
    admin.close()
    with pytest.raises(ForeignDatabase, match="belongs to another store"):
        databases.ensure(uid, "a-password")


def test_an_empty_database_left_by_a_crash_is_taken_and_marked(
    databases: StoreDatabases, mariadb_admin_url: str
) -> None:
    uid = new_store_uid()
    name = databases.names(uid).database
    admin = _admin(mariadb_admin_url)
    with admin.cursor() as cur:  # the crash came between CREATE DATABASE and the mark
        cur.execute(f"CREATE DATABASE `{name}`")
    databases.ensure(uid, "a-password")
    with admin.cursor() as cur:
        cur.execute(f"SELECT uid FROM `{name}`.storefleet_owner")
        assert cur.fetchall() == ((uid,),)
    admin.close()


def test_a_user_that_exists_without_its_database_is_refused(
    databases: StoreDatabases, mariadb_admin_url: str
) -> None:
    uid = new_store_uid()
    name = databases.names(uid).user
    admin = _admin(mariadb_admin_url)
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'somebody-elses'")
    admin.close()
    with pytest.raises(ForeignDatabase, match=r"user .* exists although its database did not"):
        databases.ensure(uid, "a-password")
