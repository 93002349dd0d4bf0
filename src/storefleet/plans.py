"""Plans: what a store may use. A plan names a size — memory, CPU,
processes, storage — and the platform derives from it everything that
serves the store: how many PHP workers its pool may run and how much memory
one request may take (the store chart's "Sizing" formula, so that a plan
means the same on both drivers).

The default plans are the store chart's ``small | medium | large``; an
operator replaces them with ``STOREFLEET_PLANS`` (a JSON list of objects with
the fields of :class:`Plan`) and, on Kubernetes, the chart's ``plans`` values
of the same names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: What one WooCommerce request holds, on average (the chart's workerMemoryMiB).
WORKER_MEMORY_MIB = 64
MAX_WORKERS = 32


@dataclass(frozen=True)
class Plan:
    name: str
    #: Every PHP process of the store together (workers, cron, installer).
    memory_mib: int
    #: CPUs the store may use at once (a share of the machine when busy).
    cpus: float
    #: Processes and threads of the store.
    pids: int
    #: The store's volume on Kubernetes; the size a local store is meant to stay within.
    storage_gib: int

    @property
    def opcache_mib(self) -> int:
        return 96 if self.memory_mib < 1024 else 128

    @property
    def php_workers(self) -> int:
        """Requests served at once: what fits beside opcache and a reserve."""
        usable = self.memory_mib - self.opcache_mib - 64
        return max(2, min(usable // WORKER_MEMORY_MIB, MAX_WORKERS))

    @property
    def php_memory_mib(self) -> int:
        """The most one request may take (PHP's memory_limit, which the
        store cannot raise)."""
        usable = self.memory_mib - self.opcache_mib - 64
        return max(128, min(usable // 2, 256))

    @property
    def upload_mib(self) -> int:
        return 64

    def describe(self) -> dict[str, object]:
        return {
            **asdict(self),
            "php_workers": self.php_workers,
            "php_memory_mib": self.php_memory_mib,
        }


DEFAULT_PLANS = (
    Plan("small", memory_mib=512, cpus=1.0, pids=128, storage_gib=5),
    Plan("medium", memory_mib=1024, cpus=2.0, pids=256, storage_gib=20),
    Plan("large", memory_mib=2048, cpus=4.0, pids=512, storage_gib=50),
)


class UnknownPlan(ValueError):
    pass


def parse_plans(text: str | None) -> tuple[Plan, ...]:
    """The operator's plans (``STOREFLEET_PLANS``), or the defaults."""
    if not text:
        return DEFAULT_PLANS
    try:
        items = json.loads(text)
        plans = tuple(Plan(**item) for item in items)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "STOREFLEET_PLANS must be a JSON list of "
            '{"name", "memory_mib", "cpus", "pids", "storage_gib"}: ' + str(exc)
        ) from exc
    names = [p.name for p in plans]
    if not plans or len(set(names)) != len(names):
        raise ValueError("STOREFLEET_PLANS must name at least one plan, each once")
    for plan in plans:
        if plan.memory_mib < 256 or plan.cpus <= 0 or plan.pids < 16:
            raise ValueError(
                f"plan {plan.name}: at least 256 MiB of memory, some CPU and 16 processes"
            )
    return plans


def find(plans: tuple[Plan, ...], name: str) -> Plan:
    for plan in plans:
        if plan.name == name:
            return plan
    raise UnknownPlan(f"no plan {name!r} (plans: {', '.join(p.name for p in plans)})")
