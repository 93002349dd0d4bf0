"""The platform as it runs for real: ``storefleet api`` and ``storefleet
worker`` processes, the local driver, MariaDB for the stores, PHP and
WordPress, and SQLite or Redis for the queue."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine, create_engine

from storefleet import releases
from storefleet.config import Settings
from storefleet.releases import ReleaseCache
from tests.conftest import TEST_RELEASES, artifacts, free_port, unavailable
from tests.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Api,
    PlatformProcesses,
    add_member,
    database_state,
    leave_nothing_behind,
    prepare,
    process_env,
)


@pytest.fixture(scope="session")
def php_and_releases() -> None:
    """PHP, and the pinned WordPress and WooCommerce releases, verified."""
    if shutil.which("php") is None:
        unavailable("PHP is not installed")
    cache = ReleaseCache(TEST_RELEASES, artifacts(), max_bytes=512 << 20)
    for product in releases.PRODUCTS:
        try:
            cache.fetch(releases.pinned(product))
        except releases.ReleaseError as exc:
            unavailable(f"the pinned releases cannot be fetched: {exc}")


@dataclass
class LocalPlatform:
    settings: Settings
    procs: PlatformProcesses
    stores_db: Engine
    redis_url: str | None

    @property
    def url(self) -> str:
        return self.procs.url

    def admin(self) -> Api:
        return Api.login(self.url, ADMIN_EMAIL, ADMIN_PASSWORD)

    def store_dirs(self) -> list[Path]:
        root = self.settings.stores_path
        return sorted(root.iterdir()) if root.exists() else []

    def store_dir(self, uid: str) -> Path:
        return self.settings.stores_path / uid

    def php_servers(self, uid: str) -> list[psutil.Process]:
        """The store's php-fpm master (its workers come and go with requests)."""
        title = f"master process ({self.settings.stores_path / uid / 'php-fpm.conf'})"
        return [
            p
            for p in psutil.process_iter(["pid", "cmdline"])
            if title in " ".join(p.info["cmdline"] or [])
        ]

    def store_processes(self, uid: str) -> list[psutil.Process]:
        """Every process running as the store's own uid (none when not isolated)."""
        owner = self.store_owner(uid)
        if owner is None:
            return []
        return [p for p in psutil.process_iter(["pid", "uids"]) if p.info["uids"].real == owner]

    def add_member(self, email: str, **quota: Any) -> None:
        from storefleet.runtime import Runtime

        runtime = Runtime(self.settings)
        add_member(runtime, email, **quota)
        runtime.close()

    def store_owner(self, uid: str) -> int | None:
        """The unprivileged uid a store's PHP runs as (None: not isolated)."""
        if os.geteuid() != 0:
            return None
        for entry in (self.settings.sites_path / "uids").iterdir():
            if entry.read_text().strip() == uid:
                return int(entry.name)
        raise AssertionError(f"store {uid} has no uid")

    def db_names(self, uid: str) -> str:
        return f"{self.settings.stores_db_prefix}{uid}"

    def db_state(self, uid: str) -> tuple[int, int]:
        """(databases, users) named for the store on the stores server."""
        return database_state(str(self.settings.stores_db_url), self.db_names(uid))


@pytest.fixture
def local_platform_factory(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    mariadb_admin_url: str,
    php_and_releases: None,
) -> Iterator[Callable[..., LocalPlatform]]:
    made: list[LocalPlatform] = []

    def make(
        redis_url: str | None = None, start_worker: bool = True, **overrides: Any
    ) -> LocalPlatform:
        data = overrides.pop("data_dir", tmp_path / "var")
        # A second platform of the test's: logs of its own.
        log_dir = overrides.pop("log_dir", tmp_path / "logs")
        settings = make_settings(
            data_dir=data,
            database_url=f"sqlite:///{data / 'platform.db'}",
            stores_db_url=mariadb_admin_url,
            redis_url=redis_url,
            lease_seconds=3,
            requeue_after_seconds=2,
            reconcile_interval_seconds=1,
            step_deadline_seconds=60,
            **overrides,
        )
        prepare(settings).close()
        env = process_env(settings)
        log_dir.mkdir(exist_ok=True)
        procs = PlatformProcesses(env, log_dir, free_port())
        platform = LocalPlatform(settings, procs, create_engine(mariadb_admin_url), redis_url)
        made.append(platform)
        procs.start("api")
        if start_worker:
            procs.start("worker")
        return platform

    yield make

    for platform in made:
        platform.procs.stop()
        _clean_up(platform)


def _clean_up(platform: LocalPlatform) -> None:
    """Leave nothing behind: PHP servers, store databases and users."""
    platform.stores_db.dispose()
    leave_nothing_behind(
        [platform.settings.data_path, platform.settings.sites_path],
        platform.settings.stores_db_url,
        platform.settings.stores_db_prefix,
    )


@pytest.fixture
def local_platform(local_platform_factory: Callable[..., LocalPlatform]) -> LocalPlatform:
    return local_platform_factory()


def store_password() -> str:
    return "Merchant-" + secrets.token_urlsafe(12)
