"""The platform's steps of a ``domain`` operation (composed around the
driver's in ``operations.step_lists``):

- ``certificates``: for each of the store's domains that is proven and has
  no certificate yet, or whose certificate is due for renewal, an ACME
  HTTP-01 issuance: the driver answers the challenge where the store is
  served, and keeps the certificate it gets. A domain whose certificate
  cannot be obtained is marked failed with the ACME server's reason (an
  event and a ``domain.failed`` webhook), and the operation goes on: the
  store keeps — or, its certificate expired, falls back to — an address it
  can serve. A renewal that fails keeps the certificate in use until it
  expires and is tried again later.
- ``release``: domains that were being removed are the store's no more
  (after the driver stopped serving them): their names are free.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from storefleet.db import utcnow
from storefleet.domains import repository
from storefleet.domains.certificates import AcmeIssuer, IssuanceFailed, Issued
from storefleet.domains.models import DomainStatus, StoreDomain
from storefleet.drivers.base import StepContext, StepError, StepOutcome, StoreDriver
from storefleet.runtime import Runtime
from storefleet.stores import repository as stores
from storefleet.stores.models import Store
from storefleet.webhooks import events as webhook_events

#: A failed certificate is tried again after an hour, then less often.
_RETRY_SECONDS = 3600.0
_MAX_RETRY_SECONDS = 86400.0


def domain_facts(d: StoreDomain) -> dict[str, Any]:
    """What a webhook says of a domain."""
    return {
        "name": d.name, "status": d.status, "primary": d.is_primary,
        "issued_at": d.issued_at, "expires_at": d.expires_at, "failure_reason": d.failure_reason,
    }  # fmt: skip


def issuer(runtime: Runtime) -> AcmeIssuer:
    s = runtime.settings
    return AcmeIssuer(
        runtime.db, runtime.box, s.acme_directory, email=s.acme_email,
        ca_bundle=str(s.acme_ca_bundle) if s.acme_ca_bundle else None,
        timeout=s.acme_timeout_seconds,
    )  # fmt: skip


def _due(runtime: Runtime, store_id: int) -> list[tuple[int, str, bool]]:
    """(id, name, renewal) of the store's domains that need a certificate now."""
    now = utcnow()
    renew_by = now + dt.timedelta(days=runtime.settings.acme_renew_days)
    with runtime.db.transaction(write=False) as session:
        out = []
        for d in repository.held_by(session, store_id):
            if d.status == DomainStatus.verified:
                out.append((d.id, d.name, False))
            elif (
                d.status == DomainStatus.active
                and (d.check_at is None or d.check_at <= now)
                and (d.expires_at is None or d.expires_at <= renew_by)
            ):
                out.append((d.id, d.name, True))
        return out


def certificates_step(
    runtime: Runtime, driver: StoreDriver
) -> Callable[[StepContext], StepOutcome]:
    def run(ctx: StepContext) -> StepOutcome:
        due = _due(runtime, ctx.store.id)
        if not due:
            return StepOutcome("no certificate to obtain or renew", skipped=True)
        acme = issuer(runtime)
        said = []
        for domain_id, name, renewal in due:
            ctx.check_stop()
            held = driver.certificate_expiry(ctx.store, name)
            renew_by = utcnow() + dt.timedelta(days=runtime.settings.acme_renew_days)
            if held is not None and held > renew_by:
                # Obtained by an earlier try of this step (which stopped before it said so).
                _issued(runtime, ctx.store.id, domain_id, held, kept=True)
                said.append(f"{name}: certificate in place until {held:%Y-%m-%d}")
                continue
            try:
                cert = acme.issue(
                    name,
                    lambda d, token, auth: driver.publish_challenge(ctx, d, token, auth),
                    lambda d, token: driver.withdraw_challenge(ctx, d, token),
                )
            except (IssuanceFailed, StepError) as exc:
                # StepError: the driver could not answer the challenge.
                _failed(runtime, ctx.store.id, domain_id, str(exc), renewal=renewal)
                said.append(f"{name}: {'renewal' if renewal else 'certificate'} failed: {exc}")
                continue
            driver.install_certificate(ctx, name, cert.fullchain_pem, cert.key_pem)
            _issued(runtime, ctx.store.id, domain_id, cert.not_after, renewed=renewal)
            said.append(
                f"{name}: certificate {_verb(cert, renewal)} until {cert.not_after:%Y-%m-%d}"
            )
        return StepOutcome("; ".join(said))

    return run


def _verb(cert: Issued, renewal: bool) -> str:
    return "renewed" if renewal else "obtained"


def _issued(
    runtime: Runtime, store_id: int, domain_id: int, expires: dt.datetime, *,
    renewed: bool = False, kept: bool = False,
) -> None:  # fmt: skip
    with runtime.db.transaction() as session:
        d = session.get(StoreDomain, domain_id, with_for_update=True)
        store = session.get(Store, store_id)
        if (
            d is None
            or store is None
            or d.status not in (DomainStatus.verified, DomainStatus.active)
        ):
            return  # removed meanwhile
        d.status = DomainStatus.active.value
        d.issued_at = d.issued_at if kept and d.issued_at else utcnow()
        d.expires_at = expires
        d.failure_reason = None
        d.checks = 0
        d.check_at = None
        verb = "renewed" if renewed else "obtained"
        stores.add_event(
            session, store_id, "domain",
            f"Domain {d.name}: certificate {verb}, valid until {expires:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip
        webhook_events.domain_certificate(session, store, domain_facts(d), issued=True)


def _failed(runtime: Runtime, store_id: int, domain_id: int, reason: str, *, renewal: bool) -> None:
    with runtime.db.transaction() as session:
        d = session.get(StoreDomain, domain_id, with_for_update=True)
        store = session.get(Store, store_id)
        if d is None or store is None:
            return
        d.checks += 1
        wait = min(_RETRY_SECONDS * 2 ** (d.checks - 1), _MAX_RETRY_SECONDS)
        d.check_at = utcnow() + dt.timedelta(seconds=wait)
        if renewal:
            d.failure_reason = f"renewal failed (the current certificate is kept): {reason}"
            message = (
                f"Domain {d.name}: the certificate could not be renewed; the one in use is "
                f"valid until {d.expires_at:%Y-%m-%d %H:%M} UTC: {reason}"
            )
        else:
            d.status = DomainStatus.failed.value
            d.failure_reason = reason
            message = (
                f"Domain {d.name}: no certificate could be obtained; the store keeps "
                f"its address {store.url}: {reason}"
            )
        stores.add_event(session, store_id, "domain", message, "error")
        webhook_events.domain_certificate(session, store, domain_facts(d), issued=False)


def release_step(runtime: Runtime) -> Callable[[StepContext], StepOutcome]:
    def run(ctx: StepContext) -> StepOutcome:
        from storefleet.domains.service import forget

        names = []
        with runtime.db.transaction() as session:
            for d in repository.held_by(session, ctx.store.id):
                if d.status == DomainStatus.removing:
                    forget(d)
                    names.append(d.name)
        if not names:
            return StepOutcome("no domain to release", skipped=True)
        return StepOutcome(f"released {', '.join(names)}: the store answers there no more")

    return run
