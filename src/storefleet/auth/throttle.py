"""Login throttling: failed sign-ins are counted per account and per client
address in a moving window (the ``limits`` library; in memory with the
embedded set-up, in Redis when ``STOREFLEET_REDIS_URL`` is set, so that every
API replica sees the same counts)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond, storage, strategies

from storefleet.config import Settings
from storefleet.exceptions import TooManyRequests


class LoginThrottle:
    def __init__(self, settings: Settings) -> None:
        uri = settings.redis_url or "memory://"
        self._storage = storage.storage_from_string(uri)
        self._limiter = strategies.MovingWindowRateLimiter(self._storage)
        window = settings.login_window_seconds
        self._per_account = RateLimitItemPerSecond(settings.login_failures_per_account, window)
        self._per_address = RateLimitItemPerSecond(settings.login_failures_per_address, window)

    def check(self, email: str, address: str) -> None:
        """Raise 429 when either the account or the address had too many failures."""
        for item, key, what in (
            (self._per_account, email.lower(), "this account"),
            (self._per_address, address, "this address"),
        ):
            if not self._limiter.test(item, "login", key):
                reset, _remaining = self._limiter.get_window_stats(item, "login", key)
                raise TooManyRequests(
                    f"Too many failed sign-ins for {what}; try again later",
                    retry_after=math.ceil(reset - time.time()),
                )

    def failed(self, email: str, address: str) -> None:
        self._limiter.hit(self._per_account, "login", email.lower())
        self._limiter.hit(self._per_address, "login", address)

    def succeeded(self, email: str) -> None:
        self._limiter.clear(self._per_account, "login", email.lower())
