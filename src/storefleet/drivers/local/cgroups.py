"""A cgroup per local store, holding every PHP process of it — its php-fpm
master and the workers it forks, wp-cron, the installer — with the limits of
its plan: memory (the kernel, not PHP's own setting, stops a store that takes
more), CPU (a quota, so one busy store cannot starve its neighbours) and
processes.

Both cgroup versions are supported: v2 (stock Debian 12: one hierarchy,
``memory.max``, ``cpu.max``, ``pids.max``) and v1 (one hierarchy per
controller: ``memory.limit_in_bytes``, ``cpu.cfs_quota_us``, ``pids.max``).
Store cgroups live under ``<hierarchy>/<parent>/<store uid>`` (parent:
``STOREFLEET_CGROUP_PARENT``). A process joins them before it runs any of the
store's code (launch.py); the store's uid cannot write to them, so it cannot
leave. Anything else — no cgroup filesystem, a v2 hierarchy whose controllers
cannot be delegated — is an error at start-up, never a silently unlimited store.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from storefleet.drivers.base import PermanentError, TransientError
from storefleet.names import require_valid_store_uid
from storefleet.plans import Plan

_CPU_PERIOD_US = 100_000
_V1_CONTROLLERS = ("memory", "cpu", "pids")


class CgroupsUnavailable(PermanentError):
    """This machine cannot hold stores in cgroups of their own."""


@dataclass(frozen=True)
class Usage:
    memory_bytes: int
    pids: int


class StoreCgroups:
    def __init__(self, parent: str, mount: Path = Path("/sys/fs/cgroup")) -> None:
        if not parent or "/" in parent.strip("/") or parent.startswith("."):
            raise ValueError(f"STOREFLEET_CGROUP_PARENT must be one directory name, not {parent!r}")
        self.parent = parent.strip("/")
        self.mount = mount
        self.version = self._detect()

    def _detect(self) -> int:
        if (self.mount / "cgroup.controllers").is_file():
            return 2
        if all((self.mount / c / "cgroup.procs").is_file() for c in _V1_CONTROLLERS):
            return 1
        return 0

    # -- set-up ---------------------------------------------------------------------

    def check(self) -> None:
        """Make the parent cgroup(s) and make sure the controllers work in
        them; a clear error when this machine cannot."""
        if self.version == 0:
            raise CgroupsUnavailable(
                f"no cgroup v2 hierarchy and no v1 memory, cpu and pids hierarchies at "
                f"{self.mount}: local stores cannot be limited (mount cgroup2 there, or run "
                "the platform on a machine that has them)"
            )
        if self.version == 1:
            for controller in _V1_CONTROLLERS:
                (self.mount / controller / self.parent).mkdir(exist_ok=True)
            return
        wanted = {"memory", "cpu", "pids"}
        available = set((self.mount / "cgroup.controllers").read_text().split())
        if not wanted <= available:
            raise CgroupsUnavailable(
                f"cgroup v2 at {self.mount} lacks the {', '.join(sorted(wanted - available))} "
                "controller(s): local stores cannot be limited"
            )
        parent = self.mount / self.parent
        parent.mkdir(exist_ok=True)
        for cgroup in (self.mount, parent):
            try:
                (cgroup / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            except OSError as exc:
                raise CgroupsUnavailable(
                    f"cgroup v2: the memory, cpu and pids controllers cannot be delegated "
                    f"below {cgroup} ({exc.strerror}); processes live in it. Run the platform "
                    "where it may create child cgroups (a systemd unit with Delegate=yes, a "
                    "VM or a host), or set STOREFLEET_CGROUP_PARENT"
                ) from exc

    def _dirs(self, uid: str) -> list[Path]:
        name = require_valid_store_uid(uid)
        if self.version == 2:
            return [self.mount / self.parent / name]
        return [self.mount / c / self.parent / name for c in _V1_CONTROLLERS]

    def procs_files(self, uid: str) -> list[Path]:
        """The files a process writes its pid into to join the store's cgroups."""
        return [d / "cgroup.procs" for d in self._dirs(uid)]

    def ensure(self, uid: str, plan: Plan) -> str:
        """The store's cgroup(s), with its plan's limits (idempotent: a resize
        is the same call). Returns what was set, in words."""
        for directory in self._dirs(uid):
            directory.mkdir(exist_ok=True)
        memory = plan.memory_mib << 20
        quota = int(plan.cpus * _CPU_PERIOD_US)
        if self.version == 2:
            d = self._dirs(uid)[0]
            _write(d / "memory.max", str(memory))
            _write(d / "memory.swap.max", "0", optional=True)
            _write(d / "cpu.max", f"{quota} {_CPU_PERIOD_US}")
            _write(d / "pids.max", str(plan.pids))
        else:
            mem, cpu, pids = self._dirs(uid)
            # memsw (memory + swap, where swap is accounted) may never be below
            # the limit: raised before it, lowered after it.
            _write(mem / "memory.memsw.limit_in_bytes", str(memory), optional=True)
            _write(mem / "memory.limit_in_bytes", str(memory))
            _write(mem / "memory.memsw.limit_in_bytes", str(memory), optional=True)
            _write(cpu / "cpu.cfs_period_us", str(_CPU_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(quota))
            _write(pids / "pids.max", str(plan.pids))
        return (
            f"memory {plan.memory_mib} MiB, {plan.cpus:g} CPU, {plan.pids} processes "
            f"(cgroup v{self.version})"
        )

    # -- what is in it ----------------------------------------------------------------

    def pids(self, uid: str) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files(uid):
            with contextlib.suppress(FileNotFoundError):
                found.update(int(p) for p in procs.read_text().split())
        return found

    def usage(self, uid: str) -> Usage:
        d = self._dirs(uid)[0]
        name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        try:
            memory = int((d / name).read_text())
        except (FileNotFoundError, ValueError):
            memory = 0
        return Usage(memory, len(self.pids(uid)))

    def member_of(self, pid: int, uid: str) -> bool:
        """Whether process ``pid`` is in the store's cgroup (every hierarchy)."""
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except FileNotFoundError:
            return False
        suffix = f"/{self.parent}/{require_valid_store_uid(uid)}"
        if self.version == 2:
            return any(ln.startswith("0::") and ln.endswith(suffix) for ln in lines)
        paths = {}
        for line in lines:
            _num, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                paths[controller] = path
        return all(paths.get(c, "").endswith(suffix) for c in _V1_CONTROLLERS)

    # -- removal ------------------------------------------------------------------------

    def remove(self, uid: str, *, timeout: float = 10.0) -> int:
        """Kill whatever still runs in the store's cgroups, then remove them.
        Returns how many processes were killed."""
        killed = self.pids(uid)
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids(uid)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if not pids:
                break
            if time.monotonic() > deadline:
                raise TransientError(f"{len(pids)} process(es) of the store did not end")
            time.sleep(0.05)
        for directory in self._dirs(uid):
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                raise TransientError(f"{directory} is still in use") from exc
        return len(killed)


def _write(path: Path, value: str, *, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        if not optional:
            raise PermanentError(f"{path} does not exist: the controller is not enabled") from None
    except OSError as exc:
        if optional and exc.errno in (errno.EINVAL, errno.EACCES, errno.EPERM):
            return
        raise PermanentError(f"could not set {path.name} to {value}: {exc.strerror}") from exc
