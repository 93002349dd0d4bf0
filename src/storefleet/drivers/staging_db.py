"""A staging copy's database put into its live store, keeping what arrived
on live meanwhile (docs/staging.md has the table by table list).

Both stores' databases are on the one stores server, so the platform's own
connection does it server-side, table by table, in one transaction: a push
that fails part way changes nothing in live's database. Tables are named by
their suffix after the table prefix (``posts`` for ``wp_posts``):

- **kept** (live's rows stay, staging's are not looked at): orders (HPOS
  ``wc_order*`` and legacy items), customers and users, comments (order
  notes and reviews), sessions, the action scheduler, download permissions,
  payment tokens, API keys, webhooks, reserved stock, logs;
- **merged**: ``posts``/``postmeta``/``term_relationships`` (staging's rows,
  except order posts — ``shop_order``, ``shop_order_refund``,
  ``shop_order_placehold`` — which stay live's, and live's stock and usage
  meta of products and coupons), ``options`` (staging's by name, except
  live's address, title, visibility, admin email, cron, rewrite rules,
  transients and the staging marker), ``wc_product_meta_lookup``
  (staging's rows, live's stock and sales columns);
- **pushed** (live's rows replaced by staging's): everything else of the
  prefix — terms, taxonomies, links, attribute and tax and shipping tables,
  a plugin's own tables (made on live when missing).

Staging's new posts cannot take an id a live order takes meanwhile: when a
copy is made its ``posts`` counter starts :data:`POST_ID_GAP` above live's
(:func:`leave_id_gap`), so the next order on live after a push gets a fresh
number above every pushed post.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from storefleet.drivers.storedb import StoreDatabases, _classify, _ident

#: How far above live's last post id a staging copy's posts start.
POST_ID_GAP = 1_000_000

ORDER_POST_TYPES = ("shop_order", "shop_order_refund", "shop_order_placehold")
KEPT_TABLES = frozenset({
    "users", "usermeta", "comments", "commentmeta",
    "woocommerce_sessions", "woocommerce_order_items", "woocommerce_order_itemmeta",
    "woocommerce_downloadable_product_permissions", "woocommerce_payment_tokens",
    "woocommerce_payment_tokenmeta", "woocommerce_api_keys", "woocommerce_log",
    "wc_download_log", "wc_webhooks", "wc_reserved_stock", "wc_rate_limits",
    "wc_customer_lookup", "wc_admin_notes", "wc_admin_note_actions",
})  # fmt: skip
#: wc_orders, wc_orders_meta, wc_order_addresses, wc_order_operational_data,
#: wc_order_stats and the wc_order_*_lookup tables; the action scheduler's.
KEPT_PREFIXES = ("wc_order", "actionscheduler_")
MERGED_TABLES = ("posts", "postmeta", "term_relationships", "options", "wc_product_meta_lookup")
#: Options that stay live's (and transients). A staging copy's payment
#: settings are its merchant's: the copy offers only offline methods because
#: the platform's must-use plugin filters the others out while the
#: ``storefleet_staging`` marker is set, not because they were switched off.
KEPT_OPTIONS = (
    "siteurl", "home", "blogname", "blog_public", "admin_email", "cron", "rewrite_rules",
    "storefleet_staging",
)  # fmt: skip
#: Post meta that orders change: live's stays on products and coupons.
KEPT_META = ("_stock", "_stock_status", "total_sales", "usage_count", "_used_by")
_LOOKUP_STOCK = ("stock_quantity", "stock_status", "total_sales")


def classify(suffix: str) -> str:
    """kept, merged or pushed (see the module's docstring)."""
    if suffix in KEPT_TABLES or suffix.startswith(KEPT_PREFIXES):
        return "kept"
    if suffix in MERGED_TABLES:
        return "merged"
    return "pushed"


def leave_id_gap(databases: StoreDatabases, staging_uid: str, live_uid: str) -> int:
    """Start the staging copy's post ids :data:`POST_ID_GAP` above live's
    (and its own) last one; returns the first id staging will give."""
    staging, live = databases.names(staging_uid), databases.names(live_uid)
    posts = staging.table_prefix + "posts"
    try:
        with databases.engine.begin() as conn:
            top = max(
                _max_id(conn, live.database, live.table_prefix + "posts"),
                _max_id(conn, staging.database, posts),
            )
            start = top + POST_ID_GAP
            conn.execute(
                text(f"ALTER TABLE {_q(staging.database, posts)} AUTO_INCREMENT = {start}")
            )
    except DBAPIError as exc:
        raise _classify(exc) from exc
    return start


def _max_id(conn: Connection, database: str, table: str) -> int:
    query = f"SELECT COALESCE(MAX(ID), 0) FROM {_ident(database)}.{_ident(table)}"  # noqa: S608
    return int(conn.execute(text(query)).scalar_one())


def push_database(databases: StoreDatabases, staging_uid: str, live_uid: str) -> dict[str, Any]:
    """Put the staging copy's database into live's, keeping live's
    transactional data; returns the tables by what was done to them."""
    staging, live = databases.names(staging_uid), databases.names(live_uid)
    prefix = live.table_prefix
    try:
        with databases.engine.connect() as conn:
            ours = _tables(conn, staging.database, prefix)
            theirs = set(_tables(conn, live.database, prefix))
            conn.rollback()
        plan = {t: classify(t.removeprefix(prefix)) for t in ours}
        pushed = [t for t, what in plan.items() if what == "pushed"]
        made = [t for t in pushed if t not in theirs]
        with databases.engine.begin() as conn:  # DDL first: it commits by itself
            for table in made:
                target, source = _q(live.database, table), _q(staging.database, table)
                conn.execute(text(f"CREATE TABLE {target} LIKE {source}"))
        with databases.engine.begin() as conn:
            # MariaDB resolves a multi-table DELETE's aliases in the default
            # database: live's (every name here is qualified anyway).
            conn.execute(text(f"USE {_ident(live.database)}"))
            pair = _Pair(conn, staging.database, live.database, prefix)
            for table in pushed:
                pair.replace(table)
            pair.merge_posts()
            pair.merge_options()
            if (
                prefix + "wc_product_meta_lookup" in plan
                and prefix + "wc_product_meta_lookup" in theirs
            ):
                pair.merge_lookup()
    except DBAPIError as exc:
        raise _classify(exc) from exc
    kept = sorted({*theirs, *ours} - {t for t, w in plan.items() if w != "kept"})
    return {
        "pushed": sorted(pushed),
        "merged": sorted(t for t, w in plan.items() if w == "merged"),
        "kept": kept,
        "created": made,
    }


def _tables(conn: Connection, database: str, prefix: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = :db "
            "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        ),
        {"db": database},
    ).scalars()
    return [str(r) for r in rows if str(r).startswith(prefix)]


def _q(database: str, table: str) -> str:
    return f"{_ident(database)}.{_ident(table)}"


class _Pair:
    """Statements from the staging database into live's, on one connection
    (one transaction; its temporary tables live as long as it)."""

    def __init__(self, conn: Connection, staging: str, live: str, prefix: str) -> None:
        self.conn, self.staging, self.live, self.prefix = conn, staging, live, prefix

    def s(self, suffix: str) -> str:
        return _q(self.staging, self.prefix + suffix)

    def l(self, suffix: str) -> str:  # noqa: E743 (live's table)
        return _q(self.live, self.prefix + suffix)

    def run(self, sql: str, **params: Any) -> int:
        return int(self.conn.execute(text(sql), params).rowcount or 0)

    def columns(self, table: str) -> str:
        rows = self.conn.execute(
            text(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = :db AND TABLE_NAME = :t ORDER BY ORDINAL_POSITION"
            ),
            {"db": self.staging, "t": table},
        ).scalars()
        return ", ".join(_ident(str(c)) for c in rows)

    def replace(self, table: str) -> None:
        cols = self.columns(table)
        self.run(f"DELETE FROM {_q(self.live, table)}")  # noqa: S608
        self.run(
            f"INSERT INTO {_q(self.live, table)} ({cols}) "  # noqa: S608
            f"SELECT {cols} FROM {_q(self.staging, table)}"
        )

    def merge_posts(self) -> None:
        orders = ", ".join(f"'{t}'" for t in ORDER_POST_TYPES)
        meta = ", ".join(f"'{k}'" for k in KEPT_META)
        posts_cols = self.columns(self.prefix + "posts")
        kept = _q(self.live, "sf_kept_meta")
        # Live's stock and usage meta of products and coupons, put back below.
        self.run(
            f"CREATE TEMPORARY TABLE {kept} AS "  # noqa: S608
            "SELECT pm.post_id, pm.meta_key, pm.meta_value "
            f"FROM {self.l('postmeta')} pm JOIN {self.l('posts')} p ON p.ID = pm.post_id "
            "WHERE p.post_type IN ('product', 'product_variation', 'shop_coupon') "
            f"AND pm.meta_key IN ({meta})"
        )
        self.run(
            f"DELETE pm FROM {self.l('postmeta')} pm JOIN {self.l('posts')} p "
            f"ON p.ID = pm.post_id WHERE p.post_type NOT IN ({orders})"
        )
        self.run(
            f"DELETE tr FROM {self.l('term_relationships')} tr JOIN {self.l('posts')} p "
            f"ON p.ID = tr.object_id WHERE p.post_type NOT IN ({orders})"
        )
        self.run(f"DELETE FROM {self.l('posts')} WHERE post_type NOT IN ({orders})")  # noqa: S608
        self.run(
            f"INSERT INTO {self.l('posts')} ({posts_cols}) SELECT {posts_cols} "  # noqa: S608
            f"FROM {self.s('posts')} WHERE post_type NOT IN ({orders})"
        )
        self.run(
            f"INSERT INTO {self.l('postmeta')} (post_id, meta_key, meta_value) "  # noqa: S608
            f"SELECT pm.post_id, pm.meta_key, pm.meta_value FROM {self.s('postmeta')} pm "
            f"JOIN {self.s('posts')} p ON p.ID = pm.post_id WHERE p.post_type NOT IN ({orders})"
        )
        self.run(
            f"INSERT IGNORE INTO {self.l('term_relationships')} "  # noqa: S608
            "(object_id, term_taxonomy_id, term_order) "
            "SELECT tr.object_id, tr.term_taxonomy_id, tr.term_order FROM "
            f"{self.s('term_relationships')} tr "
            f"LEFT JOIN {self.s('posts')} p ON p.ID = tr.object_id "
            f"WHERE p.ID IS NULL OR p.post_type NOT IN ({orders})"
        )
        self.run(
            f"DELETE pm FROM {self.l('postmeta')} pm JOIN (SELECT DISTINCT post_id FROM "  # noqa: S608
            f"{kept}) k ON k.post_id = pm.post_id WHERE pm.meta_key IN ({meta})"
        )
        self.run(
            f"INSERT INTO {self.l('postmeta')} (post_id, meta_key, meta_value) "  # noqa: S608
            f"SELECT k.post_id, k.meta_key, k.meta_value FROM {kept} k "
            f"JOIN {self.l('posts')} p ON p.ID = k.post_id"
        )
        self.run(f"DROP TEMPORARY TABLE {kept}")

    def merge_options(self) -> None:
        kept = list(KEPT_OPTIONS)
        names = ", ".join(f":k{i}" for i in range(len(kept)))
        self.run(
            f"INSERT INTO {self.l('options')} (option_name, option_value, autoload) "  # noqa: S608
            f"SELECT option_name, option_value, autoload FROM {self.s('options')} "
            f"WHERE option_name NOT IN ({names}) AND option_name NOT LIKE '\\_transient\\_%' "
            "AND option_name NOT LIKE '\\_site\\_transient\\_%' "
            "ON DUPLICATE KEY UPDATE option_value = VALUES(option_value), "
            "autoload = VALUES(autoload)",
            **{f"k{i}": name for i, name in enumerate(kept)},
        )
        # WordPress makes its rewrite rules again on the next request (a new page's).
        self.run(
            f"UPDATE {self.l('options')} SET option_value = '' "  # noqa: S608
            "WHERE option_name = 'rewrite_rules'"
        )

    def merge_lookup(self) -> None:
        cols = ", ".join(_LOOKUP_STOCK)
        kept = _q(self.live, "sf_kept_stock")
        self.run(
            f"CREATE TEMPORARY TABLE {kept} AS SELECT product_id, "  # noqa: S608
            f"{cols} FROM {self.l('wc_product_meta_lookup')}"
        )
        self.replace(self.prefix + "wc_product_meta_lookup")
        sets = ", ".join(f"m.{c} = k.{c}" for c in _LOOKUP_STOCK)
        self.run(
            f"UPDATE {self.l('wc_product_meta_lookup')} m JOIN {kept} k "  # noqa: S608
            f"ON k.product_id = m.product_id SET {sets}"
        )
        self.run(f"DROP TEMPORARY TABLE {kept}")
