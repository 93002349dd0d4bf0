"""`make up` as a newcomer runs it: in the foreground, stopped with Ctrl-C
(SIGINT to the process group), and started again with its stores back."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import REPO, TEST_RELEASES, free_port
from tests.support import Api

PASSWORD = "make-up-admin-password"


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["make", "--no-print-directory", "up"],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # a process group of its own, like a terminal job
    )


def _wait_banner(proc: subprocess.Popen[bytes], log: Path, count: int) -> None:
    deadline = time.monotonic() + 180
    while log.read_text(errors="replace").count("StoreFleet is running") < count:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "make up did not come up in 180 s"
        time.sleep(0.2)


def _ctrl_c(proc: subprocess.Popen[bytes], log: Path) -> None:
    """Ctrl-C: everything stops in order, without a traceback. (make itself
    reports the interrupt as its exit status, as it does in a terminal.)"""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert code in (0, -signal.SIGINT, 130), text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert text.rstrip().endswith("store server(s)"), text[-3000:]


def _servers(sites_dir: Path) -> list[psutil.Process]:
    """The stores' nginx and php-fpm masters (their titles name their
    configuration under the sites dir)."""
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if "master process" in " ".join(p.info["cmdline"] or [])
        and str(sites_dir) in " ".join(p.info["cmdline"] or [])
    ]


@pytest.mark.usefixtures("mariadb_admin_url", "php_and_releases")
def test_make_up_runs_stops_and_brings_stores_back(tmp_path: Path, sites_dir: Path) -> None:
    port = free_port()
    stores_port = free_port()  # never make up's 8080, which may be in use
    data = tmp_path / "var"
    env = {
        **os.environ,
        "STOREFLEET_PORT": str(port),
        "STOREFLEET_DATA_DIR": str(data),
        # Where the stores live (by default /var/lib/storefleet when root), and
        # the releases the suites already verified.
        "STOREFLEET_SITES_DIR": str(sites_dir),
        "STOREFLEET_RELEASES_DIR": str(TEST_RELEASES),
        "STOREFLEET_ADMIN_PASSWORD": PASSWORD,
        "STOREFLEET_STORES_DB_PREFIX": f"mu{port}_",
        "STOREFLEET_STORES_HTTP_PORT": str(stores_port),
        "STOREFLEET_STORES_HTTPS_PORT": str(free_port()),
        "STOREFLEET_RECONCILE_INTERVAL_SECONDS": "1",
        "STOREFLEET_WARM_POOL_SIZE": "0",
    }
    log = tmp_path / "make-up.log"
    url = f"http://127.0.0.1:{port}"

    proc = _start(env, log)
    store_id = None
    try:
        _wait_banner(proc, log, 1)
        assert "Sign in as admin@example.com" in log.read_text()
        assert f"Stores answer at http://<name>.localhost:{stores_port}/" in log.read_text()
        api = Api.login(url, "admin@example.com", PASSWORD)
        created = api.create_store("make-up-shop")
        assert created.status_code == 202
        store_id = created.json()["id"]
        store = api.wait_for(store_id, "ready", timeout=120)
        assert store["url"] == f"http://make-up-shop.localhost:{stores_port}/"
        assert httpx.get(store["url"], timeout=30).status_code == 200
        assert len(_servers(sites_dir)) >= 2  # nginx, and the store's php-fpm
    finally:
        _ctrl_c(proc, log)
    assert _servers(sites_dir) == []  # Ctrl-C stopped the stores too
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/healthz", timeout=2)

    proc = _start(env, log)
    try:
        _wait_banner(proc, log, 2)
        api = Api.login(url, "admin@example.com", PASSWORD)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(store["url"], timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the ready store did not come back"
            time.sleep(0.5)
        assert api.http.delete(f"/api/stores/{store_id}").status_code == 202
        api.wait_for(store_id, "deleted", timeout=60)
    finally:
        _ctrl_c(proc, log)
    assert _servers(sites_dir) == []


def _platform_process(root: int, role: str) -> psutil.Process:
    """``storefleet <role>`` under make up's process tree."""
    for proc in psutil.Process(root).children(recursive=True):
        with_args = proc.cmdline()
        if with_args[-2:] == ["storefleet", role]:
            return proc
    raise AssertionError(f"no storefleet {role} under make up")


