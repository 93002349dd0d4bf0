"""Fleet upgrades: move the platform's target releases, then every store to
them in waves (default: one store, then a quarter of the fleet, then the
rest). Each store's part is an ``upgrade`` operation — backup, new files,
database upgrades, a real order confirmed as the admin — and a store whose
upgrade fails is restored from its backup by the step runner. One failure
halts the fleet upgrade with the store's reason: the waves after it are
cancelled and new stores get the releases they got before.
"""

from __future__ import annotations

import math
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefleet import releases
from storefleet.audit import service as audit
from storefleet.auth.models import User
from storefleet.backups import repository as backups
from storefleet.backups import service as backups_service
from storefleet.backups.models import BackupKind
from storefleet.db import after_commit, utcnow
from storefleet.exceptions import Conflict, InvalidInput, NotFound
from storefleet.fleet.models import FleetStatus, FleetUpgrade
from storefleet.fleet.schemas import (
    FleetStoreOut,
    FleetSummary,
    FleetUpgradeCreate,
    FleetUpgradeOut,
    PhaseCount,
    ReleasesOut,
)
from storefleet.releases import targets as platform_releases
from storefleet.runtime import Runtime
from storefleet.stores import repository
from storefleet.stores.models import (
    Desired,
    Operation,
    OperationStatus,
    Phase,
    Store,
    StoreOperation,
)
from storefleet.webhooks import events as webhook_events

DEFAULT_WAVES = ["1", "25%", "rest"]


def plan_waves(spec: list[str], total: int) -> list[int]:
    """Wave sizes for ``total`` stores: each wave at least one store, the
    stores left over in the last wave, empty waves dropped."""
    sizes: list[int] = []
    left = total
    for wave in spec:
        if left <= 0:
            break
        if wave == "rest":
            n = left
        elif wave.endswith("%"):
            n = max(1, math.ceil(total * int(wave[:-1]) / 100))
        else:
            n = int(wave)
        n = min(n, left)
        sizes.append(n)
        left -= n
    if left > 0:
        if sizes:
            sizes[-1] += left
        else:
            sizes.append(left)
    return sizes


def _moves_to(store: Store, targets: dict[str, str]) -> bool:
    """Whether ``store`` moves to the target pair: it runs another pair, and
    neither of its releases is newer than the target's (never a downgrade)."""
    current = (store.wordpress_version, store.woocommerce_version)
    target_pair = (targets["wordpress"], targets["woocommerce"])
    if current == target_pair:
        return False
    for version, target in zip(current, target_pair, strict=True):
        if version and releases.version_key(version) > releases.version_key(target):
            return False
    return True


def create(
    session: Session, runtime: Runtime, user: User, data: FleetUpgradeCreate, *, client_ip: str
) -> FleetUpgrade:
    running = session.scalar(
        select(FleetUpgrade).where(FleetUpgrade.status == FleetStatus.running.value).limit(1)
    )
    if running is not None:
        raise Conflict(f"Fleet upgrade {running.id} is still running")
    previous = platform_releases.current(session)
    targets = {
        "wordpress": data.wordpress or previous["wordpress"],
        "woocommerce": data.woocommerce or previous["woocommerce"],
    }
    try:
        releases.check_pair(targets["wordpress"], targets["woocommerce"])
    except releases.ReleaseError as exc:
        raise InvalidInput(str(exc)) from exc
    if runtime.settings.driver.value == "kubernetes":
        # Refused here rather than at the first store's upgrade.
        raise InvalidInput(
            "the kubernetes driver cannot upgrade stores yet: a Kubernetes store runs its "
            "releases from its image, and the platform has no image per release pair yet"
        )

    candidates = session.scalars(
        select(Store)
        .where(
            Store.desired == Desired.present.value,
            Store.phase.in_([Phase.ready.value, Phase.degraded.value]),
        )
        .order_by(Store.id)
        .with_for_update(of=Store)  # not the joined owner (PostgreSQL refuses)
    ).all()
    plan = [store for store in candidates if _moves_to(store, targets)]

    sizes = plan_waves(data.waves or DEFAULT_WAVES, len(plan))
    upgrade = FleetUpgrade(
        wordpress=targets["wordpress"], woocommerce=targets["woocommerce"],
        previous_wordpress=previous["wordpress"], previous_woocommerce=previous["woocommerce"],
        waves=sizes, current_wave=0, status=FleetStatus.running.value,
        requested_by=user.email, created_at=utcnow(),
    )  # fmt: skip
    session.add(upgrade)
    session.flush()
    platform_releases.set_targets(session, targets, by=f"fleet upgrade {upgrade.id}")
    index = 0
    for wave, size in enumerate(sizes):
        for store in plan[index : index + size]:
            repository.add_operation(
                session, store, Operation.upgrade,
                requested_by=f"fleet upgrade {upgrade.id}",
                params={**targets, "from_wordpress": store.wordpress_version,
                        "from_woocommerce": store.woocommerce_version},
                status=OperationStatus.waiting, fleet_upgrade_id=upgrade.id, wave=wave,
            )  # fmt: skip
        index += size
    audit.record(
        session, "fleet.upgrade", actor=user, target=f"fleet-upgrade:{upgrade.id}",
        detail={**targets, "stores": len(plan), "waves": sizes}, client_ip=client_ip,
    )  # fmt: skip
    if not plan:
        upgrade.status = FleetStatus.succeeded.value
        upgrade.finished_at = utcnow()
    else:
        _start_wave(session, runtime, upgrade, 0)
    return upgrade


