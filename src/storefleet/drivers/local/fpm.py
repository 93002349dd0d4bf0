"""Each local store's php-fpm: a pool of its own (``pm = ondemand``: no
worker while idle, drivers/serving's template sized by the plan) run by a
master of its own inside the store's cgroups as the store's uid — started by
the activator (activator.py) when a request comes, and stopped by it when the
store has been idle for a while, so that an idle store runs no PHP at all.

A store's files for it (``<store dir>/``):

    php-fpm.conf   root:<store gid> 0440 — its pool; rewritten on a resize
    serving.json   root 0600            — what the activator needs to serve it
                                           (absent: suspended or deleted)
    run/           root:<web gid> 0750  — php.sock, made and held by the activator
                                           (nginx connects through the group)
    logs/          <store uid> 0750     — php-fpm's pid and log, PHP's error log

This module writes them and runs the platform's one activator (in a session
of its own: a worker that dies leaves the stores reachable; the reconciler's
sweep starts it again when it is gone).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from storefleet.config import Settings
from storefleet.drivers import serving
from storefleet.drivers.base import StoreSnapshot, TransientError
from storefleet.drivers.local.logs import PHP_ERROR_LOG
from storefleet.drivers.local.php import StorePhp
from storefleet.drivers.local.site import StoreSites, write_file
from storefleet.plans import Plan


class StoreFpm:
    def __init__(self, settings: Settings, sites: StoreSites, php: StorePhp) -> None:
        self.settings = settings
        self.sites = sites
        self.php = php
        self.pid_file = settings.sites_path / "web" / "run" / "activator.pid"
        self._activator: subprocess.Popen[bytes] | None = None

    # -- paths ----------------------------------------------------------------------

    def config(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "php-fpm.conf"

    def socket(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "run" / "php.sock"

    def logs(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "logs"

    def _description(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "serving.json"

    # -- what the store is served with -------------------------------------------------

    def prepare(self, store: StoreSnapshot) -> None:
        """The store's logs directory (the activator makes run/)."""
        owner = self.sites.owner(store)
        logs = self.logs(store)
        logs.mkdir(exist_ok=True)
        if owner is not None:
            os.chown(logs, *owner)
        logs.chmod(0o750)

    def write_config(self, store: StoreSnapshot, plan: Plan) -> bool:
        """The store's pool for its plan; True when it changed."""
        tmp = self.sites.store_dir(store) / "tmp"
        pool = serving.FpmPool(
            pid_file=str(self.logs(store) / "php-fpm.pid"),
            error_log=str(self.logs(store) / "php-fpm.log"),
            listen=str(self.socket(store)),
            php_error_log=str(self.logs(store) / PHP_ERROR_LOG),
            sizing=serving.PhpSizing.of(plan),
            idle_seconds=self.settings.php_idle_seconds,
            listen_mode=None,  # the activator made the socket, with its modes
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "TMPDIR": str(tmp)},
            admin_values={
                "sys_temp_dir": str(tmp),
                "upload_tmp_dir": str(tmp),
                "session.save_path": str(tmp),
            },
        )
        text = serving.fpm_config(pool)
        path = self.config(store)
        if path.exists() and path.read_text() == text:
            return False
        # The store's master reads it (through its group); no other store can.
        owner = self.sites.owner(store)
        write_file(path, text, 0o440 if owner else 0o600, (0, owner[1]) if owner else None)
        return True

    def serve(self, store: StoreSnapshot, plan: Plan, *, deadline: float) -> str:
        """Tell the activator to serve the store; wait until its socket listens."""
        owner = self.sites.owner(store)
        description = {
            "uid": store.uid,
            "name": store.name,
            "owner": list(owner) if owner else None,
            "plan": {
                "name": plan.name, "memory_mib": plan.memory_mib, "cpus": plan.cpus,
                "pids": plan.pids, "storage_gib": plan.storage_gib,
            },
        }  # fmt: skip
        write_file(self._description(store), json.dumps(description), 0o600, None)
        started = self.ensure_activator()
        self._nudge()
        while not self.socket(store).exists():
            if time.monotonic() > deadline:
                raise TransientError("the activator did not open the store's socket in time")
            time.sleep(0.05)
        pid = self.master_pid(store)
        running = f"php-fpm runs (pid {pid})" if pid else "php-fpm starts with the first request"
        return f"activator {started}; {running}"

    def unserve(self, store: StoreSnapshot, *, timeout: float = 15.0) -> bool:
        """The activator lets the store go: its php-fpm stops (gracefully),
        its socket closes. False when it was not served."""
        path = self._description(store)
        if not path.exists():
            return False
        path.unlink()
        self._nudge()
        deadline = time.monotonic() + timeout
        while self.socket(store).exists() or self.master_pid(store) is not None:
            if self.activator_pid() is None:  # nobody to do it: do it here
                self.stop_master(store)
                self.socket(store).unlink(missing_ok=True)
                break
            if time.monotonic() > deadline:
                raise TransientError("the store's php-fpm did not stop in time")
            time.sleep(0.05)
        return True

    def served(self, store: StoreSnapshot) -> bool:
        return self._description(store).exists() and self.config(store).exists()

    # -- the master -----------------------------------------------------------------------

    def master_pid(self, store: StoreSnapshot) -> int | None:
        """The store's php-fpm master, when it runs."""
        try:
            pid = int((self.logs(store) / "php-fpm.pid").read_text().strip())
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ValueError, PermissionError):
            return None
        # php-fpm names its master "php-fpm: master process (<its config>)".
        if f"master process ({self.config(store)})".encode() not in title:
            return None
        return pid

    def reopen_log(self, store: StoreSnapshot) -> None:
        """After a rotation: the master writes to a new php-fpm.log (SIGUSR1)."""
        pid = self.master_pid(store)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)

    def stop_master(self, store: StoreSnapshot, *, timeout: float = 10.0) -> bool:
        """Graceful stop (SIGQUIT: workers finish their request); the
        activator starts it again with the next request."""
        pid = self.master_pid(store)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.master_pid(store) is not None:
            time.sleep(0.05)
        if self.master_pid(store) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return True

    # -- the activator ----------------------------------------------------------------------

    def activator_pid(self) -> int | None:
        if self._activator is not None and self._activator.poll() is not None:
            self._activator = None  # reaped
        try:
            pid = int(self.pid_file.read_text().strip())
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        if b"storefleet.drivers.local.activator" not in title:
            return None
        return pid

    def ensure_activator(self, *, timeout: float = 15.0) -> str:
        if self.activator_pid() is not None:
            return "running"
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        # Steps of several stores at once: one of them starts it.
        with (self.pid_file.parent / "activator.starting").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.activator_pid() is not None:
                return "running"
            return self._start_activator(timeout)

    def _start_activator(self, timeout: float) -> str:
        log = self.settings.sites_path / "web" / "logs" / "activator.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            self._activator = subprocess.Popen(
                [sys.executable, "-m", "storefleet.drivers.local.activator",
                 "--sites", str(self.settings.sites_path)],
                env={**os.environ, "STOREFLEET_SITES_DIR": str(self.settings.sites_path)},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the worker
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while self.activator_pid() is None:
            if self._activator.poll() is not None:
                tail = log.read_text(errors="replace")[-400:].strip()
                raise TransientError(f"the activator exited ({self._activator.returncode}): {tail}")
            if time.monotonic() > deadline:
                raise TransientError("the activator did not start in time")
            time.sleep(0.05)
        return f"started (pid {self.activator_pid()})"

    def _nudge(self) -> None:
        """Have the activator read the stores' descriptions now."""
        pid = self.activator_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    def stop_activator(self) -> None:
        pid = self.activator_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # it stops the masters it runs
        deadline = time.monotonic() + 30
        while self.activator_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
