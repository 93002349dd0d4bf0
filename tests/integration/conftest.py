"""The platform for the integration suites: the real API on a real socket
and a real platform database (SQLite, MariaDB, PostgreSQL), without a worker."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from storefleet.config import Settings
from storefleet.runtime import Runtime
from tests.conftest import free_port
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, Api, add_member, api_in_thread, prepare


@dataclass
class Platform:
    url: str
    runtime: Runtime

    def admin(self) -> Api:
        return Api.login(self.url, ADMIN_EMAIL, ADMIN_PASSWORD)

    def member(self, email: str | None = None, **quota: int) -> Api:
        email = email or f"m-{secrets.token_hex(4)}@example.com"
        add_member(self.runtime, email, "member-password", **quota)
        return Api.login(self.url, email, "member-password")


@pytest.fixture
def platform(platform_db_url: str, make_settings: Callable[..., Settings]) -> Iterator[Platform]:
    runtime = prepare(make_settings(database_url=platform_db_url))
    with api_in_thread(runtime, free_port()) as url:
        yield Platform(url, runtime)
    runtime.close()


@pytest.fixture
def platform_factory(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., Platform]]:
    """Platforms with settings of the test's choosing (SQLite unless told)."""
    stops: list[Callable[[], None]] = []

    def make(**overrides: Any) -> Platform:
        db = tmp_path_factory.mktemp("platform") / "platform.db"
        overrides.setdefault("database_url", f"sqlite:///{db}")
        runtime = prepare(make_settings(**overrides))
        served = api_in_thread(runtime, free_port())
        url = served.__enter__()

        def stop() -> None:
            served.__exit__(None, None, None)
            runtime.close()

        stops.append(stop)
        return Platform(url, runtime)

    yield make
    for stop in reversed(stops):
        stop()
