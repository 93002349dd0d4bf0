"""Registering, listing and removing webhooks, and their deliveries."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth.models import User
from storefleet.crypto import SecretBox
from storefleet.db import utcnow
from storefleet.exceptions import Forbidden, NotFound
from storefleet.webhooks.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from storefleet.webhooks.network import check_url
from storefleet.webhooks.schemas import AttemptOut, DeliveryOut, WebhookCreate

SECRET_PREFIX = "whsec_"


def create(
    session: Session,
    user: User,
    data: WebhookCreate,
    *,
    box: SecretBox,
    allow_private: bool,
    client_ip: str,
) -> tuple[Webhook, str]:
    if data.fleet_wide and not user.is_admin:
        raise Forbidden("Only an admin may register a fleet-wide webhook")
    check_url(data.url, allow_private=allow_private)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    hook = Webhook(
        owner_id=user.id, url=data.url, events=sorted({e.value for e in data.events}),
        fleet_wide=data.fleet_wide, secret_enc=box.seal(secret), created_at=utcnow(),
    )  # fmt: skip
    session.add(hook)
    session.flush()
    audit.record(
        session, "webhook.create", actor=user, target=f"webhook:{hook.id}",
        detail={"events": hook.events, "fleet_wide": hook.fleet_wide}, client_ip=client_ip,
    )  # fmt: skip
    return hook, secret


def mine(session: Session, user: User) -> list[Webhook]:
    return list(
        session.scalars(
            select(Webhook)
            .where(Webhook.owner_id == user.id, Webhook.deleted_at.is_(None))
            .order_by(Webhook.id.desc())
        ).all()
    )


def get_own(session: Session, user: User, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.deleted_at is not None or hook.owner_id != user.id:
        raise NotFound("Webhook not found")
    return hook


def delete(session: Session, user: User, webhook_id: int, *, client_ip: str) -> None:
    """Remove a webhook; deliveries still waiting are dropped (marked failed)."""
    hook = get_own(session, user, webhook_id)
    now = utcnow()
    hook.deleted_at = now
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.webhook_id == hook.id,
            WebhookDelivery.status == DeliveryStatus.pending.value,
        )
        .values(status=DeliveryStatus.failed.value, finished_at=now)
    )
    audit.record(
        session, "webhook.delete", actor=user, target=f"webhook:{hook.id}", client_ip=client_ip
    )


def deliveries(session: Session, hook: Webhook, *, limit: int) -> list[DeliveryOut]:
    rows = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    tries: dict[int, list[AttemptOut]] = {r.id: [] for r in rows}
    for a in session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(tries)))
        .order_by(WebhookAttempt.number)
    ).all():
        tries[a.delivery_id].append(AttemptOut.model_validate(a))
    return [DeliveryOut.model_validate({**_columns(r), "tries": tries[r.id]}) for r in rows]


def _columns(row: WebhookDelivery) -> dict[str, object]:
    return {c.key: getattr(row, c.key) for c in WebhookDelivery.__table__.columns}
