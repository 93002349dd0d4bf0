"""The activator: local stores' php-fpm, started when a request comes and
stopped when the store has been idle for a while — so an idle store runs no
PHP process at all, not even a master.

It holds each active store's listening socket (``<store>/run/php.sock``,
made by root, reachable by nginx through its group) and watches them. When a
request arrives for a store whose php-fpm is not running, the connection
waits in the socket's backlog while the activator starts the store's master
— inside the store's cgroups, as the store's uid (launch.py) — handing it
the socket (php-fpm takes an inherited listening socket from ``FPM_SOCKETS``,
as it does across its own reloads). The master's workers then take the
waiting connection: nothing is refused, the first request after a quiet spell
only waits for PHP to start. A master whose store has had no worker for
``STOREFLEET_PHP_MASTER_IDLE_SECONDS`` is stopped gracefully, and the
activator watches its socket again.

Stores are described by ``<store>/serving.json`` (the driver's ``server``
step writes it; suspension and deletion remove it); the activator reads them
again when it gets SIGHUP and every few seconds. It runs in a session of its
own (the worker's death leaves stores reachable; masters it started keep
serving if it dies itself, and the reconciler starts it again).

    python -m storefleet.drivers.local.activator --sites DIR
        (as root, with the platform's settings in its environment)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from storefleet.config import Settings, get_settings
from storefleet.drivers.local.cgroups import StoreCgroups
from storefleet.drivers.local.php import contained
from storefleet.plans import Plan

log = logging.getLogger("storefleet.activator")

#: How often the store directories are read again (besides on SIGHUP).
RESCAN_SECONDS = 5.0


@dataclass
class Store:
    uid: str
    home: Path
    owner: tuple[int, int] | None
    plan: Plan
    sock: socket.socket | None = None
    master: subprocess.Popen[bytes] | None = None
    last_busy: float = field(default_factory=time.monotonic)
    config_mtime: float = 0.0

    @property
    def socket_path(self) -> Path:
        return self.home / "run" / "php.sock"

    @property
    def config(self) -> Path:
        return self.home / "php-fpm.conf"


def read_description(home: Path) -> dict[str, object] | None:
    try:
        data: dict[str, object] = json.loads((home / "serving.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data


class Activator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cgroups = StoreCgroups(settings.cgroup_parent) if os.geteuid() == 0 else None
        self.web_gid = _web_gid(settings.web_user) if os.geteuid() == 0 else None
        self.stores: dict[str, Store] = {}
        self.selector = selectors.DefaultSelector()
        self._rescan = True
        self._stop = False

    # -- which stores ---------------------------------------------------------------

    def scan(self) -> None:
        seen = set()
        root = self.settings.stores_path
        for home in sorted(root.iterdir()) if root.is_dir() else []:
            data = read_description(home)
            if data is None or data.get("suspended"):
                continue
            uid = str(data["uid"])
            seen.add(uid)
            store = self.stores.get(uid)
            plan = Plan(**data["plan"])  # type: ignore[arg-type]
            raw = data.get("owner")
            owner = (int(raw[0]), int(raw[1])) if isinstance(raw, list) else None
            if store is None:
                store = self.stores[uid] = Store(uid, home, owner, plan)
                self._listen(store)
            elif store.plan != plan:
                store.plan = plan
                if self.cgroups is not None:
                    self.cgroups.ensure(uid, plan)
            self._reload_if_changed(store)
        for uid in set(self.stores) - seen:
            self._forget(self.stores.pop(uid))

    def _listen(self, store: Store) -> None:
        path = store.socket_path
        run = path.parent
        run.mkdir(exist_ok=True)
        if self.web_gid is not None:
            # nginx passes through its group; the store cannot write here (its
            # php-fpm, given the socket, never needs to, nor may it remove it).
            os.chown(run, 0, self.web_gid)
            run.chmod(0o750)
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        if self.web_gid is not None:
            os.chown(path, 0, self.web_gid)
        path.chmod(0o660)
        sock.listen(511)
        # Blocking, as php-fpm's workers expect it (they share this open
        # socket and accept() on it); the activator only waits for it to be
        # readable, it never accepts.
        store.sock = sock
        self.selector.register(sock, selectors.EVENT_READ, store)
        log.info("store %s: listening for its first request", store.uid)

    def _forget(self, store: Store) -> None:
        self._stop_master(store)
        if store.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(store.sock)
            store.sock.close()
            store.socket_path.unlink(missing_ok=True)
        log.info("store %s: no longer served", store.uid)

    # -- masters -----------------------------------------------------------------------

    def _start_master(self, store: Store) -> None:
        if store.sock is None:
            return
        if self.cgroups is not None:
            self.cgroups.ensure(store.uid, store.plan)
        fd = store.sock.fileno()
        os.set_inheritable(fd, True)
        program = contained(
            self.cgroups, store.uid, store.owner,
            self.settings.php_fpm_binary, "--nodaemonize", "--fpm-config", str(store.config),
            # opcache's size is the master's, from the plan (a pool cannot set it).
            "-d", f"opcache.memory_consumption={store.plan.opcache_mib}",
            "-d", "opcache.max_accelerated_files=20000",
        )  # fmt: skip
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "FPM_SOCKETS": f"{store.socket_path}={fd}",
        }
        out = os.open(store.home / "logs" / "php-fpm.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            store.master = subprocess.Popen(
                program, cwd=store.home, env=env, pass_fds=[fd], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(out)
        store.last_busy = time.monotonic()
        store.config_mtime = _mtime(store.config)
        self.selector.unregister(store.sock)
        log.info("store %s: php-fpm started (pid %d) for a request", store.uid, store.master.pid)

    def _stop_master(self, store: Store, timeout: float = 10.0) -> None:
        master = store.master
        if master is None or master.poll() is not None:
            return
        master.send_signal(signal.SIGQUIT)  # graceful: requests in flight finish
        try:
            master.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait(timeout=5)

    def _reload_if_changed(self, store: Store) -> None:
        master = store.master
        if master is None or master.poll() is not None:
            return
        if _mtime(store.config) > store.config_mtime:
            store.config_mtime = _mtime(store.config)
            master.send_signal(signal.SIGUSR2)  # a new pool for new workers
            log.info("store %s: php-fpm reloaded with its new pool", store.uid)

    def _tend(self) -> None:
        """Reap masters that ended, and stop those of idle stores."""
        now = time.monotonic()
        idle = self.settings.php_master_idle_seconds
        for store in self.stores.values():
            master = store.master
            if master is None:
                continue
            if master.poll() is not None:
                log.info("store %s: php-fpm ended (%s)", store.uid, master.returncode)
                store.master = None
                if store.sock is not None:
                    self.selector.register(store.sock, selectors.EVENT_READ, store)
                continue
            if self.cgroups is not None and len(self.cgroups.pids(store.uid)) > 1:
                store.last_busy = now  # a worker runs: the store is busy
            elif self.cgroups is None:
                store.last_busy = now  # not contained: no way to tell, keep it
            if idle > 0 and now - store.last_busy > idle:
                log.info("store %s: idle for %.0f s, stopping php-fpm", store.uid, idle)
                self._stop_master(store)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "_rescan", True))
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "_stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "_stop", True))
        next_scan = 0.0
        while not self._stop:
            if self._rescan or time.monotonic() >= next_scan:
                self._rescan = False
                self.scan()
                next_scan = time.monotonic() + RESCAN_SECONDS
            for key, _events in self.selector.select(timeout=1.0):
                store: Store = key.data
                if store.master is None:
                    try:
                        self._start_master(store)
                    except OSError as exc:
                        log.error("store %s: php-fpm did not start: %s", store.uid, exc)
                        time.sleep(0.5)
            self._tend()
        for store in self.stores.values():
            self._stop_master(store)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _web_gid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def main() -> None:
    import argparse

    from storefleet.logs import configure

    parser = argparse.ArgumentParser(prog="storefleet.drivers.local.activator")
    parser.add_argument("--sites", type=Path, help="the sites directory (STOREFLEET_SITES_DIR)")
    args = parser.parse_args()
    if args.sites is not None:
        os.environ["STOREFLEET_SITES_DIR"] = str(args.sites)
    settings = get_settings()
    configure(settings)
    run = settings.sites_path / "web" / "run"
    run.mkdir(parents=True, exist_ok=True)
    # One activator a sites directory: a second one exits at once.
    lock = (run / "activator.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.info("another activator serves %s", settings.sites_path)
        return
    pid_file = run / "activator.pid"
    pid_file.write_text(str(os.getpid()))
    try:
        Activator(settings).run()
    finally:
        with contextlib.suppress(FileNotFoundError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()


if __name__ == "__main__":
    main()
