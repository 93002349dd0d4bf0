"""What users may do with stores: create, look, retry, delete.

Each function runs inside the caller's transaction and only flushes; the work
itself is handed to a worker by putting the store id on the queue once the
transaction has committed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefleet import releases
from storefleet.audit import service as audit
from storefleet.auth import passwords
from storefleet.auth.models import User
from storefleet.db import after_commit, utcnow
from storefleet.exceptions import Conflict, NotFound, TooManyRequests
from storefleet.names import new_store_uid
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import Desired, Operation, Phase, StepStatus, Store, StoreStep
from storefleet.stores.schemas import Progress, StepOut, StoreCreate, StoreDetail, StoreOut


def request_work(session: Session, runtime: Runtime, store: Store) -> None:
    """Ask a worker to look at ``store`` once this transaction commits."""
    store.enqueued_at = utcnow()
    queue = runtime.queue
    store_id = store.id
    after_commit(session, lambda: queue.enqueue_store(store_id))


_HOUR = dt.timedelta(hours=1)


def _limit(user: User, own: int | None, default: int) -> int:
    return own if own is not None else default


def _quota_refusal(
    message: str, user: User, client_ip: str, name: str, retry_after: float, quota: str
) -> TooManyRequests:
    return TooManyRequests(
        message,
        retry_after=retry_after,
        audit=audit.refused(
            "store.create", actor=user, target=f"store-name:{name}", client_ip=client_ip,
            detail={"refused": quota},
        ),
    )  # fmt: skip


def create(
    session: Session,
    runtime: Runtime,
    user: User,
    data: StoreCreate,
    *,
    client_ip: str,
) -> tuple[Store, str | None]:
    """Record a new store (phase ``pending``) and queue its provisioning.

    Returns the store and the admin password when one was generated."""
    settings = runtime.settings
    # Serialise creations by one user (SQLite: the request already holds the
    # write lock), so that concurrent requests cannot all pass the quota check.
    session.execute(select(User.id).where(User.id == user.id).with_for_update())

    # Quotas bind members; admins run the platform and are not limited.
    max_live = _limit(user, user.max_live_stores, settings.max_live_stores)
    if not user.is_admin and repository.count_live(session, user.id) >= max_live:
        # Waiting alone frees nothing; a minute is when a deletion may have.
        raise _quota_refusal(
            f"Quota reached: at most {max_live} live stores per user. "
            "Delete a store or ask an admin to raise your quota.",
            user, client_ip, data.name, 60, "live stores",
        )  # fmt: skip
    max_hour = _limit(user, user.max_creations_per_hour, settings.max_creations_per_hour)
    now = utcnow()
    since = now - _HOUR
    if not user.is_admin and repository.count_created_since(session, user.id, since) >= max_hour:
        oldest = repository.oldest_created_since(session, user.id, since)
        free_at = (oldest or now) + _HOUR
        raise _quota_refusal(
            f"Rate limit reached: at most {max_hour} store creations per user per hour.",
            user, client_ip, data.name, (free_at - now).total_seconds(), "creations per hour",
        )  # fmt: skip
    if repository.by_live_name(session, data.name) is not None:
        raise Conflict(f"The name {data.name!r} is taken by another store")

    generated = None
    password = data.admin_password
    if password is None:
        password = generated = passwords.generate_password()
    pins = releases.current()
    store = Store(
        owner_id=user.id,
        owner=user,
        name=data.name,
        uid=new_store_uid(),
        live_name=data.name,
        sample_products=data.sample_products,
        wordpress_version=pins["wordpress"],
        woocommerce_version=pins["woocommerce"],
        driver=settings.driver.value,
        desired=Desired.present.value,
        phase=Phase.pending.value,
        admin_email=str(data.admin_email),
        admin_password_enc=runtime.box.seal(password),
    )
    session.add(store)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The name {data.name!r} is taken by another store") from exc
    repository.add_event(session, store.id, "phase", f"Store requested by {user.email}")
    audit.record(
        session,
        "store.create",
        actor=user,
        target=f"store:{store.id}",
        detail={"name": store.name},
        client_ip=client_ip,
    )
    request_work(session, runtime, store)
    return store, generated


def get_visible(session: Session, user: User, store_id: int, *, for_update: bool = False) -> Store:
    """The store if ``user`` may see it; 404 otherwise (never 403, so that
    members cannot probe for other members' store ids)."""
    store = repository.get(session, store_id, for_update=for_update)
    if store is None or (not user.is_admin and store.owner_id != user.id):
        raise NotFound("Store not found")
    return store


def _reset_failed_steps(session: Session, store: Store, operation: Operation) -> None:
    for step in repository.steps(session, store.id, operation.value):
        if step.status in (StepStatus.failed, StepStatus.running):
            step.status = StepStatus.pending.value
            step.message = None


def retry(
    session: Session, runtime: Runtime, user: User, store_id: int, *, client_ip: str
) -> Store:
    store = get_visible(session, user, store_id, for_update=True)
    if store.phase != Phase.failed:
        raise Conflict(f"Only a failed store can be retried; this one is {store.phase}")
    deleting = store.desired == Desired.absent
    operation = Operation.delete if deleting else Operation.provision
    _reset_failed_steps(session, store, operation)
    store.phase = (Phase.deleting if deleting else Phase.provisioning).value
    store.failure_reason = None
    store.operation_deadline_at = None
    repository.add_event(session, store.id, "phase", f"Retry requested by {user.email}")
    audit.record(
        session, "store.retry", actor=user, target=f"store:{store.id}", client_ip=client_ip
    )
    request_work(session, runtime, store)
    return store


def delete(
    session: Session, runtime: Runtime, user: User, store_id: int, *, client_ip: str
) -> Store:
    """Ask for the store to be removed. Allowed in every phase: provisioning
    in flight stops at its next step and then cleans up."""
    store = get_visible(session, user, store_id, for_update=True)
    if store.phase == Phase.deleted:
        raise Conflict("This store has already been deleted")
    if store.phase == Phase.deleting and store.desired == Desired.absent:
        return store
    store.desired = Desired.absent.value
    store.phase = Phase.deleting.value
    store.failure_reason = None
    store.operation_deadline_at = None
    store.admin_password_enc = None
    _reset_failed_steps(session, store, Operation.delete)
    repository.add_event(session, store.id, "phase", f"Deletion requested by {user.email}")
    audit.record(
        session, "store.delete", actor=user, target=f"store:{store.id}", client_ip=client_ip
    )
    request_work(session, runtime, store)
    return store


def _progress(done_total: tuple[int, int] | None) -> Progress:
    done, total = done_total or (0, 0)
    return Progress(done=done, total=total)


def to_out(store: Store, progress: tuple[int, int] | None) -> StoreOut:
    return StoreOut(
        id=store.id,
        name=store.name,
        uid=store.uid,
        status=Phase(store.phase),
        url=store.url,
        admin_url=store.admin_url,
        admin_email=store.admin_email,
        owner_id=store.owner_id,
        owner_email=store.owner.email,
        driver=store.driver,
        created_at=store.created_at,
        updated_at=store.updated_at,
        ready_at=store.ready_at,
        deleted_at=store.deleted_at,
        failure_reason=store.failure_reason,
        current_step=store.current_step,
        progress=_progress(progress),
        sample_products=store.sample_products,
        wordpress_version=store.wordpress_version,
        woocommerce_version=store.woocommerce_version,
    )


def list_out(session: Session, stores: list[Store]) -> list[StoreOut]:
    progress = repository.progress(session, [s.id for s in stores])
    return [to_out(s, progress.get(s.id)) for s in stores]


def detail_out(session: Session, store: Store) -> StoreDetail:
    steps: list[StoreStep] = repository.steps(session, store.id)
    out = list_out(session, [store])[0]
    return StoreDetail(**out.model_dump(), steps=[StepOut.model_validate(s) for s in steps])
