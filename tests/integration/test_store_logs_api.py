"""``GET /api/stores/{id}/logs``: a local store's files read by the API
itself; a Kubernetes store's lines asked of a worker's log reader through the
platform database (the API has no cluster rights; on every platform
database), with a 503 when no worker answers; only the owner (or an admin)
reads them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import func, select

from storefleet.drivers.base import Step, StoreDriver, StoreSnapshot
from storefleet.drivers.local import logs as local_logs
from storefleet.drivers.logs import LogPage, LogQuery, collect
from storefleet.operations.log_reader import LogReader
from storefleet.stores import logs as store_logs
from storefleet.stores.models import Store, StoreLogRequest
from tests.integration.conftest import Platform


def _uid(platform: Platform, store_id: int, driver: str | None = None) -> str:
    with platform.runtime.db.transaction() as session:
        store = session.get(Store, store_id)
        assert store is not None
        if driver:
            store.driver = driver
        return store.uid


def _requests_left(platform: Platform) -> int:
    with platform.runtime.db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(StoreLogRequest)) or 0)


def test_a_local_stores_logs_newest_first_redacted_and_only_for_its_owner(
    platform_factory: Callable[..., Platform],
) -> None:
    # Files read by the API: the platform database plays no part (SQLite).
    platform = platform_factory()
    owner, other = platform.member(), platform.member()
    store_id = owner.create_store("logged-shop").json()["id"]
    uid = _uid(platform, store_id)
    settings = platform.runtime.settings
    logs = local_logs.store_logs_dir(settings, uid)
    logs.mkdir(parents=True)
    (logs / "php-error.log").write_text(
        "[07-Dec-2026 22:00:00 UTC] PHP Notice:  older\n"
        "[07-Dec-2026 22:00:09 UTC] PHP Warning:  newer, password=hunter2\n"
    )
    access = local_logs.access_log_path(settings, uid)
    access.parent.mkdir(parents=True, exist_ok=True)
    access.write_text('10.0.0.1 [2026-12-07T22:00:05+00:00] "GET /shop/" 200 9 0.01 "ua" HIT\n')

    resp = owner.http.get(f"/api/stores/{store_id}/logs")
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["source"] == "php" and page["more"] is False and "MiB" in page["kept"]
    assert [i["text"] for i in page["items"]] == [
        "[07-Dec-2026 22:00:09 UTC] PHP Warning:  newer, password=[redacted]",
        "[07-Dec-2026 22:00:00 UTC] PHP Notice:  older",
    ]
    assert page["items"][0]["at"].startswith("2026-12-07T22:00:09")
    since = owner.http.get(
        f"/api/stores/{store_id}/logs", params={"since": "2026-12-07T22:00:05Z", "q": "NEWER"}
    ).json()
    assert len(since["items"]) == 1
    assert (
        owner.http.get(
            f"/api/stores/{store_id}/logs", params={"since": "2026-12-07T22:00:05Z", "q": "older"}
        ).json()["items"]
        == []
    )
    web = owner.http.get(f"/api/stores/{store_id}/logs", params={"source": "access"}).json()
    assert [i["text"] for i in web["items"]] == [access.read_text().strip()]
    # An admin too; another member does not learn the store exists.
    assert platform.admin().http.get(f"/api/stores/{store_id}/logs").status_code == 200
    assert other.http.get(f"/api/stores/{store_id}/logs").status_code == 404
    for bad in ({"source": "mail"}, {"limit": 0}, {"limit": 1001}, {"since": "yesterday"}):
        assert owner.http.get(f"/api/stores/{store_id}/logs", params=bad).status_code == 422, bad


class _PodLogs(StoreDriver):
    """A Kubernetes driver's log reading, with the pod's output given."""

    name = "kubernetes"
    logs_through_worker = True

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.asked: list[tuple[str, LogQuery]] = []

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        return ()

    def delete_steps(self) -> Sequence[Step]:
        return ()

    def read_logs(self, store: StoreSnapshot, query: LogQuery) -> LogPage:
        self.asked.append((store.uid, query))
        return collect(((None, line) for line in reversed(self.lines)), query, "the pod's")


def test_a_kubernetes_stores_logs_come_from_a_worker_through_the_database(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = platform.member()
    store_id = owner.create_store("pod-shop").json()["id"]
    uid = _uid(platform, store_id, driver="kubernetes")
    driver = _PodLogs([
        '10.0.0.1 [2026-12-07T22:00:01+00:00] "GET /a?token=t0k3n" 200 9 0.01 "ua" MISS',
        "[07-Dec-2026 22:00:02 UTC] PHP Warning:  in the pod",
    ])  # fmt: skip
    reader = LogReader(platform.runtime, driver, owner="test-worker")
    reader.start()
    try:
        resp = owner.http.get(
            f"/api/stores/{store_id}/logs",
            params={"source": "php", "since": "2026-12-07T22:00:00+00:00", "limit": 5},
        )
    finally:
        reader.stop()
    assert resp.status_code == 200, resp.text
    assert [(i["at"], i["text"]) for i in resp.json()["items"]] == [
        ("2026-12-07T22:00:02Z", "[07-Dec-2026 22:00:02 UTC] PHP Warning:  in the pod"),
        ("2026-12-07T22:00:01Z",
         '10.0.0.1 [2026-12-07T22:00:01+00:00] "GET /a?token=[redacted]" 200 9 0.01 "ua" MISS'),
    ]  # fmt: skip
    assert resp.json()["kept"] == "the pod's"
    ((asked_uid, query),) = driver.asked
    assert asked_uid == uid and query.limit == 5
    assert query.since == dt.datetime(2026, 12, 7, 22, tzinfo=dt.UTC)
    assert _requests_left(platform) == 0  # the API deleted its question once answered

    # No worker: a 503 that says why, and nothing left behind.
    monkeypatch.setattr(store_logs, "WORKER_ANSWER_SECONDS", 0.5)
    resp = owner.http.get(f"/api/stores/{store_id}/logs", params={"source": "access"})
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5", resp.text
    assert "No worker answered" in resp.json()["detail"]
    assert _requests_left(platform) == 0
