"""A store's lifecycle: its phases, how operations move it between them, and
the one function that changes a store's phase.

    pending → provisioning → ready ⇄ degraded          (health checks)
                  │            │ ⇅ suspended            (suspend / resume)
                  ▼            ▼
                failed ──► deleting → deleted

A standby store of the warm pool is ``ready`` while it waits; adopted by a
merchant's creation it starts again at ``pending`` and goes through
``provisioning`` (its ``adopt`` operation) to ``ready`` like any new store.

Every phase change — by the step runner, by the health checks, by a request
(retry, delete) — goes through :func:`set_phase`, which refuses a change the
lifecycle does not have and records it on the store's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from storefleet.stores import repository
from storefleet.stores.models import Operation, Phase, Store
from storefleet.webhooks import events as webhook_events

_P = Phase
#: The lifecycle's edges. A failed restore leaves a store failed; a restore
#: brings a failed store back to ready; retry sends a failed one back to
#: provisioning (or deleting).
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    _P.pending: frozenset({_P.provisioning, _P.deleting}),
    _P.provisioning: frozenset({_P.ready, _P.failed, _P.deleting}),
    _P.ready: frozenset({_P.degraded, _P.suspended, _P.failed, _P.deleting, _P.pending}),
    _P.degraded: frozenset({_P.ready, _P.suspended, _P.failed, _P.deleting}),
    _P.suspended: frozenset({_P.ready, _P.failed, _P.deleting}),
    _P.failed: frozenset({_P.provisioning, _P.deleting, _P.ready}),
    _P.deleting: frozenset({_P.deleted, _P.failed}),
    _P.deleted: frozenset(),
}


class IllegalTransition(ValueError):
    """A phase change the lifecycle does not have (a bug, not a user error)."""


def set_phase(
    session: Session, store: Store, phase: Phase, message: str, level: str = "info"
) -> None:
    """Move ``store`` to ``phase`` and say why on its timeline."""
    current = Phase(store.phase)
    if phase != current and phase not in TRANSITIONS[current]:
        raise IllegalTransition(f"store {store.id}: {current} → {phase} is not a lifecycle step")
    store.phase = phase.value
    repository.add_event(session, store.id, "phase", message, level)
    webhook_events.phase_changed(session, store, current.value)


@dataclass(frozen=True)
class Phases:
    """The store's phase while an operation runs, when it succeeds and when it
    fails (None: as it is), and the phases it may start from."""

    running: Phase | None
    done: Phase | None
    failed: Phase | None
    allowed_from: tuple[Phase, ...] = ()


#: What each operation does to the phase. A day-2 operation that fails leaves
#: the store as it was (a failed backup: still ready; the operation and an
#: event say why); a failed restore leaves it failed, with the reason, for a
#: person to retry it or restore another backup; a failed upgrade is followed
#: at once by a restore from the backup it took first.
OPERATION_PHASES: dict[Operation, Phases] = {
    Operation.provision: Phases(
        _P.provisioning, _P.ready, _P.failed, (_P.pending, _P.provisioning)
    ),
    Operation.adopt: Phases(_P.provisioning, _P.ready, _P.failed, (_P.pending, _P.provisioning)),
    Operation.delete: Phases(_P.deleting, _P.deleted, _P.failed),
    Operation.backup: Phases(None, None, None, (_P.ready, _P.degraded, _P.suspended)),
    Operation.restore: Phases(
        None, _P.ready, _P.failed, (_P.ready, _P.degraded, _P.suspended, _P.failed)
    ),
    Operation.upgrade: Phases(None, _P.ready, None, (_P.ready, _P.degraded)),
    Operation.suspend: Phases(None, _P.suspended, None, (_P.ready, _P.degraded)),
    Operation.resume: Phases(None, _P.ready, None, (_P.suspended,)),
    Operation.resize: Phases(None, None, None, (_P.ready, _P.degraded)),
    Operation.domain: Phases(None, None, None, (_P.ready, _P.degraded)),
    # A push changes the live store; when it fails after the backup it took,
    # a restore from that backup follows at once (as for an upgrade).
    Operation.push: Phases(None, None, None, (_P.ready, _P.degraded)),
    # A refresh replaces a staging copy's data: it fails like a restore.
    Operation.refresh: Phases(None, _P.ready, _P.failed, (_P.ready, _P.degraded, _P.failed)),
}
