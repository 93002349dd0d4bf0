"""The helm CLI, called with argument lists. Values that hold secrets travel
in a file only this process's user can read (mode 0600), never in argv."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
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
)


class Helm:
    """helm with the cluster of ``KUBECONFIG`` (or in-cluster), as the driver's client."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def _run(self, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, *args]
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=max(1.0, timeout), check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise TransientError(f"helm {args[0]} did not finish in time") from exc
        except FileNotFoundError as exc:
            raise PermanentError(f"helm ({self.binary}) is not installed") from exc

    @staticmethod
    def _fail(what: str, proc: subprocess.CompletedProcess[str]) -> Exception:
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

    def uninstall(self, release: str, namespace: str, *, timeout: float) -> bool:
        """Uninstall; False when there was no such release."""
        proc = self._run(["uninstall", release, "--namespace", namespace, "--wait"], timeout)
        if proc.returncode == 0:
            return True
        if "not found" in (proc.stderr + proc.stdout).lower():
            return False
        raise self._fail(f"helm uninstall {release}", proc)
