"""Provisioning with the Kubernetes driver, on the test environment of
`make k8s-up` (or STOREFLEET_TEST_KUBECONFIG), in two measurements:

- **real node**: N stores (default 10) created at once through the API, each
  installed for real on the node (the store image, the install Job, Traefik)
  and verified: POST -> ready, median and p95, and stores per minute
  (tests/k8s/test_stores.py::test_stores_at_once_on_the_real_node);
- **simulated nodes**: M stores (default 1,000) at once on kwok's nodes, where
  nothing runs the pods: the driver's control-plane time per store (first
  step start to last step end), median and p95, and stores per minute
  (tests/k8s/test_driver.py::test_fifty_stores_at_once).

Each result file records the date, the machine and which nodes:
bench/results/k8s-real-node.json and bench/results/k8s-simulated-nodes.json.

    .venv/bin/python bench/k8s_provision.py [--real 10] [--simulated 1000] [--concurrency 3]
        [--only real|simulated]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
RUNS = {
    "real": (
        "tests/k8s/test_stores.py::test_stores_at_once_on_the_real_node",
        RESULTS / "k8s-real-node.json",
        "post_to_ready_seconds",
    ),
    "simulated": (
        "tests/k8s/test_driver.py::test_fifty_stores_at_once",
        RESULTS / "k8s-simulated-nodes.json",
        "control_plane_seconds",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=int, default=10, help="stores at once on the real node")
    parser.add_argument("--simulated", type=int, default=1000, help="stores on kwok's nodes")
    parser.add_argument("--concurrency", type=int, default=3, help="jobs per worker (simulated)")
    parser.add_argument("--only", choices=sorted(RUNS), help="one of the two measurements")
    args = parser.parse_args()
    counts = {"real": args.real, "simulated": args.simulated}
    for kind, (test, out, label) in RUNS.items():
        if args.only and kind != args.only:
            continue
        env = {
            **os.environ,
            "STOREFLEET_BENCH_OUT": str(out),
            "STOREFLEET_BENCH_STORES": str(counts[kind]),
            "STOREFLEET_WORKER_CONCURRENCY": str(args.concurrency),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
             "-o", "timeout=14400", test],
            cwd=REPO, env=env, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            sys.exit(proc.returncode)
        result = json.loads(out.read_text())
        print(
            f"{result['nodes']}: {result['stores']} stores in {result['wall_seconds']} s "
            f"({result['stores_per_minute']} stores/minute); {label.replace('_', ' ')}: "
            f"median {result[f'{label}_median']} s, p95 {result[f'{label}_p95']} s"
        )


if __name__ == "__main__":
    main()
