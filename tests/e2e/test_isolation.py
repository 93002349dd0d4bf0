"""Local stores are isolated from each other and from the platform: each
store's PHP runs under a uid of its own, its WordPress core is read-only to it,
and from inside one store nothing of another store or of the platform can be
read. Tested the way an attacker would: a PHP file placed in a store (as a
plugin upload would) and requested over HTTP."""

from __future__ import annotations

import grp
import io
import json
import os
import re
import secrets
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import REPO
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password

PROBE = r"""<?php
header('content-type: application/json');
$req = json_decode(file_get_contents('php://input'), true);
$out = ['euid' => function_exists('posix_geteuid') ? posix_geteuid() : null,
        'egid' => function_exists('posix_getegid') ? posix_getegid() : null,
        'read' => [], 'write' => []];
foreach ($req['read'] as $label => $path) {
    $data = @file_get_contents($path);
    $out['read'][$label] = $data === false ? 'denied' : 'read';
}
foreach ($req['write'] as $label => $path) {
    $ok = @file_put_contents($path, "probe\n", FILE_APPEND);
    $out['write'][$label] = $ok === false ? 'denied' : 'written';
}
echo json_encode($out);
"""


@pytest.fixture
def public_data_dir() -> Iterator[Path]:
    """A data dir whose parents anyone may enter (unlike pytest's 0700
    temporary directories), so that only the platform's own modes protect it."""
    path = Path("/var/tmp/storefleet-tests") / f"data-{secrets.token_hex(4)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _ready_pair(
    factory: Callable[..., LocalPlatform], data_dir: Path
) -> tuple[LocalPlatform, dict[str, dict[str, object]], dict[str, str]]:
    # No secret key given: the platform generates its key file in the data
    # dir, as under `make up`.
    platform = factory(data_dir=data_dir, secret_key=None)
    api = platform.admin()
    passwords = {name: store_password() for name in ("alpha", "beta")}
    ids = {
        name: api.create_store(f"iso-{name}", admin_password=pw, sample_products=False).json()["id"]
        for name, pw in passwords.items()
    }
    stores = {name: api.wait_for(store_id, "ready", timeout=120) for name, store_id in ids.items()}
    return platform, stores, passwords


def _probe(platform: LocalPlatform, store: dict[str, object], request: dict[str, object]) -> dict:
    """Place the probe in the store's wp-content as the store's own file and run it."""
    home = platform.store_dir(str(store["uid"]))
    probe = home / "site" / "wp-content" / f"probe-{secrets.token_hex(3)}.php"
    probe.write_text(PROBE)
    owner = home.stat().st_gid
    os.chown(probe, owner, owner)
    resp = httpx.post(f"{store['url']}wp-content/{probe.name}", json=request, timeout=30)
    probe.unlink()
    assert resp.status_code == 200, resp.text[:500]
    result: dict = resp.json()
    return result


def test_a_store_reads_nothing_of_other_stores_or_the_platform(
    local_platform_factory: Callable[..., LocalPlatform], public_data_dir: Path
) -> None:
    platform, stores, _ = _ready_pair(local_platform_factory, public_data_dir)
    alpha, beta = stores["alpha"], stores["beta"]
    alpha_home = platform.store_dir(str(alpha["uid"]))
    beta_home = platform.store_dir(str(beta["uid"]))
    data = platform.settings.data_path
    web = platform.settings.sites_path / "web"
    assert (data / "secret_key").is_file() and (data / "platform.db").is_file()
    # Something in each of the logs the probe must not read.
    assert httpx.get(str(beta["url"]), timeout=30).status_code == 200
    services_env = REPO / "var" / "services.env"
    assert services_env.is_file()  # written by scripts/services.sh

    result = _probe(
        platform,
        alpha,
        {
            "read": {
                # Positive controls: the probe works and reads what it may.
                "own wp-config.php": str(alpha_home / "site" / "wp-config.php"),
                "/etc/hostname": "/etc/hostname",
                # What it must not read.
                "other store's wp-config.php": str(beta_home / "site" / "wp-config.php"),
                "other store's secrets.json": str(beta_home / "secrets.json"),
                "own secrets.json": str(alpha_home / "secrets.json"),
                "var/services.env": str(services_env),
                "secret_key": str(data / "secret_key"),
                "platform database": str(data / "platform.db"),
                "queue database": str(data / "queue.db"),
                "other store's process environment": f"/proc/{_php_pid(beta_home)}/environ",
                "other store's wp-content": str(
                    beta_home / "site" / "wp-content" / "plugins" / "hello.php"
                ),
                "other store's access log": str(web / "logs" / f"{beta['uid']}.access.log"),
                "other store's PHP error log": str(beta_home / "logs" / "php-error.log"),
                "other store's php-fpm pool": str(beta_home / "php-fpm.conf"),
                "nginx's configuration": str(web / "conf" / "nginx.conf"),
            },
            "write": {
                "own uploads": str(alpha_home / "site" / "wp-content" / "uploads" / "probe.txt"),
                "own core file": str(alpha_home / "site" / "wp-includes" / "version.php"),
                "own index.php": str(alpha_home / "site" / "index.php"),
                "own wp-config.php": str(alpha_home / "site" / "wp-config.php"),
                "other store's uploads": str(
                    beta_home / "site" / "wp-content" / "uploads" / "probe.txt"
                ),
            },
        },
    )
    uid = alpha_home.stat().st_gid
    assert result["euid"] == uid and result["egid"] == uid
    assert uid not in (0, beta_home.stat().st_gid)
    assert result["read"] == {
        "own wp-config.php": "read",
        "/etc/hostname": "read",
        "other store's wp-config.php": "denied",
        "other store's secrets.json": "denied",
        "own secrets.json": "denied",
        "var/services.env": "denied",
        "secret_key": "denied",
        "platform database": "denied",
        "queue database": "denied",
        "other store's process environment": "denied",
        "other store's wp-content": "denied",
        "other store's access log": "denied",
        "other store's PHP error log": "denied",
        "other store's php-fpm pool": "denied",
        "nginx's configuration": "denied",
    }
    assert result["write"] == {
        "own uploads": "written",
        "own core file": "denied",
        "own index.php": "denied",
        "own wp-config.php": "denied",
        "other store's uploads": "denied",
    }
    # The release every store links its core from is untouched.
    version = alpha_home / "site" / "wp-includes" / "version.php"
    assert b"probe" not in version.read_bytes()
    # The modes that do it.
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    assert oct((data / "secret_key").stat().st_mode & 0o777) == "0o600"
    # Others may pass through a store's directory (nginx's workers must), not list it.
    assert oct(alpha_home.stat().st_mode & 0o777) == "0o751"
    assert alpha_home.stat().st_uid == 0
    config = alpha_home / "site" / "wp-config.php"
    assert (config.stat().st_uid, config.stat().st_gid) == (0, uid)
    assert oct(config.stat().st_mode & 0o777) == "0o440"
    content = alpha_home / "site" / "wp-content"
    web_gid = grp.getgrnam("www-data").gr_gid
    # The store's, and nginx's to read through its group (setgid: so is what
    # the store writes later); nothing for others.
    assert (content.stat().st_uid, content.stat().st_gid) == (uid, web_gid)
    assert oct(content.stat().st_mode & 0o7777) == "0o2750"


