"""The processes that serve local stores: each store's PHP server on a port
of its own, the "store unavailable" page of a suspended store, and wp-cron.

The PHP server runs in its own session (process group), so a worker that dies
does not take the stores with it; the reconciler restarts a ready store whose
server is gone (:meth:`StoreServers.supervise`), and runs wp-cron for ready
stores. A suspended store's port answers a short "store unavailable" page
(503) from a tiny PHP server of its own, so a visitor learns why, and nothing
of the store runs meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from storefleet.config import Settings
from storefleet.drivers.base import (
    PermanentError,
    StepContext,
    StepOutcome,
    StoreSnapshot,
    SupervisionReport,
    TransientError,
)
from storefleet.drivers.local.php import StorePhp
from storefleet.drivers.local.site import StoreSites, write_file

log = logging.getLogger(__name__)

_UNAVAILABLE_PAGE = """<?php
// StoreFleet: this store is suspended. Every address answers this page.
http_response_code(503);
header('Retry-After: 3600');
header('Cache-Control: no-store');
header('Content-Type: text/html; charset=utf-8');
?><!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Store unavailable</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>Store unavailable</h1>
<p>This store is not available at the moment. Please come back later.</p>
</body></html>
"""

Running = dict[str, list[psutil.Process]]


class StoreServers:
    """Local stores' ports, PHP servers, "unavailable" pages and wp-cron."""

    def __init__(self, settings: Settings, sites: StoreSites, php: StorePhp) -> None:
        self.settings = settings
        self.sites = sites
        self.php = php
        # wp-cron by store uid: when the next run is due, and the last run.
        self._cron: dict[str, tuple[float, subprocess.Popen[bytes] | None]] = {}

    # -- what runs ----------------------------------------------------------------

    @staticmethod
    def running() -> Running:
        """PHP built-in servers by document root (leaders only, not the worker
        children PHP forks)."""
        found: Running = {}
        for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
            cmd = proc.info["cmdline"] or []
            if "-S" in cmd and "-t" in cmd and cmd.index("-t") + 1 < len(cmd):
                found.setdefault(cmd[cmd.index("-t") + 1], []).append(proc)
        for root, procs in found.items():
            pids = {p.pid for p in procs}
            found[root] = [p for p in procs if p.info["ppid"] not in pids]
        return found

    def _unavailable_dir(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "unavailable"

    def _serving(self, running: Running, store: StoreSnapshot) -> list[psutil.Process]:
        return running.get(str(self.sites.site(store)), [])

    def _apologising(self, running: Running, store: StoreSnapshot) -> list[psutil.Process]:
        return running.get(str(self._unavailable_dir(store)), [])

    @staticmethod
    def kill(procs: list[psutil.Process]) -> None:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        _gone, alive = psutil.wait_procs(procs, timeout=5)
        for proc in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)

    # -- the store's address --------------------------------------------------------

    def endpoint_step(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.port is not None:
            return StepOutcome(f"kept port {ctx.store.port}")
        s = self.settings
        for _ in range(50):
            port = secrets.randbelow(s.store_port_max - s.store_port_min + 1) + s.store_port_min
            if not _port_free(s.store_bind_host, port):
                continue
            url = f"http://{s.public_host}:{port}/"
            # Raises TransientError when another store took the port meanwhile.
            ctx.record(port=port, url=url, admin_url=url + "wp-admin/")
            return StepOutcome(f"port {port}: {url}")
        raise TransientError("no free port found in the store port range")

    @staticmethod
    def release_endpoint_step(ctx: StepContext) -> StepOutcome:
        ctx.record(port=None, url=None, admin_url=None)
        return StepOutcome("released the port")

    # -- steps --------------------------------------------------------------------------

    def server_step(self, ctx: StepContext) -> StepOutcome:
        running = self._serving(self.running(), ctx.store)
        if len(running) == 1 and _port_open("127.0.0.1", ctx.store.port):
            return StepOutcome(f"already running (pid {running[0].pid}) on port {ctx.store.port}")
        self.kill(running)
        pid = self._start_php_server(ctx.store, self.sites.site(ctx.store), deadline=ctx.deadline)
        if not self.sites.isolated:
            ctx.event(
                "The store's PHP runs as the platform's own user: it is not isolated from "
                "other stores (run the platform as root for a uid per store)",
                level="warning",
            )
        return StepOutcome(f"PHP server pid {pid} on port {ctx.store.port}")

    def stop_step(self, ctx: StepContext) -> StepOutcome:
        """Nothing of the store runs (a restore or an upgrade swaps its site)."""
        running = self.running()
        procs = self._serving(running, ctx.store) + self._apologising(running, ctx.store)
        self.kill(procs)
        return StepOutcome(f"stopped {len(procs)} server(s)" if procs else "nothing was running")

    def stop_for_deletion_step(self, ctx: StepContext) -> StepOutcome:
        # The store's server, or its "unavailable" page when it is suspended.
        running = self.running()
        procs = self._serving(running, ctx.store) + self._apologising(running, ctx.store)
        self.kill(procs)
        self._cron.pop(ctx.store.uid, None)
        if self._serving(self.running(), ctx.store):
            raise TransientError("the PHP server did not stop")
        return StepOutcome(
            f"stopped {len(procs)} PHP server(s)" if procs else "no server was running"
        )

    def suspend_step(self, ctx: StepContext) -> StepOutcome:
        running = self.running()
        self.kill(self._serving(running, ctx.store))
        self._cron.pop(ctx.store.uid, None)
        if self._apologising(running, ctx.store):
            return StepOutcome("the store was stopped; the “store unavailable” page is up")
        pid = self._start_unavailable(ctx.store, deadline=ctx.deadline)
        return StepOutcome(
            f"the store's PHP server is stopped; port {ctx.store.port} answers 503 "
            f"“store unavailable” (pid {pid})"
        )

    def resume_step(self, ctx: StepContext) -> StepOutcome:
        self.kill(self._apologising(self.running(), ctx.store))
        return self.server_step(ctx)

    # -- supervision (the reconciler's sweep) and shutdown ---------------------------

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        report = SupervisionReport()
        running = self.running()  # one process scan per sweep, not per store
        for store in ready:
            if store.port is None or not self.sites.site(store).is_dir():
                continue
            # A resume cut short may have left the "unavailable" page up.
            self.kill(self._apologising(running, store))
            if not self._serving(running, store):
                try:
                    self._start_php_server(
                        store, self.sites.site(store), deadline=time.monotonic() + 15
                    )
                except (TransientError, PermanentError) as exc:
                    report.failed[store.id] = str(exc)
                    continue
                report.restarted[store.id] = f"Restarted the PHP server on port {store.port}"
            self._run_cron(store)
        return report

    def supervise_suspended(self, suspended: Sequence[StoreSnapshot]) -> SupervisionReport:
        report = SupervisionReport()
        running = self.running()
        for store in suspended:
            if store.port is None or not self.sites.store_dir(store).is_dir():
                continue
            self.kill(self._serving(running, store))
            if not self._apologising(running, store):
                try:
                    self._start_unavailable(store, deadline=time.monotonic() + 15)
                except (TransientError, PermanentError) as exc:
                    report.failed[store.id] = str(exc)
                    continue
                report.restarted[store.id] = (
                    f"Restarted the “store unavailable” page on port {store.port}"
                )
        return report

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        running = self.running()
        for store in stores:
            self.kill(self._serving(running, store) + self._apologising(running, store))

    # -- starting servers ----------------------------------------------------------

    def _start_unavailable(self, store: StoreSnapshot, *, deadline: float) -> int:
        page = self._unavailable_dir(store)
        page.mkdir(mode=0o755, exist_ok=True)
        page.chmod(0o755)
        write_file(page / "index.php", _UNAVAILABLE_PAGE, 0o644, None)
        return self._start_php_server(store, page, router=page / "index.php", deadline=deadline)

    def _start_php_server(
        self, store: StoreSnapshot, site: Path, *, deadline: float, router: Path | None = None
    ) -> int:
        """PHP's built-in server on the store's port, serving ``site``."""
        if store.port is None:
            raise PermanentError("the store has no port (the endpoint step did not run)")
        if not _port_free(self.settings.store_bind_host, store.port):
            raise TransientError(f"port {store.port} is in use by another program")
        log_path = self.sites.log(store)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PHP_CLI_SERVER_WORKERS": str(self.settings.php_server_workers),
        }
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            proc = subprocess.Popen(
                self.php.command(
                    store, "-S", f"{self.settings.store_bind_host}:{store.port}", "-t", str(site),
                    *([str(router)] if router else []), server=True,
                ),
                cwd=site,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # outlives the worker; killed as a group
                **self.sites.as_store(store),
            )  # fmt: skip
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-300:]
                raise TransientError(f"the PHP server exited ({proc.returncode}): {tail.strip()}")
            host = self.settings.store_bind_host
            if _port_open("127.0.0.1" if host in ("0.0.0.0", "::") else host, store.port):
                return int(proc.pid)
            time.sleep(0.05)
        self.kill([psutil.Process(proc.pid)])
        raise TransientError(f"the PHP server did not open port {store.port} in time")

    def _run_cron(self, store: StoreSnapshot) -> None:
        """Start wp-cron for a ready store when it is due and the last run
        has finished (fire and forget; output to php.log).

        The first run of a store this worker has not seen before (a new
        store, or every store after the platform starts) is due between one
        and two intervals later, at a point of its own: ten stores created at
        once, or a restart, do not run ten wp-crons at once beside the
        provisioning that shares the CPU (they lengthened ten concurrent
        provisions by about a tenth)."""
        interval = self.settings.store_cron_interval_seconds
        now = time.monotonic()
        if store.uid not in self._cron:
            share = int.from_bytes(hashlib.sha256(store.uid.encode()).digest()[:4]) / 2**32
            self._cron[store.uid] = (now + interval * (1 + share), None)
            return
        due, proc = self._cron[store.uid]
        if (proc is not None and proc.poll() is None) or now < due:
            return
        site = self.sites.site(store)
        try:
            fd = os.open(self.sites.log(store), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            with os.fdopen(fd, "ab") as out:
                proc = subprocess.Popen(
                    self.php.command(store, str(site / "wp-cron.php")),
                    cwd=site,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                    start_new_session=True,
                    **self.sites.as_store(store),
                )
        except (OSError, PermanentError) as exc:
            log.warning("store %s: wp-cron did not start: %s", store.uid, exc)
            proc = None
        self._cron[store.uid] = (time.monotonic() + interval, proc)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _port_open(host: str, port: int | None) -> bool:
    if port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
