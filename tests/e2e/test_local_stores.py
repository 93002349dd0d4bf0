"""End to end with the local driver: real API and worker processes, real
MariaDB, PHP and WordPress. Each test checks side effects, not only answers."""

from __future__ import annotations

import io
import json
import shutil
import signal
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pymysql
import pytest
import redis
from sqlalchemy import text

from storefleet import smoke
from tests.conftest import artifacts
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password


def _answers_as_a_store(url: str) -> bool:
    """Whether the store's address answers as a store (nginx answers 404 for
    a name that is no store's)."""
    try:
        return httpx.get(url, timeout=5).status_code != 404
    except httpx.HTTPError:
        return False


def _lifecycle(platform: LocalPlatform) -> None:
    api = platform.admin()
    password = store_password()
    resp = api.create_store("corner-shop", admin_email="owner@example.com", admin_password=password)
    assert resp.status_code == 202, resp.text
    store_id = resp.json()["id"]

    store = api.wait_for(store_id, "ready", timeout=120)
    assert [(s["name"], s["status"]) for s in store["steps"]] == [
        ("secrets", "succeeded"), ("endpoint", "succeeded"), ("database", "succeeded"),
        ("files", "succeeded"), ("install", "succeeded"), ("server", "succeeded"),
        ("verify", "succeeded"),
    ]  # fmt: skip
    install = next(s for s in store["steps"] if s["name"] == "install")
    assert "WooCommerce 11.0.1 active" in install["message"], install
    assert (store["wordpress_version"], store["woocommerce_version"]) == ("7.0.4", "11.0.1")
    uid = store["uid"]

    url = store["url"]
    home = httpx.get(url, timeout=30)
    assert home.status_code == 200
    assert "corner-shop" in home.text

    login = wordpress.login(url, "owner@example.com", password)
    assert login.status_code == 302, login.text[:500]
    assert wordpress.signed_in(login)
    wrong = wordpress.login(url, "owner@example.com", password + "x")
    assert not wordpress.signed_in(wrong)

    site_dir = platform.store_dir(uid)
    owner = platform.store_owner(uid)
    assert [p.pid for p in platform.php_servers(uid)], "its php-fpm master runs"
    assert site_dir.is_dir()
    assert platform.db_state(uid) == (1, 1)

    assert api.http.delete(f"/api/stores/{store_id}").status_code == 202
    deleted = api.wait_for(store_id, "deleted", timeout=60)
    assert deleted["url"] is None
    assert not _answers_as_a_store(url)
    assert not site_dir.exists()
    assert platform.db_state(uid) == (0, 0)
    assert platform.php_servers(uid) == []
    if owner is not None:  # nothing of it runs, and its cgroup is gone
        assert [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == owner] == []
        assert not Path(f"/sys/fs/cgroup/pids/storefleet/{uid}").exists()
        assert not Path(f"/sys/fs/cgroup/storefleet/{uid}").exists()

    again = api.create_store("corner-shop", admin_password=password)
    assert again.status_code == 202, again.text
    assert again.json()["id"] != store_id


def test_store_lifecycle_with_the_embedded_queue(local_platform: LocalPlatform) -> None:
    _lifecycle(local_platform)


def test_store_lifecycle_with_redis(
    local_platform_factory: Callable[..., LocalPlatform], redis_url: str
) -> None:
    platform = local_platform_factory(redis_url=redis_url)
    _lifecycle(platform)
    assert redis.Redis.from_url(redis_url).ping()