def _wave_ops(session: Session, upgrade: FleetUpgrade, wave: int) -> list[StoreOperation]:
    return list(
        session.scalars(
            select(StoreOperation)
            .where(StoreOperation.fleet_upgrade_id == upgrade.id, StoreOperation.wave == wave)
            .order_by(StoreOperation.id)
        ).all()
    )


def _start_wave(session: Session, runtime: Runtime, upgrade: FleetUpgrade, wave: int) -> None:
    upgrade.current_wave = wave
    queue = runtime.queue
    for op in _wave_ops(session, upgrade, wave):
        if op.status != OperationStatus.waiting:
            continue
        store = repository.get(session, op.store_id)
        if store is None:
            continue
        backup = backups.create(
            session, store, BackupKind.upgrade, requested_by=f"fleet upgrade {upgrade.id}"
        )
        backup.operation_id = op.id
        op.params = {**op.params, "backup_id": backup.id}
        op.status = OperationStatus.pending.value
        repository.add_event(
            session, store.id, "operation",
            f"Fleet upgrade {upgrade.id}, wave {wave + 1}: to WordPress "
            f"{op.params['wordpress']} and WooCommerce {op.params['woocommerce']}",
        )  # fmt: skip
        store.enqueued_at = utcnow()
        store_id = store.id
        after_commit(session, lambda store_id=store_id: queue.enqueue_store(store_id))  # type: ignore[misc]


def note_store_done(session: Session, runtime: Runtime, op: StoreOperation) -> None:
    """A store's part of a fleet upgrade ended: halt on a failure, or start
    the next wave once this one is done."""
    upgrade = session.get(FleetUpgrade, op.fleet_upgrade_id, with_for_update=True)
    if upgrade is None or upgrade.status != FleetStatus.running:
        return
    if op.status == OperationStatus.failed:
        store = repository.get(session, op.store_id)
        name = store.name if store else f"store {op.store_id}"
        changed = not (op.failed_step or "").startswith("backup-")
        after = (
            "the store is restored from the backup it took first"
            if changed
            else "the store was not changed"
        )
        _halt(
            session, upgrade,
            f"{name} (store {op.store_id}, wave {(op.wave or 0) + 1}): {op.failure_reason}; "
            + after,
        )  # fmt: skip
        webhook_events.upgrade_halted(session, upgrade, store)
        return
    ops = _wave_ops(session, upgrade, upgrade.current_wave)
    if any(o.status not in ("succeeded", "failed", "cancelled") for o in ops):
        return
    if upgrade.current_wave + 1 < len(upgrade.waves):
        _start_wave(session, runtime, upgrade, upgrade.current_wave + 1)
    else:
        upgrade.status = FleetStatus.succeeded.value
        upgrade.finished_at = utcnow()


def _halt(session: Session, upgrade: FleetUpgrade, reason: str) -> None:
    upgrade.status = FleetStatus.halted.value
    upgrade.halted_reason = reason
    upgrade.finished_at = utcnow()
    for op in session.scalars(
        select(StoreOperation).where(
            StoreOperation.fleet_upgrade_id == upgrade.id,
            StoreOperation.status.in_(
                [OperationStatus.waiting.value, OperationStatus.pending.value]
            ),
        )
    ).all():
        op.status = OperationStatus.cancelled.value
        op.finished_at = utcnow()
        op.failure_reason = f"cancelled: fleet upgrade {upgrade.id} halted"
        backups_service.fail_for_operation(session, op.id, op.failure_reason)
    # New stores get what they got before the upgrade.
    platform_releases.set_targets(
        session,
        {"wordpress": upgrade.previous_wordpress, "woocommerce": upgrade.previous_woocommerce},
        by=f"fleet upgrade {upgrade.id} (halted)",
    )


