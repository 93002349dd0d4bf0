"""Live store changes as Server-Sent Events.

Each connection polls the platform database (the source of truth) for stores
the user may see whose ``updated_at`` moved. That works the same with the
embedded and the Redis set-up and across any number of API replicas, with no
broker to keep in step; a poll a second per open dashboard is cheap.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Request
from sqlalchemy import select
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from storefleet.auth import access, cookies
from storefleet.auth.access import Principal
from storefleet.db import utcnow
from storefleet.deps import RuntimeDep
from storefleet.exceptions import ERROR_RESPONSES, Forbidden, NotAuthenticated
from storefleet.runtime import Runtime
from storefleet.stores import service
from storefleet.stores.models import Store

router = APIRouter(prefix="/api/stores", tags=["stores"])

_POLL_SECONDS = 1.0
# Rows committed with a timestamp slightly older than the cursor (clock steps,
# slow transactions) are still caught: look back a little and de-duplicate.
_LOOKBACK = dt.timedelta(seconds=5)


def _principal(runtime: Runtime, token: str) -> Principal:
    s = runtime.settings
    with runtime.db.transaction(write=False) as session:
        principal = access.authenticate(
            session, token, key=s.signing_key(), require_2fa=s.require_2fa_for_admins
        )
    why = access.refusal(principal, tag="stores", method="GET", operation="stream_stores")
    if why is not None:
        raise Forbidden(why)
    return principal


def _changes(
    runtime: Runtime, token: str, since: dt.datetime, seen: dict[int, dt.datetime]
) -> list[str]:
    # The credentials are checked at each poll: signing out ends the stream.
    user = _principal(runtime, token).user
    with runtime.db.transaction(write=False) as session:
        q = select(Store).where(Store.updated_at > since - _LOOKBACK, Store.standby.is_(False))
        if not user.is_admin:
            q = q.where(Store.owner_id == user.id)
        rows = [
            s for s in session.scalars(q.order_by(Store.updated_at)).all()
            if seen.get(s.id) != s.updated_at
        ]  # fmt: skip
        for s in rows:
            seen[s.id] = s.updated_at
        return [out.model_dump_json() for out in service.list_out(session, rows)]


@router.get(
    "/stream",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`store` events"},
        401: ERROR_RESPONSES[401],
        403: ERROR_RESPONSES[403],
    },
)
async def stream_stores(request: Request, runtime: RuntimeDep) -> EventSourceResponse:
    """Server-Sent Events: one `store` event (the store's JSON) each time a
    store you may see changes. Sign in with the bearer header or the
    dashboard's session cookie (read it with fetch, not EventSource); a token
    is never taken from the URL."""
    # The Authorization header or the dashboard's session cookie, never a URL:
    # URLs end up in access logs, proxies' logs and browser history.
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else cookies.session_token(request)
    if not token:
        raise NotAuthenticated("Not signed in")
    await anyio.to_thread.run_sync(_principal, runtime, token)

    async def events() -> AsyncIterator[ServerSentEvent]:
        since = utcnow()
        seen: dict[int, dt.datetime] = {}
        yield ServerSentEvent(event="ready", data=json.dumps({"since": since.isoformat()}))
        while not await request.is_disconnected():
            now = utcnow()
            try:
                changed = await anyio.to_thread.run_sync(_changes, runtime, token, since, seen)
            except NotAuthenticated:
                yield ServerSentEvent(event="signed-out", data="{}")
                return
            for data in changed:
                yield ServerSentEvent(event="store", data=data)
            since = now
            # Forget entries that fell out of the look-back window.
            for store_id in [k for k, v in seen.items() if v < since - 2 * _LOOKBACK]:
                del seen[store_id]
            await anyio.sleep(_POLL_SECONDS)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})
