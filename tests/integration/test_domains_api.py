"""The custom-domains API on its own (no worker), on every platform
database: who may add, see and remove a domain, what a name must be, one
store per domain, and what the reconciler's sweep does with the proof and
with certificates that expire."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from storefleet.db import utcnow
from storefleet.domains import sweep
from storefleet.domains.models import DomainStatus, StoreDomain
from storefleet.stores.models import Phase, Store, StoreOperation
from tests.integration.conftest import Platform


def _ready(platform: Platform, store_id: int) -> None:
    with platform.runtime.db.transaction() as session:
        store = session.get(Store, store_id)
        assert store is not None
        store.phase = Phase.ready.value
        store.ready_at = store.created_at
        store.url = "http://dom.localhost:8080/"
        for op in session.scalars(
            select(StoreOperation).where(StoreOperation.store_id == store_id)
        ).all():
            op.status = "succeeded"


def _ops(platform: Platform, store_id: int) -> list[tuple[str, str, str]]:
    with platform.runtime.db.transaction(write=False) as session:
        rows = session.scalars(
            select(StoreOperation)
            .where(StoreOperation.store_id == store_id)
            .order_by(StoreOperation.id)
        ).all()
        return [(o.kind, o.status, o.requested_by) for o in rows]


#: Not domains, or the platform's own names: each refused with 422.
BAD_NAMES = (
    "localhost", "shop", "1.2.3.4", "-shop.example.com", "shop-.example.com", "sh op.example.com",
    "shop..example.com", "_x.example.com", "a" * 64 + ".example.com", "shop.localhost",
    "x.dom-shop.localhost", "ünï.example.com",
)  # fmt: skip


def test_a_domain_must_be_a_domain_that_is_not_the_platforms(platform: Platform) -> None:
    # One platform for every name (a platform per name cost ~5 s each).
    member = platform.member()
    store_id = member.create_store("named-shop").json()["id"]
    for bad in BAD_NAMES:
        resp = member.http.post(f"/api/stores/{store_id}/domains", json={"domain": bad})
        assert resp.status_code == 422, (bad, resp.text)
        assert "domain" in resp.text, bad
    assert member.http.get(f"/api/stores/{store_id}/domains").json() == []


def test_domains_belong_to_one_store_and_their_owner(platform: Platform) -> None:
    owner, other = platform.member(), platform.member()
    store_id = owner.create_store("dom-shop").json()["id"]
    theirs = other.create_store("their-shop").json()["id"]
    resp = owner.http.post(f"/api/stores/{store_id}/domains", json={"domain": "Shop.Example.COM."})
    assert resp.status_code == 201, resp.text
    added = resp.json()
    assert added["domain"] == "shop.example.com" and added["status"] == "pending"
    assert added["primary"] is True and added["url"] is None
    assert added["verification"]["name"] == "_storefleet-challenge.shop.example.com"
    token = added["verification"]["value"]
    assert token.startswith("sf-") and len(token) > 30
    # Asked again: the same domain, looked up again (200), its token kept.
    again = owner.http.post(f"/api/stores/{store_id}/domains", json={"domain": "shop.example.com"})
    assert again.status_code == 200 and again.json()["verification"]["value"] == token
    # Another store cannot have it; another member cannot see or touch this store's.
    taken = other.http.post(f"/api/stores/{theirs}/domains", json={"domain": "shop.example.com"})
    assert taken.status_code == 409 and "another store" in taken.json()["detail"]
    assert other.http.get(f"/api/stores/{store_id}/domains").status_code == 404
    nope = other.http.delete(f"/api/stores/{store_id}/domains/shop.example.com")
    assert nope.status_code == 404
    # A second domain is not primary unless asked.
    second = owner.http.post(f"/api/stores/{store_id}/domains", json={"domain": "www.example.com"})
    assert second.json()["primary"] is False
    listed = owner.http.get(f"/api/stores/{store_id}/domains").json()
    assert [(d["domain"], d["primary"]) for d in listed] == [
        ("shop.example.com", True), ("www.example.com", False),
    ]  # fmt: skip
    # An admin sees it; a removed (never proven) domain is free at once.
    assert len(platform.admin().http.get(f"/api/stores/{store_id}/domains").json()) == 2
    gone = owner.http.delete(f"/api/stores/{store_id}/domains/shop.example.com")
    assert gone.status_code == 202 and gone.json()["status"] == "removed"
    free = other.http.post(f"/api/stores/{theirs}/domains", json={"domain": "shop.example.com"})
    assert free.status_code == 201, free.text
    audit = platform.admin().http.get("/api/audit", params={"action": "store.domain.add"}).json()
    assert {a["target"] for a in audit["items"]} == {f"store:{store_id}", f"store:{theirs}"}
    assert (
        owner.http.delete(f"/api/stores/{store_id}/domains/nowhere.example.com").status_code == 404
    )


def test_read_only_tokens_list_domains_and_cannot_add_them(platform: Platform) -> None:
    member = platform.member()
    store_id = member.create_store("token-shop").json()["id"]
    token = member.http.post("/api/tokens", json={"name": "ro", "scopes": ["read"]}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    listed = member.http.get(f"/api/stores/{store_id}/domains", headers=headers)
    assert listed.status_code == 200
    refused = member.http.post(
        f"/api/stores/{store_id}/domains", json={"domain": "ro.example.com"}, headers=headers
    )
    assert refused.status_code == 403


def test_the_sweep_asks_for_the_operation_renewals_and_falls_back(platform: Platform) -> None:
    member = platform.member()
    store_id = member.create_store("sweep-shop").json()["id"]
    _ready(platform, store_id)
    member.http.post(f"/api/stores/{store_id}/domains", json={"domain": "sweep.example.com"})
    rt = platform.runtime
    # Proven (as the TXT lookup would say): the sweep asks for a domain operation, once.
    with rt.db.transaction() as session:
        d = session.scalar(select(StoreDomain).where(StoreDomain.name == "sweep.example.com"))
        assert d is not None
        d.status = DomainStatus.verified.value
    assert sweep.converge(rt) == [store_id]
    assert sweep.converge(rt) == []  # one is waiting already
    assert _ops(platform, store_id)[-1] == ("domain", "pending", "reconciler")
    # Active, with a certificate far from expiry: nothing to do.
    _ready(platform, store_id)
    with rt.db.transaction() as session:
        d = session.scalar(select(StoreDomain).where(StoreDomain.name == "sweep.example.com"))
        assert d is not None
        d.status = DomainStatus.active.value
        d.expires_at = utcnow() + dt.timedelta(days=80)
        store = session.get(Store, store_id)
        assert store is not None
        store.url = "https://sweep.example.com:8443/"
    assert sweep.converge(rt) == []
    # Within the renewal window: renewed.
    with rt.db.transaction() as session:
        d = session.scalar(select(StoreDomain).where(StoreDomain.name == "sweep.example.com"))
        assert d is not None
        d.expires_at = utcnow() + dt.timedelta(days=10)
    assert sweep.converge(rt) == [store_id]
    _ready(platform, store_id)
    # Expired (every renewal failed): failed, with the reason, and the store's
    # address moves off it.
    with rt.db.transaction() as session:
        d = session.scalar(select(StoreDomain).where(StoreDomain.name == "sweep.example.com"))
        assert d is not None
        d.expires_at = utcnow() - dt.timedelta(minutes=1)
        d.failure_reason = "renewal failed: the ACME server said no"
    assert sweep.expire(rt) == ["sweep.example.com"]
    shown = member.http.get(f"/api/stores/{store_id}/domains").json()[0]
    assert shown["status"] == "failed" and "expired" in shown["failure_reason"]
    assert "said no" in shown["failure_reason"]
    assert sweep.converge(rt) == [store_id]
    events = member.http.get(f"/api/stores/{store_id}/events").json()
    assert any("falls back" in e["message"] for e in events)
