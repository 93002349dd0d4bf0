"""Stores served like a professional host (docs/serving.md), on the local
driver with real nginx, php-fpm, cgroups, WordPress and WooCommerce:

- the page cache: anonymous catalogue pages are HITs on their second view;
  everything that is someone's, changes something or is never the same
  twice is a BYPASS; one store's cache never answers for another, nor a
  deleted store's for a new store of the same name;
- a merchant's price change reaches anonymous shoppers within 10 s;
- limits: every PHP process of a store (php-fpm's master and workers, wp-cron,
  the installer) is in the store's cgroup; a store cannot raise its memory
  limit; a request allocating 1 GiB fails, and so does a PHP process started
  in the store's cgroup with no memory limit of PHP's own — while the
  neighbour keeps serving; an idle store runs no PHP worker;
- a store a previous release served on a port of its own moves to its name's
  address, and the old port redirects.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from storefleet import smoke
from storefleet.drivers.local.cgroups import StoreCgroups
from storefleet.drivers.local.php import LAUNCHER
from tests.conftest import not_here
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password


@pytest.fixture(autouse=True)
def _as_root() -> None:
    if os.geteuid() != 0:
        not_here("stores' own uids and cgroups need the platform to run as root")


# A probe placed in a store as its own file: what its PHP sees of itself.
PROBE = r"""<?php
header('content-type: application/json');
$want = $_GET['do'] ?? 'self';
$out = ['pid' => getmypid(), 'uid' => posix_geteuid(),
        'cgroup' => file_get_contents('/proc/self/cgroup'),
        'memory_limit' => ini_get('memory_limit')];
if ($want === 'raise') {
    $out['raised'] = ini_set('memory_limit', '-1');
    $out['memory_limit_after'] = ini_get('memory_limit');
} elseif ($want === 'gigabyte') {
    $block = str_repeat('x', 1 << 30);
    $out['allocated'] = strlen($block);
} elseif ($want === 'redis') {
    $sock = @fsockopen('127.0.0.1', 6379, $errno, $errstr, 2);
    if ($sock === false) {
        $out['redis'] = "no connection: $errstr";
    } else {
        fwrite($sock, "PING\r\n");
        $out['redis'] = trim((string)fgets($sock));
        fclose($sock);
    }
}
echo json_encode($out);
"""

# A must-use plugin that writes down the cgroup of every PHP CLI run that
# loads WordPress (wp-cron, the installer), and schedules a wp-cron event
# due at once when asked.
RECORDER = r"""<?php
if (PHP_SAPI === 'cli') {
    $name = basename($_SERVER['argv'][0] ?? 'cli', '.php');
    file_put_contents(WP_CONTENT_DIR . "/uploads/sf-cgroup-$name.json", json_encode(
        ['pid' => getmypid(), 'cgroup' => file_get_contents('/proc/self/cgroup')]));
}
add_action('init', function () {
    if (isset($_GET['sf_schedule']) && !wp_next_scheduled('sf_probe_event')) {
        wp_schedule_single_event(time() - 5, 'sf_probe_event');
    }
});
add_action('sf_probe_event', function () {});
"""


def _place(platform: LocalPlatform, store: dict[str, Any], rel: str, text: str) -> Path:
    """A file in the store's wp-content, owned by the store as its own would be."""
    content = platform.store_dir(store["uid"]) / "site" / "wp-content"
    path = content / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    st = content.stat()
    os.chown(path, st.st_uid, st.st_gid)
    path.chmod(0o640)
    return path


def _probe(store: dict[str, Any], name: str, do: str = "self") -> httpx.Response:
    return httpx.get(f"{store['url']}wp-content/{name}", params={"do": do}, timeout=60)


def _cache(resp: httpx.Response) -> str | None:
    return resp.headers.get("x-storefleet-cache")


@pytest.fixture
def two_stores(
    local_platform_factory: Callable[..., LocalPlatform],
) -> tuple[LocalPlatform, dict[str, Any], dict[str, Any], str]:
    platform = local_platform_factory(store_cron_interval_seconds=1, php_idle_seconds=2)
    api = platform.admin()
    password = store_password()
    ids = [
        api.create_store(name, admin_password=password).json()["id"]
        for name in ("serve-one", "serve-two")
    ]
    one, two = (api.wait_for(i, "ready", timeout=180) for i in ids)
    return platform, one, two, password


