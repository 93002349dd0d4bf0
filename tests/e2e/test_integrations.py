"""Webhooks end to end: real API and worker processes, a real local store,
and real HTTP receivers on loopback; and the secrets of tokens, webhooks and
two-factor sign-in searched for where they must never be."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyotp

from tests.conftest import free_port
from tests.e2e.conftest import LocalPlatform


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    got: list[Received] = field(default_factory=list)
    #: Status codes to answer, in order, per path (then 200).
    plan: dict[str, list[int]] = field(default_factory=dict)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path]

    def wait(self, path: str, n: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.on(path)) < n:
            assert time.monotonic() < deadline, f"{path}: {len(self.on(path))} of {n} requests"
            time.sleep(0.05)
        return self.on(path)


@contextmanager
def receiver(port: int | None = None) -> Iterator[Receiver]:
    """A real HTTP server on loopback that records every request."""
    port = port or free_port()
    box = Receiver(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            box.got.append(Received(time.time(), self.path, dict(self.headers), body))
            plan = box.plan.get(self.path) or []
            code = plan.pop(0) if plan else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"boom" if code >= 500 else b"thanks")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


def _verify(secret: str, got: Received) -> dict[str, object]:
    """Check the signature as docs/webhooks.md tells receivers to."""
    parts = dict(p.split("=", 1) for p in got.headers["X-StoreFleet-Signature"].split(","))
    signed = f"{parts['t']}.".encode() + got.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"]), "bad signature"
    assert abs(time.time() - int(parts["t"])) < 300
    data: dict[str, object] = json.loads(got.body)
    return data


def _hook(api: object, url: str, events: list[str]) -> dict[str, object]:
    resp = api.http.post("/api/webhooks", json={"url": url, "events": events})  # type: ignore[attr-defined]
    assert resp.status_code == 201, resp.text
    data: dict[str, object] = resp.json()
    return data


def test_store_ready_webhook_is_signed_on_time_and_retried(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    """Acceptance (f): a signed store.ready within 10 s of ready; a receiver
    that answers 500 twice gets it on the third try; a member's webhook hears
    nothing of another's store. And no secret of a token, webhook or
    two-factor enrolment is anywhere it must not be."""
    platform = local_platform_factory(
        webhooks_allow_private_networks=True, webhook_retry_initial_seconds=0.5
    )
    api = platform.admin()
    platform.add_member("hooked@example.com")
    from tests.support import Api

    member = Api.login(platform.url, "hooked@example.com", "member-password")
    with receiver() as rx:
        rx.plan["/flaky"] = [500, 500]
        ok = _hook(api, rx.url + "/ok", ["store.ready", "store.failed"])
        flaky = _hook(api, rx.url + "/flaky", ["store.ready"])
        _hook(member, rx.url + "/member", ["store.ready"])
        token = api.http.post("/api/tokens", json={"name": "ci", "scopes": ["read"]}).json()
        totp_secret = api.http.post("/api/auth/2fa/setup").json()["secret"]
        codes = api.http.post(
            "/api/auth/2fa/confirm", json={"code": pyotp.TOTP(totp_secret).now()}
        ).json()["recovery_codes"]

        store_id = api.create_store("hooked-shop").json()["id"]
        store = api.wait_for(store_id, "ready", timeout=120)
        ready_at = dt.datetime.fromisoformat(store["ready_at"]).timestamp()

        first = rx.wait("/ok", 1, timeout=15)[0]
        assert first.at - ready_at < 10, f"{first.at - ready_at:.1f}s after ready"
        event = _verify(str(ok["secret"]), first)
        assert (
            event["type"] == "store.ready" and first.headers["X-StoreFleet-Event"] == "store.ready"
        )
        assert event["data"]["store"]["id"] == store_id  # type: ignore[index]
        assert event["data"]["store"]["status"] == "ready"  # type: ignore[index]

        tries = rx.wait("/flaky", 3, timeout=30)
        assert [_verify(str(flaky["secret"]), t)["id"] for t in tries] == [event["id"]] * 3
        deliveries = api.http.get(f"/api/webhooks/{flaky['id']}/deliveries").json()["items"]
        assert len(deliveries) == 1
        d = deliveries[0]
        assert d["status"] == "succeeded" and d["attempts"] == 3
        assert [(t["status_code"], t["response"]) for t in d["tries"]] == [
            (500, "boom"), (500, "boom"), (200, "thanks")
        ]  # fmt: skip
        time.sleep(1)
        assert len(rx.on("/ok")) == 1 and len(rx.on("/flaky")) == 3  # no duplicates
        assert rx.on("/member") == []  # not the member's store

        # The secrets: shown once, then nowhere.
        needles = {
            "api token": token["token"],
            "webhook secret": ok["secret"],
            "webhook secret 2": flaky["secret"],
            "totp secret": totp_secret,
            **{f"recovery code {i}": c for i, c in enumerate(codes)},
        }
        answers = " ".join(
            api.http.get(path).text
            for path in ("/api/tokens", "/api/webhooks", "/api/auth/2fa", "/api/auth/me",
                         f"/api/webhooks/{ok['id']}/deliveries", "/api/audit")
        )  # fmt: skip
        files = [*platform.settings.data_path.glob("*.db*"),
                 *Path(platform.procs.log_dir).glob("*.log")]  # fmt: skip
        contents = {path: path.read_bytes() for path in files}
        for what, secret in needles.items():
            assert str(secret) not in answers, what
            for path, data in contents.items():
                assert str(secret).encode() not in data, f"{what} in {path}"
                compact = str(secret).replace("-", "").encode()
                assert compact not in data, f"{what} in {path}"


def test_a_delivery_survives_a_killed_worker(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    """Nothing lost: the receiver is down, the worker is SIGKILLed after the
    first attempt failed; a new worker delivers the event once the receiver
    is back."""
    platform = local_platform_factory(
        webhooks_allow_private_networks=True, webhook_retry_initial_seconds=2
    )
    api = platform.admin()
    port = free_port()
    hook = _hook(api, f"http://127.0.0.1:{port}/late", ["store.ready"])
    store_id = api.create_store("late-shop", sample_products=False).json()["id"]
    api.wait_for(store_id, "ready", timeout=120)
    deadline = time.monotonic() + 20
    while True:
        items = api.http.get(f"/api/webhooks/{hook['id']}/deliveries").json()["items"]
        if items and items[0]["tries"]:
            break
        assert time.monotonic() < deadline, items
        time.sleep(0.2)
    assert items[0]["status"] == "pending" and "ConnectError" in items[0]["tries"][0]["error"]
    platform.procs.kill("worker", signal.SIGKILL)
    with receiver(port) as rx:
        platform.procs.start("worker")
        got = rx.wait("/late", 1, timeout=60)
        assert _verify(str(hook["secret"]), got[0])["type"] == "store.ready"
    final = api.http.get(f"/api/webhooks/{hook['id']}/deliveries").json()["items"][0]
    assert final["status"] == "succeeded" and final["tries"][-1]["status_code"] == 200
