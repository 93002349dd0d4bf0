"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106's
low-memory profile: 64 MiB, 3 passes, 4 lanes), and a bound on how many
hashes one process computes at once.

Each Argon2 computation holds 64 MiB while it runs. Unbounded, a burst of
sign-ins (the API serves up to 40 requests at once from its thread pool)
would need 2.5 GiB and get the API killed for its memory; bounded, the burst
waits briefly and then degrades to 503 (and the throttle's 429s):

    concurrency = max(1, STOREFLEET_PASSWORD_CHECK_MEMORY_MIB // 64)

The default budget, 192 MiB, allows 3 checks at once: with the API's own
~150 MiB that stays well under the chart's 512Mi limit.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storefleet.exceptions import ServiceUnavailable

_hasher = PasswordHasher()
#: Memory one Argon2 computation holds, in MiB.
ARGON2_MEMORY_MIB = _hasher.memory_cost // 1024
# Verified against when the account does not exist, so that a login for an
# unknown email costs as much as one for a known email.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A password a person can copy: 20 URL-safe characters (~120 bits)."""
    return secrets.token_urlsafe(15)


def concurrency_for(memory_mib: int) -> int:
    """How many Argon2 computations fit in ``memory_mib`` at once."""
    return max(1, memory_mib // ARGON2_MEMORY_MIB)


class PasswordChecks:
    """The process's Argon2 computations, at most ``concurrency`` at once.

    A caller that cannot get a slot within ``wait_seconds`` gets a 503 with
    Retry-After. ``verifications`` and ``peak`` are counted for the operator
    and the tests.
    """

    def __init__(self, concurrency: int, wait_seconds: float) -> None:
        self.concurrency = concurrency
        self._wait = wait_seconds
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._running = 0
        self.verifications = 0
        self.peak = 0

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._wait):
            raise ServiceUnavailable(
                "Too many sign-ins at once; try again in a moment", retry_after=2
            )
        with self._lock:
            self._running += 1
            self.peak = max(self.peak, self._running)
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
            self._slots.release()

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self._slot():
            with self._lock:
                self.verifications += 1
            return verify_password(password_hash, password)

    def hash(self, password: str) -> str:
        with self._slot():
            return hash_password(password)
