"""Fifty stores at once through the Kubernetes driver against the test control
plane (or STOREFLEET_TEST_KUBECONFIG): throughput in stores per minute and the
per-store control-plane time (first step start to last step end), median and
p95. Runs tests/k8s/test_driver.py::test_fifty_stores_at_once and records its
figures in bench/results/k8s-50-stores.json.

    .venv/bin/python bench/k8s_provision.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "k8s-50-stores.json"


def main() -> None:
    env = {**os.environ, "STOREFLEET_BENCH_OUT": str(OUT)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s",
         "tests/k8s/test_driver.py::test_fifty_stores_at_once"],
        cwd=REPO,
        env=env,
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    result = json.loads(OUT.read_text())
    print(f"{result['stores']} stores ready in {result['wall_seconds']} s: "
          f"{result['stores_per_minute']} stores/minute")  # fmt: skip
    print(f"per-store control-plane time: median {result['control_plane_seconds_median']} s, "
          f"p95 {result['control_plane_seconds_p95']} s")  # fmt: skip


if __name__ == "__main__":
    main()