@pytest.mark.usefixtures("mariadb_admin_url", "php_and_releases")
def test_make_up_survives_its_parts_dying(tmp_path: Path, sites_dir: Path) -> None:
    """The OOM killer takes the worker while a store is being made, then the
    API: each is back within seconds, every ready store answers throughout,
    and the store in flight becomes ready."""
    port, stores_port = free_port(), free_port()
    env = {
        **os.environ,
        "STOREFLEET_PORT": str(port),
        "STOREFLEET_DATA_DIR": str(tmp_path / "var"),
        "STOREFLEET_SITES_DIR": str(sites_dir),
        "STOREFLEET_RELEASES_DIR": str(TEST_RELEASES),
        "STOREFLEET_ADMIN_PASSWORD": PASSWORD,
        "STOREFLEET_STORES_DB_PREFIX": f"mc{port}_",
        "STOREFLEET_STORES_HTTP_PORT": str(stores_port),
        "STOREFLEET_STORES_HTTPS_PORT": str(free_port()),
        "STOREFLEET_RECONCILE_INTERVAL_SECONDS": "1",
        "STOREFLEET_WARM_POOL_SIZE": "0",
        "STOREFLEET_LEASE_SECONDS": "5",
        "STOREFLEET_REQUEUE_AFTER_SECONDS": "3",
    }
    log = tmp_path / "make-up.log"
    url = f"http://127.0.0.1:{port}"
    proc = _start(env, log)
    failures: list[str] = []
    watching = True

    def watch(store_url: str) -> None:
        while watching:
            try:
                code = httpx.get(store_url, timeout=10).status_code
                if code != 200:
                    failures.append(f"{code}")
            except httpx.HTTPError as exc:
                failures.append(str(exc))
            time.sleep(0.2)

    try:
        _wait_banner(proc, log, 1)
        api = Api.login(url, "admin@example.com", PASSWORD)
        ready = api.wait_for(api.create_store("steady-shop").json()["id"], "ready", timeout=180)

        watcher = threading.Thread(target=watch, args=(ready["url"],), daemon=True)
        watcher.start()
        in_flight = api.create_store("busy-shop").json()["id"]
        deadline = time.monotonic() + 120
        while api.store(in_flight)["current_step"] not in ("install", "server", "verify"):
            assert time.monotonic() < deadline, "never saw the store being made"
            time.sleep(0.1)
        worker = _platform_process(proc.pid, "worker")
        worker.kill()
        killed_at = time.monotonic()
        while True:
            try:
                again = _platform_process(proc.pid, "worker")
                if again.pid != worker.pid:
                    break
            except (AssertionError, psutil.Error):
                pass
            assert time.monotonic() - killed_at < 10, "the worker was not back within 10 s"
            time.sleep(0.1)
        print(f"worker back after {time.monotonic() - killed_at:.1f} s")
        assert api.wait_for(in_flight, "ready", timeout=240)["status"] == "ready"

        _platform_process(proc.pid, "api").kill()
        killed_at = time.monotonic()
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() - killed_at < 10, "the API was not back within 10 s"
            time.sleep(0.1)
        watching = False
        watcher.join(timeout=15)
        assert failures == [], f"the ready store did not always answer: {failures[:5]}"
        text = log.read_text(errors="replace")
        assert "the worker ended (signal 9); starting it again" in text
        assert "the api ended (signal 9); starting it again" in text
    finally:
        watching = False
        _ctrl_c(proc, log)
    assert _servers(sites_dir) == []
