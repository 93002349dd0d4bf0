"""A staging copy's database pushed into its live store on the real MariaDB
server (drivers/staging_db.py): the copy's content wins, live's orders,
customers, sessions, stock and address stay, post ids never clash, and a
push that fails changes nothing of live's."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from storefleet.drivers import staging_db
from storefleet.drivers.base import PermanentError
from storefleet.drivers.storedb import StoreDatabases
from storefleet.names import new_store_uid

_SCHEMA = (
    "CREATE TABLE wp_posts (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "post_type VARCHAR(20) NOT NULL, post_title TEXT NOT NULL)",
    "CREATE TABLE wp_postmeta (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "post_id BIGINT UNSIGNED NOT NULL, meta_key VARCHAR(255), meta_value LONGTEXT)",
    "CREATE TABLE wp_options (option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "option_name VARCHAR(191) NOT NULL UNIQUE, option_value LONGTEXT NOT NULL, "
    "autoload VARCHAR(20) NOT NULL DEFAULT 'yes')",
    "CREATE TABLE wp_term_relationships (object_id BIGINT UNSIGNED NOT NULL, "
    "term_taxonomy_id BIGINT UNSIGNED NOT NULL, term_order INT NOT NULL DEFAULT 0, "
    "PRIMARY KEY (object_id, term_taxonomy_id))",
    "CREATE TABLE wp_terms (term_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "name VARCHAR(200) NOT NULL)",
    "CREATE TABLE wp_users (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "user_login VARCHAR(60) NOT NULL)",
    "CREATE TABLE wp_wc_orders (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, status VARCHAR(20))",
    "CREATE TABLE wp_woocommerce_sessions (session_id BIGINT UNSIGNED NOT NULL "
    "AUTO_INCREMENT PRIMARY KEY, session_key CHAR(32) NOT NULL)",
    "CREATE TABLE wp_wc_product_meta_lookup (product_id BIGINT NOT NULL PRIMARY KEY, "
    "min_price DECIMAL(19,4), stock_quantity DOUBLE, stock_status VARCHAR(100), "
    "total_sales BIGINT)",
)
_CONTENT = (
    "INSERT INTO wp_posts VALUES (10, 'product', 'Mug'), (11, 'page', 'About')",
    "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (10, '_price', '5'), "
    "(10, '_stock', '10'), (10, 'total_sales', '0'), (11, '_wp_page_template', 'default')",
    "INSERT INTO wp_options (option_name, option_value) VALUES ('siteurl', 'http://live'), "
    "('home', 'http://live'), ('blogname', 'Live'), ('blog_public', '1'), "
    "('woocommerce_currency', 'USD')",
    "INSERT INTO wp_terms VALUES (1, 'Kitchen')",
    "INSERT INTO wp_term_relationships VALUES (10, 1, 0)",
    "INSERT INTO wp_users VALUES (1, 'admin')",
    "INSERT INTO wp_wc_product_meta_lookup VALUES (10, 5, 10, 'instock', 0)",
)


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


def _store(databases: StoreDatabases, *statements: str) -> str:
    uid = new_store_uid()
    databases.ensure(uid, secrets.token_urlsafe(16))
    with databases.engine.begin() as conn:
        conn.execute(text(f"USE `{databases.names(uid).database}`"))
        for sql in (*_SCHEMA, *_CONTENT, *statements):
            conn.execute(text(sql))
    return uid


def _sql(databases: StoreDatabases, uid: str, sql: str, **params: Any) -> list[Any]:
    with databases.engine.begin() as conn:
        conn.execute(text(f"USE `{databases.names(uid).database}`"))
        result = conn.execute(text(sql), params)
        return [tuple(r) for r in result] if result.returns_rows else []


def _meta(databases: StoreDatabases, uid: str, post_id: int, key: str) -> list[str]:
    rows = _sql(databases, uid, "SELECT meta_value FROM wp_postmeta WHERE post_id = :p "
                "AND meta_key = :k", p=post_id, k=key)  # fmt: skip
    return [r[0] for r in rows]


def _option(databases: StoreDatabases, uid: str, name: str) -> str | None:
    rows = _sql(
        databases, uid, "SELECT option_value FROM wp_options WHERE option_name = :n", n=name
    )
    return rows[0][0] if rows else None


def test_a_push_keeps_what_arrived_on_live_and_takes_the_copys_content(
    databases: StoreDatabases,
) -> None:
    live = _store(databases)
    copy = _store(databases)
    first = staging_db.leave_id_gap(databases, copy, live)
    assert first == 11 + staging_db.POST_ID_GAP
    # On the copy: a new price, a new page, a new category, its own address.
    for sql in (
        "UPDATE wp_postmeta SET meta_value = '7' WHERE post_id = 10 AND meta_key = '_price'",
        "UPDATE wp_wc_product_meta_lookup SET min_price = 7, stock_quantity = 4",
        "INSERT INTO wp_posts (post_type, post_title) VALUES ('page', 'News')",
        "INSERT INTO wp_terms VALUES (2, 'Garden')",
        "UPDATE wp_options SET option_value = 'http://copy' "
        "WHERE option_name IN ('siteurl', 'home')",
        "UPDATE wp_options SET option_value = '0' WHERE option_name = 'blog_public'",
        "UPDATE wp_options SET option_value = 'Copy' WHERE option_name = 'blogname'",
        "UPDATE wp_options SET option_value = 'EUR' WHERE option_name = 'woocommerce_currency'",
        "INSERT INTO wp_options (option_name, option_value) VALUES ('storefleet_staging', '1')",
        "INSERT INTO wp_options (option_name, option_value) VALUES ('_transient_x', 'copy')",
    ):
        _sql(databases, copy, sql)
    [(news,)] = _sql(databases, copy, "SELECT ID FROM wp_posts WHERE post_title = 'News'")
    assert news == first
    # On live meanwhile: an order (HPOS, its placeholder post), its stock
    # change, a customer, a shopper's session.
    for sql in (
        "INSERT INTO wp_posts (post_type, post_title) VALUES ('shop_order_placehold', '')",
        "INSERT INTO wp_wc_orders VALUES (12, 'wc-processing')",
        "UPDATE wp_postmeta SET meta_value = '9' WHERE post_id = 10 AND meta_key = '_stock'",
        "UPDATE wp_postmeta SET meta_value = '1' WHERE post_id = 10 AND meta_key = 'total_sales'",
        "UPDATE wp_wc_product_meta_lookup SET stock_quantity = 9, total_sales = 1",
        "INSERT INTO wp_users (user_login) VALUES ('customer')",
        "INSERT INTO wp_woocommerce_sessions (session_key) VALUES ('shopper')",
    ):
        _sql(databases, live, sql)

    done = staging_db.push_database(databases, copy, live)

    assert "wp_wc_orders" in done["kept"] and "wp_users" in done["kept"]
    assert "wp_terms" in done["pushed"] and "wp_posts" in done["merged"]
    posts = dict(_sql(databases, live, "SELECT ID, post_type FROM wp_posts"))
    assert posts == {10: "product", 11: "page", 12: "shop_order_placehold", news: "page"}
    assert _sql(databases, live, "SELECT id FROM wp_wc_orders") == [(12,)]
    assert _meta(databases, live, 10, "_price") == ["7"]
    assert _meta(databases, live, 10, "_stock") == ["9"]
    assert _meta(databases, live, 10, "total_sales") == ["1"]
    assert _sql(databases, live, "SELECT min_price, stock_quantity, total_sales "
                "FROM wp_wc_product_meta_lookup") == [(7, 9, 1)]  # fmt: skip
    assert [r[0] for r in _sql(databases, live, "SELECT name FROM wp_terms ORDER BY term_id")] == [
        "Kitchen", "Garden",
    ]  # fmt: skip
    assert _sql(databases, live, "SELECT object_id FROM wp_term_relationships") == [(10,)]
    assert len(_sql(databases, live, "SELECT ID FROM wp_users")) == 2
    assert len(_sql(databases, live, "SELECT session_id FROM wp_woocommerce_sessions")) == 1
    assert _option(databases, live, "woocommerce_currency") == "EUR"
    for name, value in (("siteurl", "http://live"), ("home", "http://live"),
                        ("blogname", "Live"), ("blog_public", "1")):  # fmt: skip
        assert _option(databases, live, name) == value
    assert _option(databases, live, "storefleet_staging") is None
    assert _option(databases, live, "_transient_x") is None
    # The next order on live gets a fresh id, above every pushed post.
    _sql(databases, live, "INSERT INTO wp_posts (post_type, post_title) "
         "VALUES ('shop_order_placehold', '')")  # fmt: skip
    [(top,)] = _sql(databases, live, "SELECT MAX(ID) FROM wp_posts")
    assert top == news + 1


def test_a_push_that_fails_changes_nothing_of_lives(databases: StoreDatabases) -> None:
    live = _store(databases)
    copy = _store(databases)
    _sql(databases, copy, "UPDATE wp_postmeta SET meta_value = '7' WHERE meta_key = '_price'")
    _sql(databases, copy, "INSERT INTO wp_terms VALUES (2, 'Garden')")
    # A plugin changed a table on the copy only: live has no such column.
    _sql(databases, copy, "ALTER TABLE wp_posts ADD COLUMN only_on_copy INT NULL")
    with pytest.raises(PermanentError, match="only_on_copy"):
        staging_db.push_database(databases, copy, live)
    assert _meta(databases, live, 10, "_price") == ["5"]
    assert [r[0] for r in _sql(databases, live, "SELECT name FROM wp_terms")] == ["Kitchen"]
