"""A burst of sign-ins degrades to 429 and 503, never to more password
checks than the throttle allows or more memory than the API may use."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from argon2 import PasswordHasher

from storefleet.auth import passwords
from storefleet.config import Settings
from tests.conftest import free_port
from tests.integration.conftest import Platform
from tests.support import add_member, prepare, process_env


class CountingHasher:
    """Argon2 as the platform uses it, counting the verifications that really
    run (and how many at once); ``delay`` makes each one slower."""

    def __init__(self, real: PasswordHasher, delay: float = 0.0) -> None:
        self._real = real
        self._delay = delay
        self._lock = threading.Lock()
        self.verified = 0
        self.running = 0
        self.peak = 0

    def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.verified += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self._delay)
            return self._real.verify(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., CountingHasher]]:
    def install(delay: float = 0.0) -> CountingHasher:
        counting = CountingHasher(passwords._hasher, delay)
        monkeypatch.setattr(passwords, "_hasher", counting)
        return counting

    yield install


def _burst(url: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    def post(body: dict[str, str]) -> httpx.Response:
        return httpx.post(url + "/api/auth/login", json=body, timeout=60)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


@pytest.mark.parametrize("counts_in", ["memory", "redis"])
def test_fifty_concurrent_wrong_guesses_verify_at_most_the_allowed_passwords(
    counts_in: str,
    platform_db_url: str,
    platform_factory: Callable[..., Platform],
    hasher: Callable[..., CountingHasher],
    request: pytest.FixtureRequest,
) -> None:
    # On every database: the count must not rely on SQLite serialising requests.
    redis_url = request.getfixturevalue("redis_url") if counts_in == "redis" else None
    platform = platform_factory(
        database_url=platform_db_url, redis_url=redis_url, login_failures_per_account=5
    )
    add_member(platform.runtime, "target@example.com", "the-right-password")
    counting = hasher()
    responses = _burst(
        platform.url, [{"email": "target@example.com", "password": f"guess-{i}"} for i in range(50)]
    )
    codes = Counter(r.status_code for r in responses)
    print(f"50 concurrent wrong guesses: {dict(codes)}, {counting.verified} passwords verified")
    assert set(codes) <= {401, 429}, codes
    assert codes[401] <= 5 and codes[429] >= 45, codes
    assert counting.verified <= 5, counting.verified
    assert platform.runtime.passwords.verifications == counting.verified
    assert all("Retry-After" in r.headers for r in responses if r.status_code == 429)
    # The account stays throttled for the right password too.
    right = httpx.post(
        platform.url + "/api/auth/login",
        json={"email": "target@example.com", "password": "the-right-password"},
    )
    assert right.status_code == 429
    assert counting.verified <= 5


def test_password_checks_run_a_bounded_number_at_once(
    platform_factory: Callable[..., Platform], hasher: Callable[..., CountingHasher]
) -> None:
    # 128 MiB for Argon2 at 64 MiB a check: two at once.
    platform = platform_factory(
        password_check_memory_mib=128, password_check_wait_seconds=30,
        login_failures_per_address=1000,
    )  # fmt: skip
    assert platform.runtime.passwords.concurrency == 2
    counting = hasher(delay=0.05)
    responses = _burst(
        platform.url, [{"email": f"u{i}@example.com", "password": "wrong"} for i in range(30)]
    )
    assert Counter(r.status_code for r in responses) == {401: 30}
    assert counting.verified == 30
    assert counting.peak == 2


def test_a_full_bound_answers_503_with_retry_after(
    platform_factory: Callable[..., Platform], hasher: Callable[..., CountingHasher]
) -> None:
    platform = platform_factory(
        password_check_memory_mib=64, password_check_wait_seconds=0.1,
        login_failures_per_address=1000,
    )  # fmt: skip
    counting = hasher(delay=1.0)
    responses = _burst(
        platform.url, [{"email": f"u{i}@example.com", "password": "wrong"} for i in range(10)]
    )
    codes = Counter(r.status_code for r in responses)
    assert codes[503] >= 8 and set(codes) <= {401, 503}, codes
    assert counting.peak == 1
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["Retry-After"] == "2"
    assert "try again" in busy.json()["detail"]


def test_a_sign_in_burst_stays_within_the_api_memory_limit(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """`storefleet api` as the chart runs it (512Mi): 60 sign-ins at once."""
    settings = make_settings(login_failures_per_address=1000)
    prepare(settings).close()
    port = free_port()
    env = {
        **os.environ,
        **process_env(settings),
        "STOREFLEET_PORT": str(port),
        "STOREFLEET_LOGIN_FAILURES_PER_ADDRESS": "1000",
        "STOREFLEET_PASSWORD_CHECK_WAIT_SECONDS": "60",  # every sign-in is checked, in turn
    }
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "storefleet", "api"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "the API did not start"
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        api = psutil.Process(proc.pid)
        peak = api.memory_info().rss
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, api.memory_info().rss)
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            responses = _burst(
                url, [{"email": f"u{i}@example.com", "password": "wrong"} for i in range(60)]
            )
        finally:
            done.set()
            sampler.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert Counter(r.status_code for r in responses) == {401: 60}
    mib = peak / 2**20
    print(f"peak RSS of the API during 60 concurrent sign-ins: {mib:.0f} MiB")
    # Unbounded, this burst took the API past 1.2 GiB; the chart allows 512 MiB.
    assert mib < 450, mib