def _php_pid(home: Path) -> int:
    """The store's php-fpm master (it runs as the store's uid)."""
    title = f"master process ({home / 'php-fpm.conf'})"
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if title in " ".join(proc.info["cmdline"] or []):
            return int(proc.info["pid"])
    raise AssertionError(f"no php-fpm for {home}")


def test_a_store_admin_can_still_install_a_plugin(
    local_platform_factory: Callable[..., LocalPlatform], public_data_dir: Path
) -> None:
    platform, stores, passwords = _ready_pair(local_platform_factory, public_data_dir)
    alpha = stores["alpha"]
    admin = wordpress.admin_client(str(alpha["url"]), "admin", passwords["alpha"])
    page = admin.get("/wp-admin/plugin-install.php", params={"tab": "upload"})
    assert page.status_code == 200, page.text[:300]
    nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', page.text)
    assert nonce, "no upload form"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "hello-storefleet/hello-storefleet.php",
            "<?php\n/*\n * Plugin Name: Hello StoreFleet\n * Version: 1.0\n */\n",
        )
    resp = admin.post(
        "/wp-admin/update.php",
        params={"action": "upload-plugin"},
        data={"_wpnonce": nonce.group(1), "install-plugin-submit": "Install Now"},
        files={"pluginzip": ("hello-storefleet.zip", archive.getvalue(), "application/zip")},
    )
    assert resp.status_code == 200, resp.text[:300]
    assert "Plugin installed successfully" in resp.text, resp.text[-2000:]
    plugin = (
        platform.store_dir(str(alpha["uid"]))
        / "site/wp-content/plugins/hello-storefleet/hello-storefleet.php"
    )
    assert plugin.is_file()
    assert plugin.stat().st_uid == platform.store_dir(str(alpha["uid"])).stat().st_gid
    installed = {p["plugin"] for p in wordpress.rest(admin, "/wp/v2/plugins")}
    assert "hello-storefleet/hello-storefleet" in installed


CRON_PLUGIN = r"""<?php
// Proves that wp-cron runs: a single event, scheduled in the past, that
// writes a file when it runs (as the store, from the platform's cron).
add_action('storefleet_test_event', function () {
    file_put_contents(WP_CONTENT_DIR . '/uploads/cron-ran.json',
                      json_encode(['at' => time(), 'uid' => posix_geteuid()]));
});
add_action('init', function () {
    $done = file_exists(WP_CONTENT_DIR . '/uploads/cron-ran.json');
    if (!$done && !wp_next_scheduled('storefleet_test_event')) {
        wp_schedule_single_event(time() - 60, 'storefleet_test_event');
    }
});
"""


def test_wp_cron_runs_for_ready_stores(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    platform = local_platform_factory(store_cron_interval_seconds=1)
    api = platform.admin()
    store = api.wait_for(
        api.create_store("cron-shop", sample_products=False).json()["id"], "ready", timeout=120
    )
    home = platform.store_dir(store["uid"])
    uid = home.stat().st_gid
    plugin = home / "site" / "wp-content" / "mu-plugins" / "cron-probe.php"
    plugin.write_text(CRON_PLUGIN)
    os.chown(plugin, uid, uid)
    assert httpx.get(store["url"], timeout=30).status_code == 200  # schedules the event
    ran = home / "site" / "wp-content" / "uploads" / "cron-ran.json"
    deadline = time.monotonic() + 60
    while not ran.exists():
        assert time.monotonic() < deadline, "wp-cron did not run within 60 s"
        time.sleep(0.5)
    assert json.loads(ran.read_text())["uid"] == uid