def test_the_page_cache_keeps_the_catalogue_and_passes_everything_personal(
    two_stores: tuple[LocalPlatform, dict[str, Any], dict[str, Any], str],
) -> None:
    platform, one, two, _ = two_stores
    product = wordpress.store_products(one["url"])[0]
    page = product["permalink"]
    time.sleep(platform.settings.page_cache_seconds + 1)  # whatever verify left has expired
    first, second = httpx.get(page, timeout=30), httpx.get(page, timeout=30)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (_cache(first), _cache(second)) == ("MISS", "HIT")
    assert second.text == first.text and product["name"] in second.text

    # Never from the cache: what changes something, is someone's, or is never the same.
    url = one["url"]
    bypass = {
        "cart": httpx.get(url + "cart/", timeout=30),
        "checkout": httpx.get(url + "checkout/", timeout=30),
        "my-account": httpx.get(url + "my-account/", timeout=30),
        "wp-login.php": httpx.get(url + "wp-login.php", timeout=30),
        "Store API": httpx.get(url, params={"rest_route": "/wc/store/v1/products"}, timeout=30),
        "add-to-cart": httpx.get(url, params={"add-to-cart": product["id"]}, timeout=30),
        "wc-ajax": httpx.get(url, params={"wc-ajax": "get_refreshed_fragments"}, timeout=30),
        "POST": httpx.post(page, data={"x": "1"}, timeout=30),
    }
    cookies = (
        "wordpress_logged_in_abc", "woocommerce_items_in_cart", "woocommerce_cart_hash",
        "wp_woocommerce_session_abc", "comment_author_abc",
    )  # fmt: skip
    for cookie in cookies:
        bypass[cookie] = httpx.get(page, cookies={cookie: "1"}, timeout=30)
    assert {k: _cache(r) for k, r in bypass.items()} == dict.fromkeys(bypass, "BYPASS")
    # A session's page stays out of the cache for the next anonymous shopper:
    # from the cache again (HIT, or MISS once the page expired meanwhile), the
    # page anonymous shoppers saw.
    after = httpx.get(page, timeout=30)
    assert _cache(after) in ("HIT", "MISS")
    assert product["name"] in after.text and "woocommerce-message" not in after.text

    # One store's cache never answers for another: the same path, its own page.
    two_home = httpx.get(two["url"], timeout=30)
    assert "serve-two" in two_home.text and "serve-one" not in two_home.text


