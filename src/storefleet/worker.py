"""The worker process: a huey consumer running store operations (3 at once by
default) plus the reconciler's periodic sweep, and — for a driver whose
stores' logs the API cannot read — the log reader that answers for it."""

from __future__ import annotations

import logging

from huey.consumer import Consumer
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from storefleet.drivers import make_driver
from storefleet.drivers.base import StoreDriver, TransientError
from storefleet.operations import Reconciler, StoreOperator
from storefleet.operations.log_reader import LogReader
from storefleet.runtime import Runtime
from storefleet.stores import tasks
from storefleet.webhooks import delivery as webhook_delivery

log = logging.getLogger(__name__)


def run_worker(runtime: Runtime, driver: StoreDriver | None = None) -> None:
    settings = runtime.settings
    driver = driver or make_driver(settings)
    wait_for_driver(driver, settings.worker_startup_wait_seconds)
    operator = StoreOperator(runtime, driver)
    tasks.bind(runtime.queue, operator)
    runtime.queue.bind_webhooks(lambda: webhook_delivery.deliver_due(runtime))
    reconciler = Reconciler(runtime, driver, owner=operator.owner)
    reconciler.start()
    reader = (
        LogReader(runtime, driver, owner=operator.owner) if driver.logs_through_worker else None
    )
    if reader is not None:
        reader.start()
    consumer = Consumer(
        runtime.queue.huey,
        workers=settings.worker_concurrency,
        worker_type="thread",
        periodic=False,
        # Poll an embedded (SQLite) queue often: a new store should start at once.
        initial_delay=0.1,
        max_delay=0.5,
        backoff=1.15,
        # Unfinished operations resume elsewhere once their lease expires.
        shutdown_timeout=5,
    )
    log.info(
        "worker %s: %d concurrent jobs, driver %s, queue %s",
        operator.owner,
        settings.worker_concurrency,
        driver.name,
        "redis" if settings.redis_url else "sqlite",
    )
    try:
        consumer.run()
    finally:
        reconciler.stop()
        if reader is not None:
            reader.stop()


def wait_for_driver(driver: StoreDriver, wait_seconds: float) -> None:
    """Check the driver, waiting up to ``wait_seconds`` while what it needs is
    not up yet (a TransientError: the stores' MySQL or the API server still
    starting, as when a cluster starts the worker beside them). A
    misconfiguration (a PermanentError) ends the worker at once."""

    def waiting(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "worker: waiting for the %s driver's dependencies (%.0f s so far): %s",
            driver.name,
            state.seconds_since_start or 0,
            exc,
        )

    for attempt in Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_delay(wait_seconds),
        wait=wait_exponential_jitter(initial=0.5, max=10),
        before_sleep=waiting,
        reraise=True,
    ):
        with attempt:
            driver.check()
