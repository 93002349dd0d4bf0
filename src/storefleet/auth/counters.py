"""Counters the auth feature keeps for the metrics (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

#: Counted by the API process that refused the sign-in.
LOGIN_FAILURES = Counter(
    "storefleet_login_failures",
    "Sign-ins refused for a wrong email or password (or a disabled account)",
    registry=None,
)
