"""Property-based requests generated from the OpenAPI document find no 500."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from storefleet.config import Settings
from tests.conftest import free_port
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, Api, api_in_thread, prepare


def test_no_server_errors_across_the_api(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # A generous throttle and rate limit: schemathesis signs in with random
    # credentials a lot, and sends about 5,000 requests a minute.
    runtime = prepare(make_settings(login_failures_per_address=100_000,
                                    login_failures_per_account=100_000,
                                    api_requests_per_minute_per_token=1_000_000,
                                    api_requests_per_minute_per_address=1_000_000))  # fmt: skip
    with api_in_thread(runtime, free_port()) as url:
        token = Api.login(url, ADMIN_EMAIL, ADMIN_PASSWORD).http.headers["Authorization"]
        proc = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{url}/api/openapi.json",
                "--checks", "not_a_server_error",
                "--header", f"Authorization: {token}",
                "--max-examples", "40",
                "--exclude-path", "/api/stores/stream",
                "--seed", "1",
                "--request-timeout", "20",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )  # fmt: skip
    runtime.close()
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", proc.stdout)
    assert cases and int(cases.group(1)) > 200, proc.stdout[-3000:]
    assert cases.group(1) == cases.group(2), proc.stdout[-3000:]
    assert "Server error" not in proc.stdout
    assert "Rate limited" not in proc.stdout, proc.stdout[-3000:]  # the logic was reached
