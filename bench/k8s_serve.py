"""How a Kubernetes store serves, on the test environment's real node
(`make k8s-up`), through Traefik: runs
tests/k8s/test_stores.py::test_a_store_pod_serves_its_pages_and_what_it_costs_idle,
which provisions a store (plan small) and measures

- a product page from the pod's page cache and rendered by PHP (the page
  cache bypassed), p50 and p95 at one client and at sixteen, beside a static
  file from the same nginx (the ceiling);
- where an uncached page's time goes: milliseconds since PHP began at the
  start of WordPress's main hooks (muplugins_loaded: core and the database;
  plugins_loaded: WooCommerce's files; init and wp_loaded: WooCommerce's
  set-up; template_redirect: the query; shutdown: the page rendered);
- the store pod's working set once idle (the kubelet's stats/summary), with
  the php-fpm workers running at each sample.

Records the date, the machine and its load in bench/results/serve-k8s.json.

    .venv/bin/python bench/k8s_serve.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "serve-k8s.json"
TEST = "tests/k8s/test_stores.py::test_a_store_pod_serves_its_pages_and_what_it_costs_idle"


def main() -> None:
    env = {**os.environ, "STOREFLEET_BENCH_OUT": str(OUT)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", TEST],
        cwd=REPO, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    result = json.loads(OUT.read_text())
    for clients in ("one client", "sixteen clients"):
        for name, figures in result[clients].items():
            print(f"{clients:>15}: {name:<26} p50 {figures['p50_ms']:>7} ms"
                  f"  p95 {figures['p95_ms']:>7} ms")  # fmt: skip
    print("uncached product page, ms at each hook:", result[
        "uncached product page, ms since PHP began, at each hook"])  # fmt: skip
    print(f"idle store pod: working set {result['idle pod']['working_set_mib_median']} MiB")


if __name__ == "__main__":
    main()
