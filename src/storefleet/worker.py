"""The worker process: a huey consumer running store operations (3 at once by
default) plus the reconciler's periodic sweep."""

from __future__ import annotations

import logging

from huey.consumer import Consumer

from storefleet.drivers import make_driver
from storefleet.drivers.base import StoreDriver
from storefleet.provisioning import Reconciler, StoreOperator
from storefleet.runtime import Runtime
from storefleet.stores import tasks

log = logging.getLogger(__name__)


def run_worker(runtime: Runtime, driver: StoreDriver | None = None) -> None:
    settings = runtime.settings
    driver = driver or make_driver(settings)
    driver.check()
    operator = StoreOperator(runtime, driver)
    tasks.bind(runtime.queue, operator)
    reconciler = Reconciler(runtime, driver, owner=operator.owner)
    reconciler.start()
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
