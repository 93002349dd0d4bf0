"""The unprivileged uid each local store's PHP runs as.

A uid is claimed by creating ``<sites>/uids/<n>`` exclusively (``O_EXCL``),
holding the store's uid, so two workers — or two platforms sharing this
machine's sites directory — never hand one uid to two stores. A claim is
found again by its content after a crash, and released when the store is
deleted. The uids need no passwd entry: files and processes only need numbers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from storefleet.drivers.base import TransientError


class StoreAccounts:
    def __init__(self, root: Path, low: int, high: int) -> None:
        self.root = root
        self.low = low
        self.high = high

    def find(self, store_uid: str) -> int | None:
        """The uid claimed for ``store_uid``, if any."""
        if not self.root.is_dir():
            return None
        for entry in os.scandir(self.root):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if Path(entry.path).read_text(encoding="ascii").strip() == store_uid:
                        return int(entry.name)
        return None

    def claim(self, store_uid: str) -> int:
        """The store's uid: the one it claimed before, or a new one."""
        found = self.find(store_uid)
        if found is not None:
            return found
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for _ in range(100):
            n = self.low + secrets.randbelow(self.high - self.low + 1)
            try:
                fd = os.open(self.root / str(n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(store_uid)
            return n
        raise TransientError("no free uid found for the store's processes")

    def release(self, store_uid: str) -> None:
        found = self.find(store_uid)
        if found is not None:
            (self.root / str(found)).unlink(missing_ok=True)