def test_a_store_user_cannot_read_another_stores_database(local_platform: LocalPlatform) -> None:
    api = local_platform.admin()
    ids = [
        api.create_store(name, sample_products=False).json()["id"]
        for name in ("shop-one", "shop-two")
    ]
    one, two = (api.wait_for(store_id, "ready", timeout=120)["uid"] for store_id in ids)
    secrets_file = local_platform.store_dir(one) / "secrets.json"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    password = json.loads(secrets_file.read_text())["db_password"]
    user = local_platform.db_names(one)

    own = pymysql.connect(host="127.0.0.1", user=user, password=password, database=user)
    with own.cursor() as cur:
        cur.execute("SELECT option_value FROM wp_options WHERE option_name = 'blogname'")
        assert cur.fetchone() == ("shop-one",)
        cur.execute("SELECT uid FROM storefleet_owner")
        assert cur.fetchone() == (one,)
        with pytest.raises(pymysql.err.OperationalError) as denied:
            cur.execute(f"SELECT * FROM `{local_platform.db_names(two)}`.wp_options")
        assert denied.value.args[0] == 1142  # SELECT command denied
        cur.execute("SHOW DATABASES")
        visible = {row[0] for row in cur.fetchall()}
        assert local_platform.db_names(two) not in visible
    own.close()
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(
            host="127.0.0.1", user=user, password=password, database=local_platform.db_names(two)
        )
    assert refused.value.args[0] == 1044  # access denied to database