def test_a_new_store_of_a_deleted_stores_name_never_gets_its_pages(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    # A cache that keeps pages for five minutes: a key of the name alone would
    # hand the old store's home page to the new one.
    platform = local_platform_factory(page_cache_seconds=300)
    api = platform.admin()
    old = api.wait_for(api.create_store("same-name").json()["id"], "ready", timeout=180)
    name = wordpress.store_products(old["url"])[0]["name"]
    for _ in range(2):
        assert name in httpx.get(old["url"], timeout=30).text
    assert api.http.delete(f"/api/stores/{old['id']}").status_code == 202
    api.wait_for(old["id"], "deleted", timeout=120)
    new_id = api.create_store("same-name", sample_products=False).json()["id"]
    new = api.wait_for(new_id, "ready", timeout=180)
    assert new["url"] == old["url"] and new["uid"] != old["uid"]
    home = httpx.get(new["url"], timeout=30)
    assert home.status_code == 200 and name not in home.text


def test_a_price_change_reaches_anonymous_shoppers_within_10_seconds(
    two_stores: tuple[LocalPlatform, dict[str, Any], dict[str, Any], str],
) -> None:
    _, one, _, password = two_stores
    product = wordpress.store_products(one["url"])[0]
    page = product["permalink"]
    for _ in range(3):
        httpx.get(page, timeout=30)  # cached as every shopper sees it
    assert _cache(httpx.get(page, timeout=30)) == "HIT"
    price = f"{secrets.randbelow(900) + 100}.{secrets.randbelow(90) + 10}"
    admin = wordpress.admin_client(one["url"], "admin", password)
    changed = admin.put(
        "/", params={"rest_route": f"/wc/v3/products/{product['id']}"},
        json={"regular_price": price, "sale_price": ""},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text[:300]
    started = time.monotonic()
    while price not in httpx.get(page, timeout=30).text:
        assert time.monotonic() - started < 10, "the new price did not reach shoppers in 10 s"
        time.sleep(0.25)
    print(f"the new price reached anonymous shoppers after {time.monotonic() - started:.1f} s")


def _in_cgroup(platform: LocalPlatform, uid: str, cgroup_text: str) -> bool:
    parent = platform.settings.cgroup_parent
    suffix = f"/{parent}/{uid}"
    lines = cgroup_text.strip().splitlines()
    if any(line.startswith("0::") and line.endswith(suffix) for line in lines) and len(lines) == 1:
        return True  # cgroup v2
    wanted = {"memory", "cpu", "pids"}
    held = {
        c
        for line in lines
        for c in line.split(":", 2)[1].split(",")
        if line.split(":", 2)[2].endswith(suffix)
    }
    return wanted <= held


def test_every_php_process_of_a_store_is_held_by_its_cgroup(
    two_stores: tuple[LocalPlatform, dict[str, Any], dict[str, Any], str],
) -> None:
    platform, one, two, _ = two_stores
    cgroups = StoreCgroups(platform.settings.cgroup_parent)
    name = f"probe-{secrets.token_hex(3)}.php"
    _place(platform, one, name, PROBE)
    _place(platform, one, "mu-plugins/sf-recorder.php", RECORDER)

    # The php-fpm worker that answers, and its master.
    seen = _probe(one, name).json()
    assert _in_cgroup(platform, one["uid"], seen["cgroup"]), seen["cgroup"]
    assert seen["uid"] == platform.store_owner(one["uid"])
    [master] = platform.php_servers(one["uid"])
    assert cgroups.member_of(master.pid, one["uid"])
    assert not cgroups.member_of(master.pid, two["uid"])

    # wp-cron, started by the platform when an event is due.
    uploads = platform.store_dir(one["uid"]) / "site" / "wp-content" / "uploads"
    httpx.get(one["url"], params={"sf_schedule": "1"}, timeout=30)
    deadline = time.monotonic() + 30
    while not (uploads / "sf-cgroup-wp-cron.json").exists():
        assert time.monotonic() < deadline, "wp-cron did not run for a due event"
        time.sleep(0.5)
    cron = json.loads((uploads / "sf-cgroup-wp-cron.json").read_text())
    assert _in_cgroup(platform, one["uid"], cron["cgroup"]), cron

    # The installer: a restore's adopt step runs it.
    api = platform.admin()
    backup = api.http.post(f"/api/stores/{one['id']}/backups").json()
    deadline = time.monotonic() + 120
    while backup["status"] != "completed":
        assert time.monotonic() < deadline and backup["status"] == "pending", backup
        time.sleep(1)
        items = api.http.get(f"/api/stores/{one['id']}/backups").json()["items"]
        backup = next(b for b in items if b["id"] == backup["id"])
    restore = api.http.post(f"/api/stores/{one['id']}/restore", json={"backup_id": backup["id"]})
    assert restore.status_code == 202, restore.text
    assert api.wait_operation(one["id"], restore.json()["id"])["status"] == "succeeded"
    installer = json.loads((uploads / "sf-cgroup-storefleet-install.json").read_text())
    assert _in_cgroup(platform, one["uid"], installer["cgroup"]), installer


def test_a_store_cannot_take_more_than_its_plan_and_its_neighbour_keeps_serving(
    two_stores: tuple[LocalPlatform, dict[str, Any], dict[str, Any], str],
) -> None:
    platform, one, two, _ = two_stores
    name = f"probe-{secrets.token_hex(3)}.php"
    _place(platform, one, name, PROBE)

    # PHP's own limit is the plan's, and the store's code cannot raise it.
    raised = _probe(one, name, "raise").json()
    assert raised["memory_limit"] == "176M"  # small: 512 MiB for the store, 176 a request
    assert raised["raised"] is False and raised["memory_limit_after"] == "176M"
    # A request that allocates 1 GiB fails...
    gigabyte = _probe(one, name, "gigabyte")
    assert gigabyte.status_code == 500 and "allocated" not in gigabyte.text
    # ... and so does a PHP process in the store's cgroup that lifts PHP's own
    # limit: the kernel stops it at the plan's 512 MiB.
    owner = platform.store_owner(one["uid"])
    assert owner is not None
    cgroups = StoreCgroups(platform.settings.cgroup_parent)
    joins = [a for f in cgroups.procs_files(one["uid"]) for a in ("--join", str(f))]
    hog = subprocess.run(
        [sys.executable, "-I", str(LAUNCHER), *joins, "--uid", str(owner), "--gid", str(owner),
         "--", "php", "-d", "memory_limit=-1", "-r",
         "$b = str_repeat('x', 1 << 30); echo strlen($b);"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert hog.returncode == -9 and hog.stdout == "", (hog.returncode, hog.stdout, hog.stderr)
    # The neighbour never noticed.
    assert httpx.get(two["url"], timeout=30).status_code == 200
    assert httpx.get(one["url"], timeout=30).status_code == 200


def test_store_php_cannot_reach_redis_without_its_password(
    two_stores: tuple[LocalPlatform, dict[str, Any], dict[str, Any], str],
) -> None:
    platform, one, _, _ = two_stores
    name = f"probe-{secrets.token_hex(3)}.php"
    _place(platform, one, name, PROBE)
    answer = _probe(one, name, "redis").json()["redis"]
    assert answer.startswith("-NOAUTH") or answer.startswith("no connection"), answer
    assert "PONG" not in answer


def test_an_idle_store_runs_no_php_and_the_next_request_starts_it(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    # Workers end 2 s after their last request, the master 4 s after its last
    # worker; wp-cron looks at the store only a minute from now.
    platform = local_platform_factory(php_idle_seconds=2, php_master_idle_seconds=4)
    api = platform.admin()
    one = api.wait_for(api.create_store("serve-one").json()["id"], "ready", timeout=180)
    cgroups = StoreCgroups(platform.settings.cgroup_parent)
    for _ in range(3):
        httpx.get(one["url"] + "cart/", timeout=30)  # PHP, not the cache
    assert len(cgroups.pids(one["uid"])) >= 2  # the master and a worker
    # Its workers end after php_idle_seconds, its master after php_master_idle_seconds.
    deadline = time.monotonic() + 60
    while cgroups.pids(one["uid"]):
        assert time.monotonic() < deadline, "still running: " + "; ".join(
            " ".join(psutil.Process(p).cmdline()) + f" ppid {psutil.Process(p).ppid()}"
            for p in cgroups.pids(one["uid"])
        )
        time.sleep(0.5)
    assert platform.php_servers(one["uid"]) == []
    # Nothing is refused: the next shopper waits for PHP to start.
    started = time.monotonic()
    cart = httpx.get(one["url"] + "cart/", timeout=60)
    assert cart.status_code == 200 and "serve-one" in cart.text
    print(f"the first request after idling took {time.monotonic() - started:.2f} s")
    assert len(platform.php_servers(one["uid"])) == 1


def test_a_store_served_on_a_port_of_its_own_moves_to_its_name_and_the_port_redirects(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    """A store the previous release served with PHP's built-in server at
    http://localhost:<port>/ is moved at the next sweep: its address becomes
    its name's, its data stays, and its old port answers with a redirect."""
    from sqlalchemy import create_engine, text

    from storefleet.drivers.base import StoreSnapshot
    from storefleet.drivers.local import LocalDriver
    from tests.conftest import free_port

    platform = local_platform_factory()
    api = platform.admin()
    store = api.wait_for(api.create_store("old-timer").json()["id"], "ready", timeout=180)
    product = wordpress.store_products(store["url"])[0]
    order = smoke.place_order(store["url"])

    # As the previous release left it: no serving files, an address with a port.
    platform.procs.kill("worker")
    port = free_port()
    old_url = f"http://localhost:{port}/"
    home = platform.store_dir(store["uid"])
    for name in ("serving.json", "php-fpm.conf"):
        (home / name).unlink()
    (platform.settings.sites_path / "web" / "conf" / "stores" / f"{store['uid']}.conf").unlink()
    db = create_engine(platform.settings.effective_database_url)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE stores SET url = :u, admin_url = :a, port = :p WHERE id = :i"),
            {"u": old_url, "a": old_url + "wp-admin/", "p": port, "i": store["id"]},
        )
    db.dispose()
    driver = LocalDriver(platform.settings)
    old = StoreSnapshot(id=store["id"], name="old-timer", admin_email="x@example.com",
                        uid=store["uid"], url=old_url)  # fmt: skip
    driver.sites.write_wp_config(old, driver.sites.site(old), driver.sites.owner(old))
    names = driver.shared.databases.names(store["uid"])
    stores_db = create_engine(str(platform.settings.stores_db_url))
    with stores_db.begin() as conn:
        conn.execute(
            text(f"UPDATE `{names.database}`.wp_options SET option_value = :u "
                 "WHERE option_name IN ('home', 'siteurl')"),
            {"u": old_url.rstrip("/")},
        )  # fmt: skip
    stores_db.dispose()

    platform.procs.start("worker")
    deadline = time.monotonic() + 180
    while True:
        moved = api.store(store["id"])
        if moved["url"] == store["url"] and moved["current_operation"] is None:
            break
        assert time.monotonic() < deadline, f"not moved: {moved['url']} {moved['status']}"
        time.sleep(1)
    resize = next(o for o in api.operations(store["id"]) if o["kind"] == "resize")
    assert resize["status"] == "succeeded" and resize["requested_by"] == "reconciler"
    assert moved["status"] == "ready"
    home_page = httpx.get(store["url"], timeout=30)
    assert home_page.status_code == 200 and product["name"] in home_page.text
    redirect = httpx.get(old_url + "shop/?orderby=price", timeout=30, follow_redirects=False)
    assert redirect.status_code == 301
    assert redirect.headers["location"] == store["url"] + "shop/?orderby=price"
    assert smoke.place_order(store["url"]) > order  # it sells, with its orders kept
