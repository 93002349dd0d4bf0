"""Fleet upgrades end to end: three local stores on WordPress 6.9.7 and
WooCommerce 10.9.4 move to 7.0.4 and 11.0.1 in waves, each store gated on a
real order; then a broken WooCommerce release (pinned, so that it passes
verification, with its main file corrupt) fails its first store, which is
restored to the release it ran and still sells, and the upgrade halts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storefleet.checksums import file_sha256
from storefleet.releases.archives import tree_digest, unpack
from tests.conftest import artifacts
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password
from tests.support import Api

BROKEN = "11.0.2"


def _broken_woocommerce(mirror: Path, work: Path) -> dict[str, Any]:
    """woocommerce-11.0.2.zip: 11.0.1 whose woocommerce.php does not parse,
    and its pin (the digest of that tree, so that it verifies) with its pair."""
    tree = work / "tree"
    tree.mkdir()
    unpack(mirror / "woocommerce-11.0.1.zip", tree, max_bytes=512 << 20)
    main = tree / "woocommerce" / "woocommerce.php"
    main.write_text(main.read_text().replace("<?php", "<?php this is not PHP;", 1))
    archive = mirror / f"woocommerce-{BROKEN}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((tree / "woocommerce").rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tree).as_posix())
    digest, count = tree_digest(tree / "woocommerce")
    return {
        "pairs": [{"wordpress": "7.0.4", "woocommerce": BROKEN}],
        "woocommerce": {
            BROKEN: {
                "file": archive.name,
                "url": f"https://downloads.wordpress.org/plugin/woocommerce.{BROKEN}.zip",
                "top": "woocommerce",
                "tree_sha256": digest,
                "files": count,
                "archive_sha256": [file_sha256(archive)],
            }
        },
    }


def _upgrade(api: Api, **body: Any) -> dict[str, Any]:
    resp = api.http.post("/api/fleet/upgrades", json=body)
    assert resp.status_code == 202, resp.text
    data: dict[str, Any] = resp.json()
    return data


def _wait_fleet(api: Api, upgrade_id: int, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = api.http.get(f"/api/fleet/upgrades/{upgrade_id}").json()
        if data["status"] != "running":
            return data
        assert time.monotonic() < deadline, f"fleet upgrade still running: {data}"
        time.sleep(1)


def _plugin_version(url: str, password: str) -> str:
    admin = wordpress.admin_client(url, "admin", password)
    plugins = {p["plugin"]: p for p in wordpress.rest(admin, "/wp/v2/plugins")}
    return str(plugins["woocommerce/woocommerce"]["version"])


@pytest.mark.timeout(2400)
def test_fleet_upgrade_in_waves_gated_on_an_order_and_halted_by_a_broken_release(
    local_platform_factory: Callable[..., LocalPlatform], tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("wordpress-6.9.7.tar.gz", "wordpress-7.0.4.tar.gz",
                 "woocommerce-10.9.4.zip", "woocommerce-11.0.1.zip"):  # fmt: skip
        shutil.copy(Path(str(artifacts())) / name, mirror)
    work = tmp_path / "work"
    work.mkdir()
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps(_broken_woocommerce(mirror, work)))
    platform = local_platform_factory(
        artifacts=str(mirror), release_pins=pins, releases_dir=tmp_path / "releases"
    )
    api = platform.admin()

    # The platform starts on the previous releases: a fleet upgrade of an
    # empty fleet moves what new stores get.
    first = _upgrade(api, wordpress="6.9.7", woocommerce="10.9.4")
    assert first["status"] == "succeeded" and first["stores"] == []
    passwords = {}
    ids = []
    for n in range(3):
        passwords[n] = store_password()
        made = api.create_store(f"fleet-{n}", admin_password=passwords[n])
        assert made.status_code == 202, made.text
        ids.append(made.json()["id"])
    stores = [api.wait_for(store_id, "ready", timeout=300) for store_id in ids]
    assert {(s["wordpress_version"], s["woocommerce_version"]) for s in stores} == {
        ("6.9.7", "10.9.4")
    }
    assert _plugin_version(stores[0]["url"], passwords[0]) == "10.9.4"

    started = time.monotonic()
    upgrade = _upgrade(api, wordpress="7.0.4", woocommerce="11.0.1")
    assert upgrade["waves"] == [1, 1, 1]
    done = _wait_fleet(api, upgrade["id"])
    took = time.monotonic() - started
    assert done["status"] == "succeeded", done
    assert done["counts"] == {"succeeded": 3}
    for n, store_id in enumerate(ids):
        store = api.store(store_id)
        assert (store["wordpress_version"], store["woocommerce_version"]) == ("7.0.4", "11.0.1")
        assert _plugin_version(store["url"], passwords[n]) == "11.0.1"
        [op] = [o for o in api.operations(store_id) if o["kind"] == "upgrade"]
        checkout = next(s for s in op["steps"] if s["name"] == "checkout")
        assert checkout["status"] == "succeeded"
        assert "confirmed as the admin" in checkout["message"]
        # The test order was removed: the merchant's orders are theirs alone.
        admin = wordpress.admin_client(store["url"], "admin", passwords[n])
        assert wordpress.rest(admin, "/wc/v3/orders") == []
        assert [b["kind"] for b in api.backups(store_id)] == ["upgrade"]
    waves = sorted((s["wave"], s["started_at"]) for s in done["stores"])
    assert [w for w, _ in waves] == [0, 1, 2]
    print(f"\nfleet upgrade of 3 stores: {took:.0f}s, {took / 3:.0f}s per store")
    token = api.http.headers["Authorization"].split()[1]
    shown = subprocess.run(
        [sys.executable, "-m", "storefleet", "fleet", "status", str(upgrade["id"])],
        env={**os.environ, "STOREFLEET_API_URL": platform.url, "STOREFLEET_TOKEN": token},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"fleet upgrade {upgrade['id']}: succeeded" in shown.stdout
    assert "WooCommerce 10.9.4 → 11.0.1" in shown.stdout
    assert shown.stdout.count("succeeded") >= 4  # the upgrade and each store
    new = api.create_store("after-upgrade", sample_products=False).json()
    assert (new["wordpress_version"], new["woocommerce_version"]) == ("7.0.4", "11.0.1")

    # A broken release: the first store fails, is restored, and the rest wait.
    halted = _wait_fleet(api, _upgrade(api, woocommerce=BROKEN, waves=["1", "rest"])["id"])
    assert halted["status"] == "halted", halted
    failed = next(s for s in halted["stores"] if s["status"] == "failed")
    assert failed["store_id"] == ids[0]
    assert "restored from the backup" in halted["halted_reason"]
    assert failed["failure_reason"] and "step upgrade" in failed["failure_reason"], failed
    assert {s["status"] for s in halted["stores"] if s["store_id"] != ids[0]} == {"cancelled"}
    rollback = api.operations(ids[0])[0]
    assert rollback["kind"] == "restore", rollback
    rollback = api.wait_operation(ids[0], rollback["id"], timeout=300)
    assert rollback["status"] == "succeeded", rollback
    store = api.wait_for(ids[0], "ready")
    assert rollback["requested_by"].startswith("rollback of upgrade")
    assert (store["wordpress_version"], store["woocommerce_version"]) == ("7.0.4", "11.0.1")
    assert _plugin_version(store["url"], passwords[0]) == "11.0.1"
    from storefleet import smoke

    assert smoke.run(store["url"], "admin", passwords[0]).status == "processing"
    for store_id in ids[1:]:
        assert api.store(store_id)["woocommerce_version"] == "11.0.1"
    assert api.http.get("/api/fleet/releases").json()["woocommerce"] == "11.0.1"
