"""Helpers shared by the suites: a platform running for real (in a thread or
as processes), and a small API client."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn
from sqlalchemy import create_engine, text

from storefleet.app import create_app
from storefleet.auth import service as auth_service
from storefleet.auth.models import Role
from storefleet.auth.schemas import UserCreate
from storefleet.config import Settings
from storefleet.drivers.local.cgroups import StoreCgroups
from storefleet.migrations import upgrade
from storefleet.names import is_valid_store_uid
from storefleet.runtime import Runtime
from storefleet.web import server_options

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-for-tests"


def prepare(settings: Settings) -> Runtime:
    """Migrate the platform database and create the admin."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    runtime = Runtime(settings)
    with runtime.db.transaction() as session:
        auth_service.ensure_admin(session, ADMIN_EMAIL, ADMIN_PASSWORD)
    return runtime


def add_member(runtime: Runtime, email: str, password: str = "member-password", **kw: Any) -> None:
    with runtime.db.transaction() as session:
        auth_service.create_user(
            session,
            UserCreate(email=email, password=password, role=Role.member, **kw),
            actor=None,
            client_ip="local",
        )


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes ``storefleet api``/``worker`` processes run
    with ``settings`` (the same database, key, stores server and timings)."""
    env = {
        "STOREFLEET_ENV": settings.env.value,
        "STOREFLEET_DATA_DIR": str(settings.data_path),
        "STOREFLEET_DATABASE_URL": settings.effective_database_url,
        "STOREFLEET_SECRET_KEY": settings.signing_key(),
        "STOREFLEET_STORES_DB_PREFIX": settings.stores_db_prefix,
        "STOREFLEET_SITES_DIR": str(settings.sites_path),
        "STOREFLEET_RELEASES_DIR": str(settings.releases_path),
    }
    if settings.artifacts:
        env["STOREFLEET_ARTIFACTS"] = settings.artifacts
    if settings.stores_db_url:
        env["STOREFLEET_STORES_DB_URL"] = settings.stores_db_url
    if settings.redis_url:
        env["STOREFLEET_REDIS_URL"] = settings.redis_url
    for name in ("lease_seconds", "requeue_after_seconds", "reconcile_interval_seconds",
                 "step_deadline_seconds", "health_interval_seconds",
                 "health_failures_before_degraded", "backup_target", "backup_schedule_hours",
                 "backup_retention_count", "final_backup_days", "backups_path",
                 "log_format", "worker_concurrency", "store_cron_interval_seconds",
                 "worker_startup_wait_seconds", "webhooks_allow_private_networks",
                 "webhook_retry_initial_seconds", "webhook_max_attempts",
                 "require_2fa_for_admins", "stores_http_port", "health_deep_seconds",
                 "page_cache_seconds", "php_idle_seconds", "php_master_idle_seconds",
                 "default_plan", "store_log_max_mib", "stores_https_port", "acme_directory",
                 "domain_check_seconds", "acme_timeout_seconds", "warm_pool_size"):  # fmt: skip
        env[f"STOREFLEET_{name.upper()}"] = str(getattr(settings, name))
    env["STOREFLEET_BACKUP_DIR"] = env.pop("STOREFLEET_BACKUPS_PATH")
    for name in ("backup_s3_endpoint", "backup_s3_bucket", "backup_s3_prefix", "release_pins",
                 "dns_resolver", "acme_ca_bundle"):  # fmt: skip
        if getattr(settings, name) is not None:
            env[f"STOREFLEET_{name.upper()}"] = str(getattr(settings, name))
    for name in ("backup_s3_access_key", "backup_s3_secret_key"):
        secret = getattr(settings, name)
        if secret is not None:
            env[f"STOREFLEET_{name.upper()}"] = secret.get_secret_value()
    env.update(extra)
    return env


class Api:
    """A signed-in client of the HTTP API."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def login(cls, base_url: str, email: str, password: str) -> Api:
        resp = httpx.post(f"{base_url}/api/auth/login", json={"email": email, "password": password})
        assert resp.status_code == 200, resp.text
        return cls(base_url, resp.json()["access_token"])

    def create_store(self, name: str, **body: Any) -> httpx.Response:
        body = {"admin_email": "merchant@example.com", **body, "name": name}
        return self.http.post("/api/stores", json=body)

    def store(self, store_id: int) -> dict[str, Any]:
        resp = self.http.get(f"/api/stores/{store_id}")
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data

    def wait_for(self, store_id: int, status: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        store = self.store(store_id)
        while time.monotonic() < deadline:
            store = self.store(store_id)
            if store["status"] == status:
                return store
            if store["status"] == "failed" and status != "failed":
                raise AssertionError(f"store failed: {store['failure_reason']}\n{store['steps']}")
            time.sleep(0.2)
        raise AssertionError(f"store not {status} within {timeout}s: {store}")

    def operations(self, store_id: int) -> list[dict[str, Any]]:
        resp = self.http.get(f"/api/stores/{store_id}/operations")
        assert resp.status_code == 200, resp.text
        data: list[dict[str, Any]] = resp.json()
        return data

    def wait_operation(self, store_id: int, op_id: int, timeout: float = 180) -> dict[str, Any]:
        """Wait until operation ``op_id`` has ended; return it."""
        deadline = time.monotonic() + timeout
        while True:
            op = next(o for o in self.operations(store_id) if o["id"] == op_id)
            if op["status"] in ("succeeded", "failed", "cancelled"):
                return op
            assert time.monotonic() < deadline, f"operation not done within {timeout}s: {op}"
            time.sleep(0.3)

    def backups(self, store_id: int) -> list[dict[str, Any]]:
        resp = self.http.get(f"/api/stores/{store_id}/backups")
        assert resp.status_code == 200, resp.text
        data: list[dict[str, Any]] = resp.json()["items"]
        return data

    def take_backup(self, store_id: int, timeout: float = 180) -> dict[str, Any]:
        """Take a backup and wait for it; return the completed backup."""
        resp = self.http.post(f"/api/stores/{store_id}/backups")
        assert resp.status_code == 202, resp.text
        backup_id = resp.json()["id"]
        deadline = time.monotonic() + timeout
        while True:
            backup = next(b for b in self.backups(store_id) if b["id"] == backup_id)
            if backup["status"] != "pending":
                assert backup["status"] == "completed", backup
                return backup
            assert time.monotonic() < deadline, f"backup not done within {timeout}s: {backup}"
            time.sleep(0.3)


@contextmanager
def api_in_thread(runtime: Runtime, port: int) -> Iterator[str]:
    """The real ASGI app on a real socket, in this process (no worker), served
    as ``storefleet api`` serves it (trusted proxies), minus its logging set-up."""
    options = {**server_options(runtime.settings), "log_config": None}
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="off",
        **options,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "API did not start"
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


#: How long an API or worker may take to start: importing the application
#: took ~60 s on this shared 2-core machine under a load of 15.
STARTUP = 180.0


class PlatformProcesses:
    """``storefleet api`` and ``storefleet worker`` as real processes, their
    output kept in log files (which the secrets test reads)."""

    def __init__(self, env: dict[str, str], log_dir: Path, port: int) -> None:
        self.env = {**os.environ, **env, "STOREFLEET_PORT": str(port)}
        self.log_dir = log_dir
        self.url = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        #: Each name's latest log (numbered in start order).
        self.log_paths: dict[str, Path] = {}
        self._n = 0

    def start(self, name: str, *, wait: float | None = STARTUP) -> subprocess.Popen[bytes]:
        """Start ``storefleet <name>`` and wait up to ``wait`` seconds until it
        serves (the API) or consumes (a worker); ``None``: do not wait."""
        self._n += 1
        log_path = self.log_paths[name] = self.log_dir / f"{name}-{self._n}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "storefleet", name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        if wait is None:
            return proc
        if name == "api":
            self._wait_healthy(proc)
        else:
            # The worker is consuming.
            self.wait_logged(proc, log_path, "concurrent jobs", timeout=wait)
        return proc

    def wait_logged(
        self, proc: subprocess.Popen[bytes], path: Path, text: str, timeout: float = 60
    ) -> None:
        deadline = time.monotonic() + timeout
        while text not in path.read_text(errors="replace"):
            assert proc.poll() is None, f"the process exited: {path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready: {path.read_text()[-3000:]}"
            time.sleep(0.05)

    def _wait_healthy(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the API exited: {self.logs()}"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("the API did not start")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


def leave_nothing_behind(roots: list[Path], stores_db_url: str | None, db_prefix: str) -> None:
    """Kill every process working under ``roots`` (nginx, php-fpm masters,
    wp-cron) and in the cgroups of the stores there, remove the store sites
    there, and drop the store databases and users named with ``db_prefix``."""
    marks = [str(root) for root in roots]
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(mark in part for part in cmdline for mark in marks):
            with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
                # Its whole group (a server and what it forked), unless that
                # group is this process's own (a child run without a session
                # of its own): then only the process.
                if os.getpgid(proc.pid) == os.getpgrp():
                    proc.kill()
                else:
                    os.killpg(proc.pid, signal.SIGKILL)
    if os.geteuid() == 0:
        cgroups = StoreCgroups(Settings().cgroup_parent)
        for root in roots:
            for home in (root / "stores").glob("*") if (root / "stores").is_dir() else ():
                if is_valid_store_uid(home.name):
                    cgroups.remove(home.name)
    if not stores_db_url:
        return
    pattern = db_prefix.replace("_", r"\_") + "%"
    engine = create_engine(stores_db_url)
    with engine.begin() as conn:
        names = conn.execute(
            text("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :p"),
            {"p": pattern},
        ).scalars()
        for name in list(names):
            conn.execute(text(f"DROP DATABASE `{name}`"))
        users = conn.execute(
            text("SELECT User, Host FROM mysql.user WHERE User LIKE :p"), {"p": pattern}
        ).all()
        for user, host in users:
            conn.execute(text(f"DROP USER '{user}'@'{host}'"))
    engine.dispose()


def database_state(admin_url: str, name: str) -> tuple[int, int]:
    """(databases, users) named ``name`` on a stores' MySQL/MariaDB server."""
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            dbs = conn.execute(
                text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n"),
                {"n": name},
            ).scalar_one()
            users = conn.execute(
                text("SELECT COUNT(*) FROM mysql.user WHERE User = :n"), {"n": name}
            ).scalar_one()
    finally:
        engine.dispose()
    return int(dbs), int(users)
