"""The helm CLI, called with argument lists. Values that hold secrets travel
in a file only this process's user can read (mode 0600), never in argv.

A helm that dies mid-release (a timeout, a SIGKILLed or evicted worker)
leaves the release ``pending-install``/``pending-upgrade``, and every later
helm refuses it ("another operation is in progress"). The driver runs helm
for a store only under that store's lease, so a pending release it finds was
left by a helm that is gone: :meth:`Helm.recover` rolls it back to its last
good revision, or uninstalls a release that was never deployed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from storefleet.drivers.base import PermanentError, TransientError

# Messages that mean "try again", not "this will never work".
_TRANSIENT = (
    "connection refused",
    "i/o timeout",
    "tls handshake timeout",
    "another operation (install/upgrade/rollback) is in progress",
    "the server is currently unable to handle the request",
    "etcdserver",
    "context deadline exceeded",
    "connection reset by peer",
)
# How long a helm told to stop (SIGTERM: it then marks the release failed
# instead of leaving it pending) gets before it is killed.
_STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Revision:
    number: int
    status: str

    @property
    def pending(self) -> bool:
        return self.status.startswith("pending-")


class Helm:
    """helm with the cluster of ``KUBECONFIG`` (or in-cluster), as the driver's client."""

    def __init__(self, binary: str, env: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self.env = dict(env) if env is not None else None

    def _run(self, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, *args]
        try:
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env
            )
        except FileNotFoundError as exc:
            raise PermanentError(
                f"helm ({self.binary}) is not installed: set STOREFLEET_HELM_BINARY, or run "
                "`make k8s-up`, which puts helm in var/k8s/bin"
            ) from exc
        try:
            out, err = proc.communicate(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired as exc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise TransientError(f"helm {args[0]} did not finish in time") from exc
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    @staticmethod
    def _fail(what: str, proc: subprocess.CompletedProcess[str]) -> Exception:
        if proc.returncode < 0:
            return TransientError(f"{what}: helm was killed (signal {-proc.returncode})")
        message = (proc.stderr or proc.stdout).strip().splitlines()
        text = message[-1] if message else f"exit {proc.returncode}"
        if any(t in text.lower() for t in _TRANSIENT):
            return TransientError(f"{what}: {text}")
        return PermanentError(f"{what}: {text}")

    def upgrade_install(
        self,
        release: str,
        chart: Path,
        namespace: str,
        *,
        value_files: Sequence[Path],
        secret_values: dict[str, Any],
        timeout: float,
    ) -> None:
        fd, name = tempfile.mkstemp(prefix="storefleet-values-", suffix=".yaml")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                yaml.safe_dump(secret_values, f)
            args = ["upgrade", "--install", release, str(chart), "--namespace", namespace]
            for path in value_files:
                args += ["--values", str(path)]
            args += ["--values", name]
            proc = self._run(args, timeout)
        finally:
            Path(name).unlink(missing_ok=True)
        if proc.returncode != 0:
            raise self._fail(f"helm upgrade --install {release}", proc)

    def history(self, release: str, namespace: str, *, timeout: float) -> list[Revision]:
        """The release's revisions, oldest first; empty when there is no such release."""
        proc = self._run(
            ["history", release, "--namespace", namespace, "--max", "20", "--output", "json"],
            timeout,
        )
        if proc.returncode != 0:
            if "not found" in (proc.stderr + proc.stdout).lower():
                return []
            raise self._fail(f"helm history {release}", proc)
        try:
            entries = json.loads(proc.stdout or "[]")
        except ValueError as exc:
            raise TransientError(f"helm history {release}: unreadable output") from exc
        revisions = [Revision(int(e["revision"]), str(e["status"])) for e in entries]
        return sorted(revisions, key=lambda r: r.number)

    def revision(self, release: str, namespace: str, *, timeout: float) -> Revision | None:
        history = self.history(release, namespace, timeout=timeout)
        return history[-1] if history else None

    def recover(self, release: str, namespace: str, *, timeout: float) -> str | None:
        """Undo what a helm that died mid-release left pending; None when
        nothing was pending. Call only while holding the store's lease."""
        history = self.history(release, namespace, timeout=timeout)
        if not history or not history[-1].pending:
            return None
        stuck = history[-1]
        good = [r for r in history[:-1] if r.status in ("deployed", "superseded")]
        if good:
            target = good[-1].number
            proc = self._run(["rollback", release, str(target), "--namespace", namespace], timeout)
            if proc.returncode != 0:
                raise self._fail(f"helm rollback {release} {target}", proc)
            return (
                f"revision {stuck.number} was left {stuck.status} by a helm that did not "
                f"finish; rolled back to revision {target}"
            )
        proc = self._run(["uninstall", release, "--namespace", namespace, "--wait"], timeout)
        if proc.returncode != 0 and "not found" not in (proc.stderr + proc.stdout).lower():
            raise self._fail(f"helm uninstall {release}", proc)
        return (
            f"revision {stuck.number} was left {stuck.status} by a helm that did not finish "
            "and was never deployed; uninstalled it"
        )

    def uninstall(self, release: str, namespace: str, *, timeout: float) -> bool:
        """Uninstall; False when there was no such release."""
        proc = self._run(["uninstall", release, "--namespace", namespace, "--wait"], timeout)
        if proc.returncode == 0:
            return True
        if "not found" in (proc.stderr + proc.stdout).lower():
            return False
        raise self._fail(f"helm uninstall {release}", proc)
