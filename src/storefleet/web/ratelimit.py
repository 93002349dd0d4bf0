"""The whole API's rate limit: requests per minute per signed-in user (the
subject of the bearer token or session cookie) and per client address, with
the ``limits`` library's sliding-window counters in the same storage as the
sign-in throttle (memory, or Redis shared by every replica).

The defaults (3000 per user, 6000 per address, a minute: 50 and 100 a second)
leave dashboards and polling scripts far below them and stop a client stuck in
a loop from taking the API's capacity for itself. Should
Redis be unreachable, requests pass (the database and the throttle still
protect themselves) and the failure is logged once a minute.
"""

from __future__ import annotations

import logging
import math
import time

import anyio
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from storefleet.auth import access, cookies, tokens
from storefleet.exceptions import NotAuthenticated
from storefleet.runtime import Runtime

log = logging.getLogger(__name__)

_Check = tuple[RateLimitItem, str, str]


class ApiRateLimit:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        s = runtime.settings
        self._settings = s
        self._limiter = SlidingWindowCounterRateLimiter(runtime.limits_storage)
        self._per_user = RateLimitItemPerMinute(s.api_requests_per_minute_per_token)
        self._per_address = RateLimitItemPerMinute(s.api_requests_per_minute_per_address)
        # Redis answers over the network: count off the event loop.
        self._in_thread = s.redis_url is not None
        self._warned_at = 0.0

    def _user(self, conn: HTTPConnection) -> str | None:
        header = conn.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else cookies.session_token(conn)
        if not token:
            return None
        if token.startswith(access.TOKEN_PREFIX):
            return "token:" + access.hash_token(token)[:24]
        try:
            return str(tokens.claims(token, key=self._settings.signing_key())["sub"])
        except NotAuthenticated:
            return None  # answered 401 by the endpoint; counted per address meanwhile

    def _refused(self, checks: list[_Check]) -> float | None:
        """Count the request; the seconds to wait when a limit is reached."""
        try:
            for item, kind, key in checks:
                if not self._limiter.hit(item, "api", kind, key):
                    reset = self._limiter.get_window_stats(item, "api", kind, key).reset_time
                    return max(1.0, reset - time.time())
        except (RedisError, StorageError):
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("the API rate limit cannot count (its storage is down); not limiting")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        address = conn.client.host if conn.client else "unknown"
        checks: list[_Check] = [(self._per_address, "address", address)]
        user = self._user(conn)
        if user is not None:
            checks.append((self._per_user, "user", user))
        if self._in_thread:
            wait = await anyio.to_thread.run_sync(self._refused, checks)
        else:
            wait = self._refused(checks)
        if wait is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": "Too many requests; slow down and try again shortly"},
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
        await response(scope, receive, send)
