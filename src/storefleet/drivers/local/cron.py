"""wp-cron for local stores, run only when something is due.

WordPress runs its scheduled events (scheduled sales, emails, WooCommerce's
clean-ups) from wp-cron; StoreFleet turns the page-view trigger off
(``DISABLE_WP_CRON``) and runs ``wp-cron.php`` itself, as the store, in the
store's cgroups. So that idle stores stay idle, it first reads when the
store's next event is due (its ``cron`` option, one query as the platform)
and starts PHP only when one is; each store is looked at once an interval
(``STOREFLEET_STORE_CRON_INTERVAL_SECONDS``), at a point of the interval of
its own, so that a thousand stores are spread over it rather than all at once.
A run that has not finished is never doubled.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import subprocess
import time
from pathlib import Path

from storefleet.config import Settings
from storefleet.drivers.base import StepError, StoreSnapshot
from storefleet.drivers.local.logs import CRON_LOG, PHP_ERROR_LOG
from storefleet.drivers.local.php import StorePhp
from storefleet.drivers.local.site import StoreSites
from storefleet.drivers.storedb import StoreDatabases

log = logging.getLogger(__name__)


class StoreCron:
    def __init__(
        self, settings: Settings, sites: StoreSites, php: StorePhp, databases: StoreDatabases
    ) -> None:
        self.settings = settings
        self.sites = sites
        self.php = php
        self.databases = databases
        # By store uid: when to look next, and the last run.
        self._state: dict[str, tuple[float, subprocess.Popen[bytes] | None]] = {}
        #: Runs started (what the tests and the metrics read).
        self.started = 0

    def forget(self, store: StoreSnapshot) -> None:
        self._state.pop(store.uid, None)

    def tick(self, store: StoreSnapshot) -> bool:
        """Look at ``store`` if its time has come; True when wp-cron started."""
        interval = self.settings.store_cron_interval_seconds
        now = time.monotonic()
        if store.uid not in self._state:
            # A store this worker has not seen: its first look is between one
            # and two intervals from now, at a point of its own.
            share = int.from_bytes(hashlib.sha256(store.uid.encode()).digest()[:4]) / 2**32
            self._state[store.uid] = (now + interval * (1 + share), None)
            return False
        when, proc = self._state[store.uid]
        if (proc is not None and proc.poll() is None) or now < when:
            return False
        self._state[store.uid] = (now + interval, proc)
        try:
            due = self.databases.next_cron(store.uid)
        except StepError as exc:
            log.warning("store %s: when wp-cron is due could not be read: %s", store.uid, exc)
            return False
        if due is None or due > time.time():
            return False
        proc = self._start(store)
        self._state[store.uid] = (now + interval, proc)
        return proc is not None

    def _start(self, store: StoreSnapshot) -> subprocess.Popen[bytes] | None:
        site = self.sites.site(store)
        logs = self.sites.store_dir(store) / "logs"
        # PHP's errors go to the store's error log, as its requests' do.
        command = self.php.command(
            store, "-d", "log_errors=1", "-d", f"error_log={logs / PHP_ERROR_LOG}",
            str(site / "wp-cron.php"),
        )  # fmt: skip
        out = _open_output(logs / CRON_LOG)
        try:
            proc = subprocess.Popen(
                command,
                cwd=site,
                stdin=subprocess.DEVNULL,
                stdout=out if out is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                env=self.php.env(),
                start_new_session=True,
            )
        except OSError as exc:
            log.warning("store %s: wp-cron did not start: %s", store.uid, exc)
            return None
        finally:
            if out is not None:
                os.close(out)
        self.started += 1
        return proc


def _open_output(path: Path) -> int | None:
    """wp-cron's output file, opened by the platform (root) in a directory
    the store owns: never through a link the store put there (it would make
    root append to any file), only a regular file of its own."""
    try:
        fd = os.open(
            path,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            0o600,
        )
    except OSError as exc:
        log.warning("not writing wp-cron's output to %s: %s", path, exc)
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        log.warning("not writing wp-cron's output to %s: not a regular file", path)
        return None
    return fd