def get(session: Session, upgrade_id: int) -> FleetUpgrade:
    upgrade = session.get(FleetUpgrade, upgrade_id)
    if upgrade is None:
        raise NotFound("Fleet upgrade not found")
    return upgrade


def page(session: Session, limit: int, offset: int) -> tuple[list[FleetUpgrade], int]:
    total = session.scalar(select(func.count()).select_from(FleetUpgrade)) or 0
    rows = session.scalars(
        select(FleetUpgrade).order_by(FleetUpgrade.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def to_out(session: Session, upgrade: FleetUpgrade) -> FleetUpgradeOut:
    ops = session.scalars(
        select(StoreOperation)
        .where(StoreOperation.fleet_upgrade_id == upgrade.id)
        .order_by(StoreOperation.wave, StoreOperation.id)
    ).all()
    stores = {
        s.id: s
        for s in session.scalars(select(Store).where(Store.id.in_([o.store_id for o in ops]))).all()
    }
    items = []
    for op in ops:
        store = stores[op.store_id]
        running = store.operation_id == op.id
        items.append(
            FleetStoreOut(
                store_id=store.id, name=store.name, wave=op.wave or 0,
                status=OperationStatus(op.status), phase=Phase(store.phase), operation_id=op.id,
                current_step=store.current_step if running else None,
                from_wordpress=op.params.get("from_wordpress"),
                from_woocommerce=op.params.get("from_woocommerce"),
                wordpress_version=store.wordpress_version,
                woocommerce_version=store.woocommerce_version,
                started_at=op.started_at, finished_at=op.finished_at,
                duration_seconds=op.duration_seconds, failure_reason=op.failure_reason,
            )
        )  # fmt: skip
    counts = Counter(i.status.value for i in items)
    return FleetUpgradeOut(
        id=upgrade.id, status=FleetStatus(upgrade.status), wordpress=upgrade.wordpress,
        woocommerce=upgrade.woocommerce, previous_wordpress=upgrade.previous_wordpress,
        previous_woocommerce=upgrade.previous_woocommerce, waves=list(upgrade.waves),
        current_wave=upgrade.current_wave, halted_reason=upgrade.halted_reason,
        requested_by=upgrade.requested_by, created_at=upgrade.created_at,
        finished_at=upgrade.finished_at, counts=dict(counts), stores=items,
    )  # fmt: skip


def releases_out(session: Session) -> ReleasesOut:
    cur = platform_releases.current(session)
    return ReleasesOut(
        wordpress=cur["wordpress"],
        woocommerce=cur["woocommerce"],
        known={p: [r.version for r in releases.known(p)] for p in releases.PRODUCTS},
    )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(session: Session, owner_id: int | None) -> FleetSummary:
    """Stores by phase and time to ready (the dashboard's fleet chart);
    ``owner_id``: one member's stores only."""
    q = select(Store.phase, func.count()).group_by(Store.phase)
    if owner_id is not None:
        q = q.where(Store.owner_id == owner_id)
    counts = {phase: n for phase, n in session.execute(q).all()}
    ready_q = (
        select(Store.created_at, Store.ready_at)
        .where(Store.ready_at.is_not(None))
        .order_by(Store.id.desc())
        .limit(500)
    )
    if owner_id is not None:
        ready_q = ready_q.where(Store.owner_id == owner_id)
    samples = [
        (ready - created).total_seconds()
        for created, ready in session.execute(ready_q).all()
        if ready is not None
    ]
    running = session.scalar(
        select(FleetUpgrade.id).where(FleetUpgrade.status == FleetStatus.running.value).limit(1)
    )
    return FleetSummary(
        phases=[PhaseCount(phase=p, stores=int(counts.get(p.value, 0))) for p in Phase],
        ready_seconds_p50=_percentile(samples, 0.5),
        ready_seconds_p95=_percentile(samples, 0.95),
        ready_samples=len(samples),
        releases=releases_out(session),
        upgrade_in_progress=running,
    )