def test_killed_worker_leaves_nothing_twice(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    platform = local_platform_factory()
    api = platform.admin()
    store_id = api.create_store("survivor").json()["id"]
    deadline = time.monotonic() + 30
    while api.store(store_id)["current_step"] != "install":
        assert api.store(store_id)["status"] != "ready", "provisioning finished before the kill"
        assert time.monotonic() < deadline, "never saw the install step"
        time.sleep(0.02)
    platform.procs.kill("worker", signal.SIGKILL)

    stuck = api.store(store_id)
    assert stuck["status"] == "provisioning"
    platform.procs.start("worker")
    store = api.wait_for(store_id, "ready", timeout=60)

    install = next(s for s in store["steps"] if s["name"] == "install")
    assert install["attempt"] >= 2  # the interrupted step ran again
    uid = store["uid"]
    assert platform.db_state(uid) == (1, 1)
    assert [p.name for p in platform.store_dirs()] == [uid]
    assert [p.name for p in (platform.store_dirs()[0]).iterdir() if p.name.startswith("site")] == [
        "site"
    ]
    assert len(platform.php_servers(uid)) == 1
    # The interrupted installer's work converged: one admin, one set of samples.
    products = wordpress.store_products(store["url"])
    assert len(products) == len({p["name"] for p in products}) >= 10
    assert httpx.get(store["url"], timeout=30).status_code == 200


def test_flushing_redis_loses_no_store(
    local_platform_factory: Callable[..., LocalPlatform], redis_url: str
) -> None:
    platform = local_platform_factory(redis_url=redis_url, start_worker=False)
    api = platform.admin()
    ids = [api.create_store(f"flushed-{n}").json()["id"] for n in range(2)]
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() > 0  # the messages are there...
    client.flushdb()  # ...and now they are gone
    assert client.dbsize() == 0
    platform.procs.start("worker")
    for n, store_id in enumerate(ids):
        store = api.wait_for(store_id, "ready", timeout=60)
        # Ready for real: the store's own server answers with its title.
        assert f"flushed-{n}" in httpx.get(store["url"], timeout=30).text


def test_admin_password_appears_nowhere_once_ready(
    local_platform_factory: Callable[..., LocalPlatform], redis_url: str
) -> None:
    for platform in (local_platform_factory(), local_platform_factory(redis_url=redis_url)):
        api = platform.admin()
        password = store_password()
        name = f"secret-{'r' if platform.redis_url else 's'}"
        store_id = api.create_store(name, admin_password=password).json()["id"]
        api.wait_for(store_id, "ready")
        needle = password.encode()

        data = platform.settings.data_path
        for path in [*data.glob("*.db*"), *Path(platform.procs.log_dir).glob("*.log")]:
            assert needle not in path.read_bytes(), path
        if platform.redis_url:
            client = redis.Redis.from_url(platform.redis_url)
            for key in client.keys("*"):
                assert needle not in client.dump(key), key
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (proc_dir / "cmdline").read_bytes()
            except OSError:
                continue
            assert needle not in cmdline, proc_dir
        assert password not in api.http.get(f"/api/stores/{store_id}").text


def test_a_failed_store_is_retried_from_the_failed_step(
    local_platform_factory: Callable[..., LocalPlatform], tmp_path: Path
) -> None:
    # A release mirror the test can break and mend, and an empty release cache.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    vendor = Path(str(artifacts()))
    shutil.copy(vendor / "woocommerce-11.0.1.zip", mirror)
    good = (vendor / "wordpress-7.0.4.tar.gz").read_bytes()
    broken = mirror / "wordpress-7.0.4.tar.gz"
    with tarfile.open(broken, "w:gz") as tf:  # a WordPress that is not the release
        data = b"<?php // not WordPress\n"
        info = tarfile.TarInfo("wordpress/wp-settings.php")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    platform = local_platform_factory(artifacts=str(mirror), releases_dir=tmp_path / "releases")
    api = platform.admin()
    store_id = api.create_store("retried-shop", sample_products=False).json()["id"]
    failed = api.wait_for(store_id, "failed", timeout=60)
    assert "does not match the pinned release" in failed["failure_reason"]
    assert "STOREFLEET_ARTIFACTS" in failed["failure_reason"]
    files = next(s for s in failed["steps"] if s["name"] == "files")
    assert files["status"] == "failed"

    # The operator mends the mirror; the merchant presses Retry.
    broken.write_bytes(good)
    resp = api.http.post(f"/api/stores/{store_id}/retry")
    assert resp.status_code == 202, resp.text
    store = api.wait_for(store_id, "ready", timeout=120)
    attempts = {s["name"]: s["attempt"] for s in store["steps"] if s["operation"] == "provision"}
    assert attempts["secrets"] == attempts["database"] == 1  # not run again
    assert attempts["files"] == 2
    assert store["failure_reason"] is None
    assert httpx.get(store["url"], timeout=30).status_code == 200


def test_a_reset_platform_database_never_hands_an_old_shop_to_a_new_store(
    local_platform_factory: Callable[..., LocalPlatform], tmp_path: Path
) -> None:
    # A platform whose first store has taken an order...
    first = local_platform_factory(data_dir=tmp_path / "first")
    api = first.admin()
    created = api.create_store("woo-one").json()
    old = api.wait_for(created["id"], "ready", timeout=120)
    order = smoke.run(old["url"], "admin", created["admin_password"])
    assert order.status == "processing"
    first.procs.stop()

    # ...is reset (a new platform database), keeping the stores server, the
    # stores directory and the database prefix. Its first store gets row id 1
    # again, and must get a fresh, empty shop of its own.
    second = local_platform_factory(
        data_dir=tmp_path / "second", stores_db_prefix=first.settings.stores_db_prefix
    )
    api2 = second.admin()
    made = api2.create_store("sells-a-3730", sample_products=False).json()
    assert made["id"] == old["id"] == 1
    new = api2.wait_for(made["id"], "ready", timeout=120)
    assert new["uid"] != old["uid"]
    assert wordpress.store_products(new["url"]) == []
    admin = wordpress.admin_client(new["url"], "admin", made["admin_password"])
    assert wordpress.rest(admin, "/wc/v3/orders") == []
    assert wordpress.rest(admin, "/wp/v2/settings")["title"] == "sells-a-3730"
    assert second.db_state(new["uid"]) == (1, 1)
    assert second.db_state(old["uid"]) == (1, 1)  # the old shop's data is untouched


def test_a_store_refuses_a_database_it_did_not_create(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    platform = local_platform_factory(start_worker=False)
    api = platform.admin()
    created = api.create_store("careful-shop").json()
    name = platform.db_names(created["uid"])
    with platform.stores_db.begin() as conn:  # someone else's data, under the store's name
        conn.execute(text(f"CREATE DATABASE `{name}`"))
        conn.execute(text(f"CREATE TABLE `{name}`.wp_users (ID INT PRIMARY KEY)"))
    platform.procs.start("worker")
    failed = api.wait_for(created["id"], "failed", timeout=60)
    assert "step database" in failed["failure_reason"]
    assert "was not created for this store" in failed["failure_reason"]
    with platform.stores_db.connect() as conn:
        users = conn.execute(
            text("SELECT COUNT(*) FROM mysql.user WHERE User = :n"), {"n": name}
        ).scalar_one()
        tables = conn.execute(
            text("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = :n"),
            {"n": name},
        ).scalar_one()
    assert (users, tables) == (0, 1)
