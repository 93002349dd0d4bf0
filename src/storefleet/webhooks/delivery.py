"""Sending webhook deliveries (in the worker).

Each attempt claims its delivery for a while (a crashed worker's claim runs
out), sends the body signed, records the attempt (status code, the first KiB
of the answer, or the error) and either finishes the delivery (2xx; or its
last attempt failed) or sets when it is next due. The waits grow
exponentially with jitter (tenacity's ``wait_exponential_jitter``, from
``STOREFLEET_WEBHOOK_RETRY_INITIAL_SECONDS``, capped at an hour); the queue
is asked to look again then, and the reconciler's sweep sends whatever is
due should that message be lost.

The signature: ``X-StoreFleet-Signature: t=<unix time>,v1=<hex>`` where hex
is HMAC-SHA256(secret, "<t>.<body>"), computed again at each attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

import httpcore
from sqlalchemy import or_, select
from tenacity import RetryCallState, Retrying, wait_exponential_jitter

from storefleet.crypto import InvalidToken
from storefleet.db import utcnow
from storefleet.runtime import Runtime
from storefleet.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from storefleet.webhooks.network import GuardedBackend

log = logging.getLogger(__name__)

USER_AGENT = "StoreFleet-Webhooks/1"
RESPONSE_KEPT = 1024
_MAX_WAIT_SECONDS = 3600.0
_BATCH = 50


def sign(secret: str, timestamp: int, body: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retry_wait(initial: float, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    wait = wait_exponential_jitter(initial=initial, max=_MAX_WAIT_SECONDS, jitter=initial)
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    return float(wait(state))


@dataclass
class _Claimed:
    id: int
    number: int
    url: str
    secret_enc: str
    body: str
    event: str
    event_id: str


@dataclass
class _Answer:
    status: int | None
    response: str | None
    error: str | None
    duration_ms: int


def due(runtime: Runtime, limit: int = _BATCH) -> list[int]:
    """Deliveries whose attempt is due and that no worker holds."""
    now = utcnow()
    with runtime.db.transaction(write=False) as session:
        return list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.pending.value,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(
                        WebhookDelivery.claimed_until.is_(None),
                        WebhookDelivery.claimed_until < now,
                    ),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            ).all()
        )


def wake_if_due(runtime: Runtime) -> None:
    """The reconciler's part: deliveries are due that no worker holds (a
    lost wake-up message, a worker killed mid-send): ask for them."""
    if due(runtime, limit=1):
        runtime.queue.wake_webhooks()


def deliver_due(runtime: Runtime) -> int:
    """Send every delivery that is due (the queue task's body); returns how
    many attempts were made."""
    made = 0
    for delivery_id in due(runtime):
        if attempt(runtime, delivery_id):
            made += 1
    return made


def _claim(runtime: Runtime, delivery_id: int) -> _Claimed | None:
    s = runtime.settings
    now = utcnow()
    with runtime.db.transaction() as session:
        d = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if (
            d is None
            or d.status != DeliveryStatus.pending.value
            or (d.next_attempt_at is not None and d.next_attempt_at > now)
            or (d.claimed_until is not None and d.claimed_until > now)
        ):
            return None
        hook = session.get(Webhook, d.webhook_id)
        if hook is None or hook.deleted_at is not None:
            d.status = DeliveryStatus.failed.value
            d.finished_at = now
            return None
        d.attempts += 1
        d.claimed_until = now + dt.timedelta(seconds=s.webhook_timeout_seconds * 3 + 30)
        return _Claimed(d.id, d.attempts, hook.url, hook.secret_enc, d.body, d.event, d.event_id)


def _send(runtime: Runtime, claimed: _Claimed, secret: str) -> _Answer:
    s = runtime.settings
    t = s.webhook_timeout_seconds
    headers = [
        (b"Content-Type", b"application/json"),
        (b"User-Agent", USER_AGENT.encode()),
        (b"X-StoreFleet-Event", claimed.event.encode()),
        (b"X-StoreFleet-Event-Id", claimed.event_id.encode()),
        (b"X-StoreFleet-Delivery", str(claimed.id).encode()),
        (b"X-StoreFleet-Signature", sign(secret, int(time.time()), claimed.body).encode()),
    ]
    started = time.monotonic()
    backend = GuardedBackend(allow_private=s.webhooks_allow_private_networks)
    try:
        with httpcore.ConnectionPool(network_backend=backend, max_connections=1) as pool:
            with pool.stream(
                "POST", claimed.url, headers=headers, content=claimed.body.encode(),
                extensions={"timeout": {"connect": t, "read": t, "write": t, "pool": t}},
            ) as resp:  # fmt: skip
                kept = b""
                for chunk in resp.iter_stream():
                    kept += chunk
                    if len(kept) >= RESPONSE_KEPT:
                        break
                text = kept[:RESPONSE_KEPT].decode("utf-8", errors="replace")
                took = int((time.monotonic() - started) * 1000)
                return _Answer(resp.status, text, None, took)
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
            httpcore.UnsupportedProtocol, httpcore.ConnectError) as exc:  # fmt: skip
        took = int((time.monotonic() - started) * 1000)
        return _Answer(None, None, f"{type(exc).__name__}: {exc}"[:500], took)


def attempt(runtime: Runtime, delivery_id: int) -> bool:
    """One attempt at a delivery, if it is due and nobody holds it."""
    claimed = _claim(runtime, delivery_id)
    if claimed is None:
        return False
    try:
        secret = runtime.box.open(claimed.secret_enc)
    except InvalidToken:
        answer = _Answer(None, None, "the signing secret cannot be decrypted "
                         "(was STOREFLEET_SECRET_KEY changed?)", 0)  # fmt: skip
    else:
        answer = _send(runtime, claimed, secret)
    _record(runtime, claimed, answer)
    return True


def _record(runtime: Runtime, claimed: _Claimed, answer: _Answer) -> None:
    s = runtime.settings
    now = utcnow()
    wait: float | None = None
    with runtime.db.transaction() as session:
        session.add(
            WebhookAttempt(
                delivery_id=claimed.id, number=claimed.number, at=now,
                duration_ms=answer.duration_ms, status_code=answer.status,
                response=answer.response, error=answer.error,
            )
        )  # fmt: skip
        d = session.get(WebhookDelivery, claimed.id, with_for_update=True)
        if d is None:
            return
        d.claimed_until = None
        d.last_status_code = answer.status
        if answer.status is not None and 200 <= answer.status < 300:
            d.status = DeliveryStatus.succeeded.value
            d.finished_at = now
        elif claimed.number >= s.webhook_max_attempts:
            d.status = DeliveryStatus.failed.value
            d.finished_at = now
        else:
            wait = retry_wait(s.webhook_retry_initial_seconds, claimed.number)
            d.next_attempt_at = now + dt.timedelta(seconds=wait)
    outcome = answer.status if answer.status is not None else answer.error
    log.info(
        "webhook delivery %s (%s) attempt %s: %s", claimed.id, claimed.event, claimed.number,
        outcome,
    )  # fmt: skip
    if wait is not None:
        runtime.queue.wake_webhooks(delay=wait)
