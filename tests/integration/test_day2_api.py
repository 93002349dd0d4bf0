"""The day-2 API on its own (no worker), on every platform database: who may
do what, what a store's phase allows, and what is recorded."""

from __future__ import annotations

from sqlalchemy import select

from storefleet.backups.models import Backup, BackupStatus
from storefleet.stores.models import Phase, Store, StoreOperation
from tests.integration.conftest import Platform


def _set_phase(platform: Platform, store_id: int, phase: Phase) -> None:
    with platform.runtime.db.transaction() as session:
        store = session.get(Store, store_id)
        assert store is not None
        store.phase = phase.value
        if phase == Phase.ready:
            store.ready_at = store.created_at
        for op in session.scalars(
            select(StoreOperation).where(StoreOperation.store_id == store_id)
        ).all():
            op.status = "succeeded"


def test_day2_requests_follow_the_phase_and_are_recorded(platform: Platform) -> None:
    member = platform.member()
    store_id = member.create_store("later-shop").json()["id"]
    # Pending: nothing day-2 can be asked yet.
    for path in ("backups", "suspend", "resume"):
        resp = member.http.post(f"/api/stores/{store_id}/{path}")
        assert resp.status_code == 409, (path, resp.text)
    _set_phase(platform, store_id, Phase.ready)
    assert member.http.post(f"/api/stores/{store_id}/resume").status_code == 409
    resp = member.http.post(f"/api/stores/{store_id}/backups")
    assert resp.status_code == 202, resp.text
    backup = resp.json()
    assert (backup["kind"], backup["status"]) == ("manual", "pending")
    # One operation at a time.
    busy = member.http.post(f"/api/stores/{store_id}/suspend")
    assert busy.status_code == 409 and "in flight" in busy.json()["detail"]
    ops = member.http.get(f"/api/stores/{store_id}/operations").json()
    assert [(o["kind"], o["status"]) for o in ops[:2]] == [
        ("backup", "pending"), ("provision", "succeeded"),
    ]  # fmt: skip
    assert ops[0]["params"] == {"backup_id": backup["id"]}
    detail = member.store(store_id)
    assert detail["backup_schedule_hours"] == 24 and detail["backup_schedule_is_default"]
    changed = member.http.patch(f"/api/stores/{store_id}", json={"backup_schedule_hours": 6})
    assert changed.status_code == 200 and changed.json()["backup_schedule_hours"] == 6
    # A backup that is not completed cannot be restored or cloned.
    resp = member.http.post(f"/api/stores/{store_id}/restore", json={"backup_id": backup["id"]})
    assert resp.status_code == 409
    clone = member.create_store("copy-shop", source_backup_id=backup["id"])
    assert clone.status_code == 409, clone.text
    audit = platform.admin().http.get("/api/audit", params={"action": "store.backup"}).json()
    assert any(a["target"] == f"store:{store_id}" for a in audit["items"])


def test_backups_are_private_to_their_owner(platform: Platform) -> None:
    owner, other = platform.member(), platform.member()
    store_id = owner.create_store("private-shop").json()["id"]
    _set_phase(platform, store_id, Phase.ready)
    backup_id = owner.http.post(f"/api/stores/{store_id}/backups").json()["id"]
    with platform.runtime.db.transaction() as session:
        backup = session.get(Backup, backup_id)
        assert backup is not None
        backup.status = BackupStatus.completed.value
        backup.target, backup.location, backup.sha256 = "dir", "x.sfb", "0" * 64
    assert other.http.get(f"/api/stores/{store_id}/backups").status_code == 404
    stolen = other.create_store("stolen-shop", source_backup_id=backup_id)
    assert stolen.status_code == 404, stolen.text
    # The owner may clone it; the clone runs the backup's releases.
    mine = owner.create_store("copied-shop", source_backup_id=backup_id)
    assert mine.status_code == 202, mine.text
    other_store = other.create_store("other-shop").json()["id"]
    _set_phase(platform, other_store, Phase.ready)
    wrong = other.http.post(f"/api/stores/{other_store}/restore", json={"backup_id": backup_id})
    assert wrong.status_code == 404  # a store is restored from its own backups only


def test_fleet_upgrades_are_for_admins_and_pinned_releases(platform: Platform) -> None:
    member = platform.member()
    assert member.http.post("/api/fleet/upgrades", json={}).status_code == 403
    assert member.http.get("/api/fleet/upgrades").status_code == 403
    summary = member.http.get("/api/fleet/summary")
    assert summary.status_code == 200
    assert {p["phase"] for p in summary.json()["phases"]} >= {"ready", "degraded", "suspended"}
    admin = platform.admin()
    unknown = admin.http.post("/api/fleet/upgrades", json={"woocommerce": "99.0.0"})
    assert unknown.status_code == 422 and "not a pinned release" in unknown.text
    bad_waves = admin.http.post("/api/fleet/upgrades", json={"waves": ["0"]})
    assert bad_waves.status_code == 422
    # Stores run tested pairs only: 6.9.7 with the current WooCommerce is none.
    mixed = admin.http.post("/api/fleet/upgrades", json={"wordpress": "6.9.7"})
    assert mixed.status_code == 422, mixed.text
    assert "WordPress 6.9.7 + WooCommerce 11.0.1 is not a supported release pair" in mixed.text
    done = admin.http.post(
        "/api/fleet/upgrades", json={"wordpress": "6.9.7", "woocommerce": "10.9.4"}
    )
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "succeeded" and done.json()["stores"] == []
    releases = admin.http.get("/api/fleet/releases").json()
    assert releases["wordpress"] == "6.9.7"
    # New stores get the platform's releases.
    made = member.create_store("old-wp-shop").json()
    assert made["wordpress_version"] == "6.9.7"
