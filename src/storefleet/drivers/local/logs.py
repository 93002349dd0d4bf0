"""A local store's logs on this machine's disk: where they are, reading them
newest first for the API (through ``drivers.store_logs``: the API imports no
driver), and keeping them small (the reconciler's sweep rotates them).

    <sites>/web/logs/<uid>.access.log   nginx's access log of the store, written
                                        by the one nginx (root:<web group> 0750
                                        directory: no store can read it)
    <store dir>/logs/php-error.log      PHP's error log, written by the store's
                                        php-fpm and wp-cron as the store's uid
    <store dir>/logs/php-fpm.log        the store's php-fpm master's own log
    <store dir>/logs/wp-cron.log        what wp-cron runs printed

Each is rotated once it passes ``STOREFLEET_STORE_LOG_MAX_MIB`` (10): renamed
to ``<name>.1`` (the previous ``.1`` is dropped), and the process that holds
it open is told to reopen it (nginx and php-fpm: SIGUSR1; PHP's error log is
opened at each message). So each log takes at most about twice that size.

The store's uid owns ``logs/`` and may put anything there — a symbolic link
to a file it cannot read, a FIFO, a hard link. The platform (root) reads
only regular files of the store's own uid, never through a link, and
rotates by renaming, which follows nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from storefleet.config import Settings
from storefleet.drivers.logs import LogPage, LogQuery, LogSource, RawLine, collect
from storefleet.names import require_valid_store_uid

log = logging.getLogger(__name__)

_CHUNK = 64 << 10
#: Read no more than this of one file for one request (a search that matches
#: nothing reads both files to their start).
_MAX_SCAN_BYTES = 256 << 20
PHP_ERROR_LOG = "php-error.log"
FPM_LOG = "php-fpm.log"
CRON_LOG = "wp-cron.log"


def store_logs_dir(settings: Settings, store_uid: str) -> Path:
    return settings.stores_path / require_valid_store_uid(store_uid) / "logs"


def access_log_path(settings: Settings, store_uid: str) -> Path:
    return settings.sites_path / "web" / "logs" / f"{require_valid_store_uid(store_uid)}.access.log"


def kept(settings: Settings) -> str:
    mib = settings.store_log_max_mib
    return (
        f"This machine keeps each log up to {mib} MiB, then one older file of that size "
        f"(rotated at {mib} MiB)."
    )


def read_store_log(settings: Settings, store_uid: str, query: LogQuery) -> LogPage:
    """The store's lines of ``query.source``, newest first, redacted."""
    if query.source is LogSource.access:
        current = access_log_path(settings, store_uid)
        owner = None  # the platform's own directory: no store writes there
    else:
        logs = store_logs_dir(settings, store_uid)
        current = logs / PHP_ERROR_LOG
        try:
            owner = os.lstat(logs).st_uid
        except FileNotFoundError:
            return LogPage([], more=False, kept=kept(settings))
    return collect(_lines([current, _old(current)], owner), query, kept(settings))


def _old(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def _lines(paths: list[Path], owner: int | None) -> Iterator[RawLine]:
    for path in paths:
        fd = _open(path, owner)
        if fd is None:
            continue
        try:
            for line in _backwards(fd):
                yield None, line
        finally:
            os.close(fd)


def _open(path: Path, owner: int | None) -> int | None:
    """A regular file, opened without following a link or blocking on a
    FIFO, owned by ``owner`` (when given) and not a hard link of another."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a link (ELOOP), or what the store made unreadable
        log.warning("not reading %s: %s", path, exc)
        return None
    st = os.fstat(fd)
    if (
        not stat.S_ISREG(st.st_mode)
        or st.st_nlink != 1
        or (owner is not None and st.st_uid != owner)
    ):
        os.close(fd)
        log.warning("not reading %s: not a regular file of the store's own", path)
        return None
    return fd


def _backwards(fd: int) -> Iterator[str]:
    """The file's lines, last first."""
    pos = os.fstat(fd).st_size
    start = max(0, pos - _MAX_SCAN_BYTES)
    rest = b""
    while pos > start:
        n = min(_CHUNK, pos - start)
        pos -= n
        block = os.pread(fd, n, pos) + rest
        lines = block.split(b"\n")
        rest = lines[0]
        for line in reversed(lines[1:]):
            if line:
                yield line.decode("utf-8", errors="replace")
    if rest:
        yield rest.decode("utf-8", errors="replace")


# -- rotation (the reconciler's sweep, as root) -----------------------------------------


def rotate(path: Path, max_bytes: int) -> bool:
    """Rename ``path`` to ``<path>.1`` once it passes ``max_bytes``; True
    when it did (whoever writes it must reopen it)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size < max_bytes:
        return False
    try:
        os.replace(path, _old(path))
    except OSError as exc:
        # The store put something that cannot be replaced (a directory) in
        # the way: the log is emptied instead, so it never grows without bound.
        log.warning("could not rotate %s (%s): emptying it", path, exc)
        _truncate(path, st)
    return True


def _truncate(path: Path, seen: os.stat_result) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) == (seen.st_dev, seen.st_ino):
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)


def rotate_store(settings: Settings, store_uid: str) -> tuple[bool, bool]:
    """Rotate a store's logs that passed the size; returns (nginx must
    reopen its logs, the store's php-fpm must reopen its own)."""
    limit = settings.store_log_max_mib << 20
    logs = store_logs_dir(settings, store_uid)
    rotate(logs / PHP_ERROR_LOG, limit)  # PHP opens it at each message
    rotate(logs / CRON_LOG, limit)  # opened at each run
    fpm = rotate(logs / FPM_LOG, limit)
    return rotate(access_log_path(settings, store_uid), limit), fpm
