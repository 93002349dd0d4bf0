"""What users may do with a store's custom domains: add one (with the TXT
record that proves it theirs), list them, remove one; and the nudge that
asks a worker to converge a store's domains (a ``domain`` operation).

The rows say what is wanted; the operation makes it so. A request never
waits for an operation in flight: it records what it wants, and the worker
(or the reconciler's next sweep, ``domains.sweep``) takes it from there.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefleet import drivers
from storefleet.audit import service as audit
from storefleet.auth.models import User
from storefleet.db import utcnow
from storefleet.domains import proof, repository
from storefleet.domains.models import ROUTED, DomainStatus, StoreDomain
from storefleet.domains.schemas import DomainCreate, DomainOut, Verification
from storefleet.exceptions import Conflict, InvalidInput, NotFound
from storefleet.operations.lifecycle import OPERATION_PHASES
from storefleet.runtime import Runtime
from storefleet.stores import repository as stores
from storefleet.stores import service as store_service
from storefleet.stores.models import Desired, Operation, Phase, Store

#: The most domains one store may hold.
MAX_PER_STORE = 20


def to_out(runtime: Runtime, store: Store, d: StoreDomain) -> DomainOut:
    return DomainOut(
        domain=d.name,
        status=DomainStatus(d.status),
        primary=d.is_primary,
        verification=Verification(name=proof.record_name(d.name), value=d.token),
        failure_reason=d.failure_reason,
        url=drivers.domain_url(runtime.settings, store.driver, d.name)
        if d.status == DomainStatus.active
        else None,
        created_at=d.created_at,
        verified_at=d.verified_at,
        issued_at=d.issued_at,
        expires_at=d.expires_at,
    )


def listed(session: Session, runtime: Runtime, user: User, store_id: int) -> list[DomainOut]:
    store = store_service.get_visible(session, user, store_id)
    return [to_out(runtime, store, d) for d in repository.held_by(session, store.id)]


def _platform_own(runtime: Runtime, name: str) -> bool:
    s = runtime.settings
    own = {s.public_host, s.k8s_store_domain} - {None, ""}
    return any(name == host or name.endswith("." + host) for host in own if host)


def add(
    session: Session, runtime: Runtime, user: User, store_id: int, body: DomainCreate, *,
    client_ip: str,
) -> tuple[Store, StoreDomain, bool]:  # fmt: skip
    """The domain, and whether it is new. Adding a domain the store holds
    already looks for its proof again now (or, failed, tries its
    certificate again)."""
    store = store_service.get_visible(session, user, store_id, for_update=True)
    if store.desired != Desired.present or store.phase in (Phase.deleting, Phase.deleted):
        raise Conflict(f"A store that is {store.phase} cannot take a domain")
    name = body.domain
    if _platform_own(runtime, name):
        raise InvalidInput(f"domain: {name} is one of the platform's own addresses")
    existing = repository.by_name(session, name, for_update=True)
    if existing is not None and existing.store_id != store.id:
        raise Conflict(f"The domain {name} is taken by another store")
    if existing is not None:
        _again(session, runtime, store, existing, user)
        return store, existing, False
    held = repository.held_by(session, store.id)
    if len(held) >= MAX_PER_STORE:
        raise Conflict(f"A store holds at most {MAX_PER_STORE} domains")
    primary = body.primary if body.primary is not None else not any(d.is_primary for d in held)
    if primary:
        for d in held:
            d.is_primary = False
    domain = StoreDomain(
        store_id=store.id, name=name, live_name=name, token=proof.new_token(),
        status=DomainStatus.pending.value, is_primary=primary, check_at=utcnow(), checks=0,
    )  # fmt: skip
    session.add(domain)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The domain {name} is taken by another store") from exc
    stores.add_event(
        session, store.id, "domain",
        f"Domain {name} added by {user.email}: waiting for the TXT record "
        f"{proof.record_name(name)} = {domain.token}",
    )  # fmt: skip
    audit.record(
        session, "store.domain.add", actor=user, target=f"store:{store.id}",
        detail={"domain": name, "primary": primary}, client_ip=client_ip,
    )  # fmt: skip
    return store, domain, True


def _again(session: Session, runtime: Runtime, store: Store, d: StoreDomain, user: User) -> None:
    if d.status == DomainStatus.pending:
        d.check_at = utcnow()
        d.checks = 0
    elif d.status == DomainStatus.failed:
        d.status = DomainStatus.verified.value
        d.check_at = None
        stores.add_event(
            session, store.id, "domain", f"{user.email} asked for {d.name}'s certificate again"
        )
        nudge(session, runtime, store, requested_by=user.email)


def remove(
    session: Session, runtime: Runtime, user: User, store_id: int, name: str, *, client_ip: str
) -> tuple[Store, StoreDomain]:
    store = store_service.get_visible(session, user, store_id, for_update=True)
    domain = repository.by_name(session, name, for_update=True)
    if domain is None or domain.store_id != store.id:
        raise NotFound("Domain not found")
    routed = domain.status in ROUTED or domain.status == DomainStatus.removing
    if routed and store.desired == Desired.present:
        # The store stops answering at it, and its address leaves it, first.
        domain.status = DomainStatus.removing.value
        nudge(session, runtime, store, requested_by=user.email)
    else:
        forget(domain)
    if domain.is_primary:
        domain.is_primary = False
    stores.add_event(session, store.id, "domain", f"Domain {name} removed by {user.email}")
    audit.record(
        session, "store.domain.remove", actor=user, target=f"store:{store.id}",
        detail={"domain": name}, client_ip=client_ip,
    )  # fmt: skip
    return store, domain


def forget(domain: StoreDomain) -> None:
    """The domain is no longer the store's: its name is free."""
    domain.status = DomainStatus.removed.value
    domain.live_name = None
    domain.removed_at = utcnow()
    domain.is_primary = False


def nudge(session: Session, runtime: Runtime, store: Store, *, requested_by: str) -> bool:
    """Ask for a ``domain`` operation on the store, unless one is waiting
    already or the store cannot run one now (the sweep asks again later)."""
    allowed = OPERATION_PHASES[Operation.domain].allowed_from
    if store.desired != Desired.present or store.phase not in allowed:
        return False
    active = stores.active_operations(session, store.id)
    if any(o.kind == Operation.domain and o.status == "pending" for o in active):
        return False
    if active:
        return False  # after what is in flight: the next sweep asks
    stores.add_operation(session, store, Operation.domain, requested_by=requested_by)
    store_service.request_work(session, runtime, store)
    return True
