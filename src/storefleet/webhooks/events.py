"""The outbox: events become delivery rows in the transaction that makes
the change they report, one per webhook that wants them.

A member's webhook gets the events of its owner's stores; an admin's
fleet-wide webhook gets every store's. The rows are sent by the worker once
the transaction has committed (the session's ``wake_webhooks`` hook puts a
message on the queue) or, should that message be lost, by the reconciler's
next sweep.

Hooks (one line each where the change happens): a phase change
(``operations.lifecycle.set_phase``), an operation's end
(``StoreOperator._after_operation``) and a halted fleet upgrade
(``fleet.service.note_store_done``) and a custom domain's certificate
(``domains.issuance``).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storefleet.auth.models import Role, User
from storefleet.db import after_commit, utcnow
from storefleet.webhooks.models import EventType, Webhook, WebhookDelivery

if TYPE_CHECKING:
    from storefleet.fleet.models import FleetUpgrade
    from storefleet.stores.models import Store, StoreOperation

#: The key of the session-info callback that wakes the sender after commit.
WAKE = "storefleet.wake_webhooks"
_WOKEN = "storefleet.webhooks_woken"

#: The event a store's arrival in a phase is.
PHASE_EVENTS = {
    "ready": EventType.store_ready,
    "failed": EventType.store_failed,
    "degraded": EventType.store_degraded,
    "deleted": EventType.store_deleted,
}


def _store(store: Store) -> dict[str, Any]:
    return {
        "id": store.id,
        "name": store.name,
        "status": store.phase,
        "url": store.url,
        "owner_id": store.owner_id,
        "failure_reason": store.failure_reason,
        "wordpress_version": store.wordpress_version,
        "woocommerce_version": store.woocommerce_version,
    }


def record(
    session: Session,
    event: EventType,
    data: dict[str, Any],
    *,
    owner_id: int | None,
    store_id: int | None = None,
) -> int:
    """Add the event's deliveries to the session; returns how many."""
    wanted = session.scalars(
        select(Webhook)
        .join(User, User.id == Webhook.owner_id)
        .where(
            Webhook.deleted_at.is_(None),
            User.is_active.is_(True),
            or_(
                Webhook.owner_id == owner_id,
                Webhook.fleet_wide.is_(True) & (User.role == Role.admin.value),
            ),
        )
    ).all()
    hooks = [h for h in wanted if event.value in (h.events or [])]
    if not hooks:
        return 0
    now = utcnow()
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {"id": event_id, "type": event.value, "created_at": now.isoformat(), "data": data},
        separators=(",", ":"),
        default=str,
    )
    for hook in hooks:
        session.add(
            WebhookDelivery(
                webhook_id=hook.id, event_id=event_id, event=event.value, store_id=store_id,
                body=body, created_at=now, next_attempt_at=now,
            )
        )  # fmt: skip
    wake = session.info.get(WAKE)
    if wake is not None and not session.info.get(_WOKEN):
        session.info[_WOKEN] = True

        def woken() -> None:
            session.info.pop(_WOKEN, None)
            wake()

        after_commit(session, woken)
    return len(hooks)


def phase_changed(session: Session, store: Store, previous: str) -> None:
    """A store arrived in a phase (ready, failed, degraded, deleted)."""
    event = PHASE_EVENTS.get(store.phase)
    if event is None or previous == store.phase or store.standby:
        return  # a standby of the warm pool is nobody's store yet
    record(
        session, event, {"store": _store(store), "previous_status": previous},
        owner_id=store.owner_id, store_id=store.id,
    )  # fmt: skip


def operation_ended(session: Session, store: Store, op: StoreOperation) -> None:
    """A backup or an upgrade ended."""
    result = dict(op.result or {})
    if store.standby:
        return
    if op.kind == "backup" and op.status in ("succeeded", "failed"):
        event = EventType.backup_completed if op.status == "succeeded" else EventType.backup_failed
        data: dict[str, Any] = {"backup": result.get("backup"), "reason": op.failure_reason}
    elif op.kind == "upgrade" and op.status == "succeeded":
        event = EventType.upgrade_completed
        data = {"fleet_upgrade_id": op.fleet_upgrade_id, "checkout": result.get("checkout")}
    else:
        return
    data = {"store": _store(store), "operation_id": op.id, **data}
    record(session, event, data, owner_id=store.owner_id, store_id=store.id)


def upgrade_halted(session: Session, upgrade: FleetUpgrade, store: Store | None) -> None:
    """A fleet upgrade halted at ``store``: fleet-wide webhooks and the
    store's owner hear of it."""
    data = {
        "fleet_upgrade": {
            "id": upgrade.id, "wordpress": upgrade.wordpress, "woocommerce": upgrade.woocommerce,
            "halted_reason": upgrade.halted_reason,
        },
        "store": _store(store) if store is not None else None,
    }  # fmt: skip
    owner = store.owner_id if store is not None else None
    record(
        session, EventType.upgrade_halted, data, owner_id=owner, store_id=getattr(store, "id", None)
    )


def domain_certificate(
    session: Session, store: Store, domain: dict[str, Any], *, issued: bool
) -> None:
    """A custom domain's certificate was obtained or renewed (``issued``), or
    could not be: ``domain`` holds its name, status, expiry and the reason."""
    event = EventType.domain_issued if issued else EventType.domain_failed
    record(
        session, event, {"store": _store(store), "domain": domain},
        owner_id=store.owner_id, store_id=store.id,
    )  # fmt: skip
