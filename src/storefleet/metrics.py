"""Prometheus metrics at ``GET /metrics``.

Most of them are read from the platform database when scraped — stores by
phase, operation and step durations, failures, backups, the queue's oldest
waiting work, the reconciler's last sweep — so every API replica reports the
same fleet, whichever worker did the work, and nothing is lost when a process
restarts. Counters are monotonic because the rows they count never change
once finished (a retry is a new operation). Sign-in failures are counted by
the API process that saw them.

No store names or other personal data appear in labels. Only an API token
with the ``metrics`` scope, or a trusted address, may read them: they show
the fleet's size and sign-in failures.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from storefleet import heartbeats
from storefleet.auth.counters import LOGIN_FAILURES
from storefleet.backups.models import Backup, BackupStatus
from storefleet.db import utcnow
from storefleet.deps import MetricsReader
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.fleet.models import FleetStatus, FleetUpgrade
from storefleet.runtime import Runtime
from storefleet.stores.models import (
    RUNNING,
    OperationStatus,
    Phase,
    Store,
    StoreOperation,
    StoreStep,
)

log = logging.getLogger(__name__)


OPERATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600)
STEP_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


def _histogram(
    session: Session,
    name: str,
    doc: str,
    labels: list[str],
    columns: list[InstrumentedAttribute[Any]],
    duration: InstrumentedAttribute[Any],
    where: ColumnElement[bool],
    buckets: Iterable[float],
) -> HistogramMetricFamily:
    """A histogram computed by the database: one row per label set with the
    count at or below each bucket, the total count and the sum."""
    buckets = list(buckets)
    value = cast(duration, Float)
    sums = [func.sum(case((value <= b, 1), else_=0)) for b in buckets]
    rows = session.execute(
        select(*columns, *sums, func.count(), func.coalesce(func.sum(value), 0.0))
        .where(where)
        .group_by(*columns)
    ).all()
    family = HistogramMetricFamily(name, doc, labels=labels)
    n = len(columns)
    for row in rows:
        counts = [int(c or 0) for c in row[n : n + len(buckets)]]
        total = int(row[n + len(buckets)])
        family.add_metric(
            [str(v) for v in row[:n]],
            buckets=[*((str(b), c) for b, c in zip(buckets, counts, strict=True)), ("+Inf", total)],
            sum_value=float(row[n + len(buckets) + 1]),
        )
    return family


class PlatformCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        try:
            with self.runtime.db.transaction(write=False) as session:
                yield from self._from_database(session)
        except SQLAlchemyError:
            log.warning("metrics: the platform database is not reachable", exc_info=True)
            yield GaugeMetricFamily(
                "storefleet_database_up", "The platform database answered the scrape", 0
            )
            return
        yield GaugeMetricFamily(
            "storefleet_database_up", "The platform database answered the scrape", 1
        )
        depth = GaugeMetricFamily("storefleet_queue_depth", "Messages waiting on the job queue")
        try:
            depth.add_metric([], self.runtime.queue.pending_count())
        except (RedisError, OSError, sqlite3.Error):
            log.warning("metrics: the queue is not reachable", exc_info=True)
        yield depth

    def _from_database(self, session: Session) -> Iterator[Metric]:
        now = utcnow()
        yield from self._operations(session)
        yield from self._waiting(session, now)
        yield from self._backups(session, now)
        upgrading = GaugeMetricFamily(
            "storefleet_fleet_upgrades_running", "Fleet upgrades in progress"
        )
        upgrading.add_metric(
            [],
            session.scalar(
                select(func.count()).where(FleetUpgrade.status == FleetStatus.running.value)
            )
            or 0,
        )
        yield upgrading

    @staticmethod
    def _operations(session: Session) -> Iterator[Metric]:
        """Stores by phase; operations' and steps' durations and failures."""
        phases = dict(
            session.execute(
                select(Store.phase, func.count())
                .where(Store.standby.is_(False))
                .group_by(Store.phase)
            ).all()
        )
        stores = GaugeMetricFamily(
            "storefleet_stores",
            "Stores by phase (the warm pool's standbys apart)",
            labels=["phase"],
        )
        for phase in Phase:
            stores.add_metric([phase.value], int(phases.get(phase.value, 0)))
        yield stores
        standby = dict(
            session.execute(
                select(Store.phase, func.count())
                .where(Store.standby.is_(True))
                .group_by(Store.phase)
            ).all()
        )
        warm = GaugeMetricFamily(
            "storefleet_warm_pool_stores",
            "Standby stores of the warm pool by phase (ready: what creations can adopt now)",
            labels=["phase"],
        )
        for phase in (Phase.pending, Phase.provisioning, Phase.ready, Phase.failed, Phase.deleting):
            warm.add_metric([phase.value], int(standby.get(phase.value, 0)))
        yield warm

        finished = StoreOperation.status.in_(
            [OperationStatus.succeeded.value, OperationStatus.failed.value]
        )
        yield _histogram(
            session, "storefleet_operation_duration_seconds",
            "How long operations took, by kind and outcome",
            ["kind", "status"], [StoreOperation.kind, StoreOperation.status],
            StoreOperation.duration_seconds,
            and_(finished, StoreOperation.duration_seconds.is_not(None)),
            OPERATION_BUCKETS,
        )  # fmt: skip
        yield _histogram(
            session, "storefleet_step_duration_seconds",
            "How long steps took (their last attempt), by operation and step",
            ["operation", "step"], [StoreStep.operation, StoreStep.name],
            StoreStep.duration_seconds, StoreStep.duration_seconds.is_not(None), STEP_BUCKETS,
        )  # fmt: skip

        failures = CounterMetricFamily(
            "storefleet_operation_failures",
            "Operations that failed, by kind, failed step and reason "
            "(permanent, transient, attempts, deadline)",
            labels=["kind", "step", "reason"],
        )
        rows = session.execute(
            select(StoreOperation.kind, StoreOperation.failed_step, StoreStep.failure_kind,
                   func.count())
            .select_from(StoreOperation)
            .outerjoin(StoreStep, and_(StoreStep.operation_id == StoreOperation.id,
                                       StoreStep.name == StoreOperation.failed_step))
            .where(StoreOperation.status == OperationStatus.failed.value)
            .group_by(StoreOperation.kind, StoreOperation.failed_step, StoreStep.failure_kind)
        ).all()  # fmt: skip
        for kind, step, reason, n in rows:
            failures.add_metric([kind, step or "", reason or "unknown"], int(n))
        yield failures

    @staticmethod
    def _waiting(session: Session, now: dt.datetime) -> Iterator[Metric]:
        """Work that waits: the oldest operation not started, the last sweep."""
        oldest = session.scalar(
            select(func.min(StoreOperation.created_at)).where(
                StoreOperation.status == OperationStatus.pending.value
            )
        )
        age = GaugeMetricFamily(
            "storefleet_queue_oldest_pending_seconds",
            "How long the oldest operation not yet started has waited (0: none waits)",
        )
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield age

        swept = heartbeats.last(session, heartbeats.RECONCILER)
        sweep = GaugeMetricFamily(
            "storefleet_reconciler_last_sweep_age_seconds",
            "Seconds since any worker's reconciler last finished a sweep (-1: never)",
        )
        sweep.add_metric([], (now - swept).total_seconds() if swept else -1.0)
        yield sweep

    @staticmethod
    def _backups(session: Session, now: dt.datetime) -> Iterator[Metric]:
        """Backups taken and failed; how old the stalest store's newest one is."""
        taken = CounterMetricFamily(
            "storefleet_backups_taken", "Backups completed, by kind and target",
            labels=["kind", "target"],
        )  # fmt: skip
        backup_failures = CounterMetricFamily(
            "storefleet_backup_failures", "Backups that failed, by kind", labels=["kind"]
        )
        for kind, target, status, n in session.execute(
            select(Backup.kind, Backup.target, Backup.status, func.count()).group_by(
                Backup.kind, Backup.target, Backup.status
            )
        ).all():
            if status in (BackupStatus.completed.value, BackupStatus.expired.value):
                taken.add_metric([kind, target or ""], int(n))
            elif status == BackupStatus.failed.value:
                backup_failures.add_metric([kind], int(n))
        yield taken
        yield backup_failures

        latest = (
            select(Backup.store_id, func.max(Backup.completed_at).label("at"))
            .where(Backup.status == BackupStatus.completed.value)
            .group_by(Backup.store_id)
            .subquery()
        )
        running = session.execute(
            select(Store.id, latest.c.at)
            .outerjoin(latest, latest.c.store_id == Store.id)
            .where(Store.phase.in_([p.value for p in (*RUNNING, Phase.suspended)]))
        ).all()
        ages = [(now - at).total_seconds() for _id, at in running if at is not None]
        worst = GaugeMetricFamily(
            "storefleet_backup_age_seconds_max",
            "Age of the newest backup of the store whose newest backup is oldest",
        )
        worst.add_metric([], max(ages) if ages else 0.0)
        yield worst
        without = GaugeMetricFamily(
            "storefleet_stores_without_backup", "Running or suspended stores with no backup"
        )
        without.add_metric([], sum(1 for _id, at in running if at is None))
        yield without


router = APIRouter(tags=["metrics"])


def registry_for(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(runtime))
    registry.register(LOGIN_FAILURES)
    return registry


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[MetricsReader],
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: ERROR_RESPONSES[401],
        403: ERROR_RESPONSES[403],
    },
)
def metrics(request: Request) -> Response:
    """The platform's metrics in the Prometheus text format (for a scraper):
    for an API token with the ``metrics`` scope (Prometheus' ``authorization``
    setting) or an address in ``STOREFLEET_METRICS_TRUSTED_NETWORKS``."""
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
