"""What the Kubernetes benchmarks record (bench/k8s_provision.py runs the tests
that measure): a result file names the date, the machine and whether the
stores ran on the real node or on simulated nodes."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "load_average_at_end": [round(x, 2) for x in load],
    }


def record(nodes: str, figures: dict[str, Any], seconds: list[float], label: str) -> dict[str, Any]:
    """Print the figures and, with STOREFLEET_BENCH_OUT, write them to that file."""
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nodes": nodes,
        "machine": machine(),
        **figures,
        f"{label}_median": round(statistics.median(seconds), 2),
        f"{label}_p95": round(percentile(seconds, 95), 2),
    }
    print("BENCH", json.dumps(result))
    out = os.environ.get("STOREFLEET_BENCH_OUT")
    if out:
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


def count(default: int) -> int:
    """How many stores: STOREFLEET_BENCH_STORES (bench/k8s_provision.py), else ``default``."""
    return int(os.environ.get("STOREFLEET_BENCH_STORES", default))
