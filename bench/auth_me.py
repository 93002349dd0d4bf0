"""What an authenticated request costs: ``GET /api/auth/me`` requests per
second against ``storefleet api`` (SQLite, one process), with a sign-in's
token and with an API token, over a fixed number of keep-alive connections.

    .venv/bin/python bench/auth_me.py [--connections 4] [--seconds 10]

Run it with another checkout's interpreter (its ``.venv/bin/python``) to
compare two versions with the same command; a version without API tokens
reports the sign-in only.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ADMIN, PASSWORD = "admin@example.com", "bench-password-1234"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hammer(url: str, token: str, connections: int, seconds: float) -> float:
    counts = [0] * connections
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            while time.monotonic() < stop:
                resp = c.get(url + "/api/auth/me")
                if resp.status_code != 200:
                    raise SystemExit(f"{resp.status_code}: {resp.text}")
                counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="sf-bench-"))
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOREFLEET_")},
        "STOREFLEET_DATA_DIR": str(data), "STOREFLEET_PORT": str(port),
        "STOREFLEET_SECRET_KEY": secrets.token_urlsafe(48),
        "STOREFLEET_ADMIN_PASSWORD": PASSWORD, "STOREFLEET_LOG_FORMAT": "json",
        "STOREFLEET_API_REQUESTS_PER_MINUTE_PER_TOKEN": "10000000",
        "STOREFLEET_API_REQUESTS_PER_MINUTE_PER_ADDRESS": "10000000",
    }  # fmt: skip
    run = [sys.executable, "-m", "storefleet"]
    subprocess.run([*run, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*run, "bootstrap"], env=env, check=True, capture_output=True)
    api = subprocess.Popen([*run, "api"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the API did not start")
            time.sleep(0.1)
        login = httpx.post(url + "/api/auth/login", json={"email": ADMIN, "password": PASSWORD})
        token = login.json()["access_token"]
        _hammer(url, token, args.connections, 2)  # warm up
        rate = _hammer(url, token, args.connections, args.seconds)
        print(f"sign-in token: {rate:.0f} requests/s ({args.connections} connections, "
              f"{args.seconds:.0f} s)")  # fmt: skip
        made = httpx.post(url + "/api/tokens", json={"name": "bench", "scopes": ["read"]},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        if made.status_code == 201:
            rate = _hammer(url, made.json()["token"], args.connections, args.seconds)
            print(f"API token:     {rate:.0f} requests/s")
    finally:
        api.send_signal(signal.SIGINT)
        api.wait(timeout=20)


if __name__ == "__main__":
    main()
