"""The reconciler's share of custom domains, each sweep:

- looks up the TXT records of domains waiting for their ownership proof
  (when due: every ``STOREFLEET_DOMAIN_CHECK_SECONDS`` at first, then less
  often, doubling, at most hourly) and, once one is seen, asks for the
  store's ``domain`` operation;
- asks for it when a certificate is due for renewal
  (``STOREFLEET_ACME_RENEW_DAYS`` before it expires), when a failed
  certificate is due another try, and when a domain waits to be routed or
  removed;
- marks a domain whose certificate expired without a renewal failed, and
  asks for the operation that moves the store's address off it: a store
  never keeps an address it cannot serve;
- frees the names of deleted stores' domains.
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from sqlalchemy import select

from storefleet.db import utcnow
from storefleet.domains import proof, repository, service
from storefleet.domains.issuance import domain_facts
from storefleet.domains.models import DomainStatus, StoreDomain
from storefleet.runtime import Runtime
from storefleet.stores import repository as stores
from storefleet.stores.models import Phase, Store
from storefleet.webhooks import events as webhook_events

log = logging.getLogger(__name__)

_LOOKUPS_AT_ONCE = 4
_MAX_CHECK_SECONDS = 3600.0


def sweep(runtime: Runtime) -> None:
    check_proofs(runtime)
    expire(runtime)
    converge(runtime)


def next_check(runtime: Runtime, checks: int, cap: float = _MAX_CHECK_SECONDS) -> dt.datetime:
    wait = min(runtime.settings.domain_check_seconds * 2 ** max(0, checks - 1), cap)
    return utcnow() + dt.timedelta(seconds=wait)


def check_proofs(runtime: Runtime) -> dict[str, bool]:
    """Look up the TXT records that are due; returns {domain: found}."""
    with runtime.db.transaction(write=False) as session:
        due = [
            (d.id, d.name, d.token)
            for d in repository.in_status(session, (DomainStatus.pending,), due=utcnow(), limit=200)
        ]
    if not due:
        return {}
    res = proof.resolver(runtime.settings.dns_resolver)
    with ThreadPoolExecutor(max_workers=_LOOKUPS_AT_ONCE) as pool:
        seen = list(pool.map(lambda d: proof.check(d[1], d[2], res), due))
    found: dict[str, bool] = {}
    with runtime.db.transaction() as session:
        for (domain_id, name, _token), result in zip(due, seen, strict=True):
            d = session.get(StoreDomain, domain_id, with_for_update=True)
            if d is None or d.status != DomainStatus.pending:
                continue
            found[name] = result.found
            if not result.found:
                d.checks += 1
                d.check_at = next_check(runtime, d.checks)
                d.failure_reason = result.detail
                continue
            d.status = DomainStatus.verified.value
            d.verified_at = utcnow()
            d.failure_reason = None
            d.checks = 0
            d.check_at = None
            stores.add_event(
                session, d.store_id, "domain", f"Domain {name}: ownership proven ({result.detail})"
            )
    return found


def expire(runtime: Runtime) -> list[str]:
    """Active domains whose certificate has expired become failed."""
    now = utcnow()
    done = []
    with runtime.db.transaction() as session:
        rows = session.scalars(
            select(StoreDomain).where(
                StoreDomain.status == DomainStatus.active.value, StoreDomain.expires_at < now
            )
        ).all()
        for d in rows:
            store = session.get(Store, d.store_id)
            if store is None:
                continue
            last = f": {d.failure_reason}" if d.failure_reason else ""
            d.status = DomainStatus.failed.value
            d.failure_reason = f"its certificate expired on {d.expires_at:%Y-%m-%d %H:%M} UTC{last}"
            d.check_at = now  # another try at the next sweep
            stores.add_event(
                session, store.id, "domain",
                f"Domain {d.name}: {d.failure_reason}; the store falls back to its own address",
                "error",
            )  # fmt: skip
            webhook_events.domain_certificate(session, store, domain_facts(d), issued=False)
            done.append(d.name)
    return done


def converge(runtime: Runtime) -> list[int]:
    """Ask for a ``domain`` operation on the stores whose domains need one;
    returns their ids."""
    now = utcnow()
    renew_by = now + dt.timedelta(days=runtime.settings.acme_renew_days)
    asked: list[int] = []
    with runtime.db.transaction() as session:
        rows = repository.in_status(
            session,
            (DomainStatus.verified, DomainStatus.removing, DomainStatus.active,
             DomainStatus.failed),
            limit=2000,
        )  # fmt: skip
        by_store: dict[int, list[StoreDomain]] = {}
        for d in rows:
            by_store.setdefault(d.store_id, []).append(d)
        for store_id, domains in sorted(by_store.items()):
            store = stores.get(session, store_id)
            if store is None:
                continue
            if store.phase == Phase.deleted:
                for d in domains:
                    service.forget(d)
                continue
            if any(_wants_work(d, store, now, renew_by) for d in domains) and service.nudge(
                session, runtime, store, requested_by="reconciler"
            ):
                asked.append(store_id)
    if asked:
        log.info("asked for domain operations on stores %s", asked)
    return asked


def _wants_work(d: StoreDomain, store: Store, now: dt.datetime, renew_by: dt.datetime) -> bool:
    due = d.check_at is None or d.check_at <= now
    if d.status == DomainStatus.failed:
        if d.check_at is not None and due:
            d.status = DomainStatus.verified.value  # its certificate gets another try
            return True
        # The store's address is still on a domain it cannot serve: move it.
        return urlsplit(store.url or "").hostname == d.name
    if d.status == DomainStatus.active:
        return due and (d.expires_at or now) <= renew_by
    return d.status in (DomainStatus.verified, DomainStatus.removing)
