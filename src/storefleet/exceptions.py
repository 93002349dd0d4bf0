"""Domain errors that carry their HTTP status.

Services raise these; one handler in :mod:`storefleet.app` renders them as
``{"detail": ...}`` and the endpoints declare them in OpenAPI.
"""

from __future__ import annotations

from typing import Any


class StoreFleetError(Exception):
    status_code = 500
    headers: dict[str, str] | None = None

    def __init__(self, detail: Any) -> None:
        super().__init__(detail)
        self.detail = detail


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


class TooManyRequests(StoreFleetError):
    status_code = 429

    def __init__(self, detail: Any, retry_after: int | None = None) -> None:
        super().__init__(detail)
        if retry_after is not None:
            self.headers = {"Retry-After": str(max(1, retry_after))}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in, or the token expired or was tampered with"},
    403: {"description": "Signed in, but not allowed"},
    404: {"description": "No such object, or not yours"},
    409: {"description": "Conflicts with the current state"},
    429: {"description": "A quota or rate limit was reached"},
}
