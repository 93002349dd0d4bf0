"""Each local store's php-fpm: a master of its own, started inside the
store's cgroups as the store's uid, so that every worker it forks is held by
the store's limits — and a pool with ``pm = ondemand``, so an idle store
runs no PHP worker at all (drivers/serving's template, sized by the plan).

A store's files for it (``<store dir>/``):

    php-fpm.conf   root:<store gid> 0440 — rendered from its plan; rewritten on a resize
    run/           <store uid>:<web gid> 2750 — php.sock (nginx connects through
                                           the group) and the master's pid file
    logs/          <store uid> 0750     — php-fpm's log and PHP's error log

The master runs in a session of its own (a worker that dies leaves it
serving); the reconciler's sweep starts one that is gone. A resize rewrites
the pool and reloads it gracefully (SIGUSR2: requests in flight finish).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from storefleet.config import Settings
from storefleet.drivers import serving
from storefleet.drivers.base import PermanentError, StoreSnapshot, TransientError
from storefleet.drivers.local.php import StorePhp
from storefleet.drivers.local.site import StoreSites, write_file
from storefleet.plans import Plan


class StoreFpm:
    def __init__(
        self, settings: Settings, sites: StoreSites, php: StorePhp, web_gid: int | None
    ) -> None:
        self.settings = settings
        self.sites = sites
        self.php = php
        self.web_gid = web_gid
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- paths ----------------------------------------------------------------------

    def config(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "php-fpm.conf"

    def socket(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "run" / "php.sock"

    def _pid_file(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "run" / "php-fpm.pid"

    def logs(self, store: StoreSnapshot) -> Path:
        return self.sites.store_dir(store) / "logs"

    # -- configuration ----------------------------------------------------------------

    def prepare(self, store: StoreSnapshot) -> None:
        """The store's run and logs directories (idempotent)."""
        owner = self.sites.owner(store)
        home = self.sites.store_dir(store)
        run, logs = home / "run", home / "logs"
        for path, mode in ((run, 0o2750), (logs, 0o750)):
            path.mkdir(exist_ok=True)
            if owner is not None:
                os.chown(path, owner[0], self.web_gid if path is run and self.web_gid else owner[1])
            path.chmod(mode)

    def write_config(self, store: StoreSnapshot, plan: Plan) -> bool:
        """The store's pool for its plan; True when it changed."""
        home = self.sites.store_dir(store)
        tmp = home / "tmp"
        pool = serving.FpmPool(
            pid_file=str(self._pid_file(store)),
            error_log=str(self.logs(store) / "php-fpm.log"),
            listen=str(self.socket(store)),
            php_error_log=str(self.logs(store) / "php-error.log"),
            sizing=serving.PhpSizing.of(plan),
            idle_seconds=self.settings.php_idle_seconds,
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

    # -- the master --------------------------------------------------------------------

    def pid(self, store: StoreSnapshot) -> int | None:
        """The store's php-fpm master, when it runs."""
        proc = self._procs.get(store.uid)
        if proc is not None and proc.poll() is not None:
            del self._procs[store.uid]  # reaped
        try:
            pid = int(self._pid_file(store).read_text().strip())
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ValueError, PermissionError):
            return None
        # php-fpm names its master "php-fpm: master process (<its config>)".
        if f"master process ({self.config(store)})".encode() not in title:
            return None
        return pid

    def ensure_running(self, store: StoreSnapshot, *, deadline: float) -> str:
        pid = self.pid(store)
        if pid is not None and self.socket(store).exists():
            return f"php-fpm is running (pid {pid})"
        if pid is not None:  # a master without its socket: start it again
            self.stop(store)
        if not self.config(store).is_file():
            raise PermanentError("the store has no php-fpm configuration (the serving step)")
        self.socket(store).unlink(missing_ok=True)
        out = self.logs(store) / "php-fpm.out"
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as sink:
            proc = subprocess.Popen(
                self.php.contained(
                    store, self.settings.php_fpm_binary, "--nodaemonize",
                    "--fpm-config", str(self.config(store)),
                ),
                cwd=self.sites.store_dir(store),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.php.env(),
                start_new_session=True,  # outlives the worker
            )  # fmt: skip
        self._procs[store.uid] = proc
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = _tail(self.logs(store) / "php-fpm.log") or _tail(out)
                raise TransientError(f"php-fpm exited ({proc.returncode}): {tail}")
            if self.socket(store).exists() and self.pid(store) is not None:
                return f"php-fpm started (pid {proc.pid})"
            time.sleep(0.05)
        raise TransientError("php-fpm did not open its socket in time")

    def reload(self, store: StoreSnapshot) -> bool:
        """Graceful: a new configuration for new workers, requests in flight
        finish. False when no master runs (the next start reads it)."""
        pid = self.pid(store)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR2)
        return True

    def stop(self, store: StoreSnapshot, *, timeout: float = 10.0) -> bool:
        """Graceful stop (SIGQUIT: workers finish their request), then a kill."""
        pid = self.pid(store)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid(store) is not None:
            time.sleep(0.05)
        if self.pid(store) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc = self._procs.pop(store.uid, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        return True


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-300:].strip()
    except FileNotFoundError:
        return ""
