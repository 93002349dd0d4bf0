"""The CLI's mistakes a newcomer makes first get one clear line, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def _storefleet(
    *args: str, cwd: Path, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storefleet", *args],
        cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _env_without_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STOREFLEET_")}


def test_the_host_commands_outside_the_checkout_say_where_to_run(tmp_path: Path) -> None:
    # `var/` is relative to where the command runs: from elsewhere there is no
    # platform database, and none may be made there.
    for args in (("users", "list"), ("users", "activate", "admin@example.com")):
        done = _storefleet(*args, cwd=tmp_path, env=_env_without_settings())
        assert done.returncode == 1, done
        assert "no platform database at" in done.stderr, done.stderr
        assert "run this from the checkout" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "var" / "storefleet.db").exists()


def test_login_without_an_api_says_so(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**_env_without_settings(), "STOREFLEET_API_URL": f"http://127.0.0.1:{port}"}
    done = _storefleet("login", "admin@example.com", cwd=tmp_path, env=env, stdin="secret\n")
    assert done.returncode == 1
    assert f"cannot reach the API at http://127.0.0.1:{port}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
