"""Login throttling: sign-in attempts are counted per account and per client
address in a moving window (the ``limits`` library; in memory with the
embedded set-up, in Redis when ``STOREFLEET_REDIS_URL`` is set, so that every
API replica sees the same counts).

An attempt is counted *before* its password is checked, and the count itself
decides (``hit`` is atomic: a lock in memory, a script in Redis), so that
concurrent guesses cannot all pass a check made before any of them was
counted. A successful sign-in clears its account's count; the address keeps
counting every attempt, so that one address cannot spray guesses across
accounts between sign-ins of its own.
"""

from __future__ import annotations

import contextlib
import math
import time

from limits import RateLimitItemPerSecond, strategies
from limits.errors import StorageError
from limits.storage import Storage
from redis.exceptions import RedisError

from storefleet.config import Settings
from storefleet.exceptions import ServiceUnavailable, TooManyRequests


class LoginThrottle:
    def __init__(self, settings: Settings, storage: Storage) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage)
        window = settings.login_window_seconds
        self._per_account = RateLimitItemPerSecond(settings.login_failures_per_account, window)
        self._per_address = RateLimitItemPerSecond(settings.login_failures_per_address, window)

    def attempt(self, email: str, address: str) -> None:
        """Count one sign-in attempt; 429 when the address or the account has
        used up its attempts. The address goes first, so that a throttled
        address does not use up the attempts of the accounts it guesses at."""
        for item, key, what in (
            (self._per_address, address, "this address"),
            (self._per_account, email.lower(), "this account"),
        ):
            try:
                counted = self._limiter.hit(item, "login", key)
                reset = None if counted else self._limiter.get_window_stats(item, "login", key)[0]
            except (RedisError, StorageError) as exc:
                # Fail closed: without its counts the throttle cannot protect anyone.
                raise ServiceUnavailable(
                    "Sign-in is unavailable: its throttle cannot be reached", retry_after=5
                ) from exc
            if reset is not None:
                raise TooManyRequests(
                    f"Too many sign-in attempts for {what}; try again later",
                    retry_after=math.ceil(reset - time.time()),
                )

    def succeeded(self, email: str) -> None:
        # Should the store be down, the count runs out with its window anyway.
        with contextlib.suppress(RedisError, StorageError):
            self._limiter.clear(self._per_account, "login", email.lower())
