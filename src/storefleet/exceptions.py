"""Domain errors that carry their HTTP status.

Services raise these; one handler in :mod:`storefleet.app` renders them as
``{"detail": ...}`` and the endpoints declare them in OpenAPI. An error that
refuses a request worth auditing (a failed sign-in, a quota) carries its audit
entry: the handler records it in a transaction of its own, after the
request's transaction has rolled back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storefleet.audit.service import Entry


class StoreFleetError(Exception):
    status_code = 500
    headers: dict[str, str] | None = None

    def __init__(self, detail: Any, *, audit: Entry | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.audit = audit


class NotAuthenticated(StoreFleetError):
    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(StoreFleetError):
    status_code = 403


class NotFound(StoreFleetError):
    status_code = 404


class Conflict(StoreFleetError):
    status_code = 409


class InvalidInput(StoreFleetError):
    status_code = 422


class _RetryLater(StoreFleetError):
    """An error that says when to try again (``Retry-After``, in seconds)."""

    def __init__(self, detail: Any, *, retry_after: float, audit: Entry | None = None) -> None:
        super().__init__(detail, audit=audit)
        self.retry_after = max(1, int(retry_after + 0.999))
        self.headers = {"Retry-After": str(self.retry_after)}


class TooManyRequests(_RetryLater):
    """A quota or a rate limit: every 429 says when to try again."""

    status_code = 429


class ServiceUnavailable(_RetryLater):
    """Busy or a dependency is down; the request may succeed later."""

    status_code = 503


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in, or the token expired or was tampered with"},
    403: {"description": "Signed in, but not allowed (or the CSRF token is missing)"},
    404: {"description": "No such object, or not yours"},
    409: {"description": "Conflicts with the current state"},
    429: {"description": "A quota or rate limit was reached (see Retry-After)"},
    503: {"description": "Busy, or a dependency is down; try again (see Retry-After)"},
}
