"""Let's Encrypt's test ACME server, pebble, and its mock DNS server
(pebble-challtestsrv), each test its own on free loopback ports, for the
custom-domain tests of both drivers (tools/pebble builds them; `make
services` does it).

pebble validates HTTP-01 challenges by connecting to ``httpPort`` of the
address its DNS server gives the domain (127.0.0.1 unless told otherwise):
point it at the stores' nginx (local) or the test node's Traefik. The TXT
records of the ownership proofs are set through the DNS server's
management API; the platform looks them up through ``dns_resolver``.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO, free_port, not_here


def binaries() -> Path:
    """The directory of the built pebble (building it if needed, ~1.5 min cold)."""
    if shutil.which("go") is None and not _cached():
        not_here("pebble is not built and go is missing (apt-get install golang; make services)")
    done = subprocess.run(
        [str(REPO / "tools" / "pebble" / "build.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        not_here(f"pebble could not be built: {done.stderr[-800:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _cached() -> bool:
    root = Path(os.environ.get("STOREFLEET_TOOLS_CACHE", Path.home() / ".cache/storefleet"))
    return any((root / "pebble").glob("*/pebble"))


class Pebble:
    """pebble and its DNS server, started in ``workdir``; ``stop()`` ends both."""

    def __init__(
        self, workdir: Path, *, http_port: int, tls_port: int, default_ipv4: str = "127.0.0.1",
        validity_seconds: int = 7776000,
    ) -> None:  # fmt: skip
        bins = binaries()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.dns_port, self.dns_admin_port = free_port(), free_port()
        self.acme_port, self.admin_port = free_port(), free_port()
        self.minica = bins / "pebble.minica.pem"
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.acme_port}",
                "managementListenAddress": f"127.0.0.1:{self.admin_port}",
                "certificate": str(bins / "localhost.cert.pem"),
                "privateKey": str(bins / "localhost.key.pem"),
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
                "profiles": {
                    "default": {"description": "tests", "validityPeriod": validity_seconds}
                },
            }
        }
        (workdir / "pebble.json").write_text(json.dumps(config))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._start(
            [str(bins / "pebble-challtestsrv"), "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-doh", "", "-dnsserver", f"127.0.0.1:{self.dns_port}",
             "-management", f"127.0.0.1:{self.dns_admin_port}",
             "-defaultIPv4", default_ipv4, "-defaultIPv6", ""],
            "challtestsrv",
        )  # fmt: skip
        self._start(
            [str(bins / "pebble"), "-config", str(workdir / "pebble.json"),
             "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            "pebble",
            # No random sleep before validating, no nonce rejected at random.
            env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
        )  # fmt: skip
        self._wait(f"https://127.0.0.1:{self.acme_port}/dir")
        self.root_pem = self._get(f"https://127.0.0.1:{self.admin_port}/roots/0").text
        self.root = workdir / "pebble-root.pem"
        self.root.write_text(self.root_pem)
        #: What the platform trusts besides the system's CAs: pebble's API
        #: certificate's CA and the root it issues certificates under.
        self.ca_bundle = workdir / "acme-ca.pem"
        self.ca_bundle.write_text(self.minica.read_text() + self.root_pem)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def _start(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        with log:
            self._procs.append(
                subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, **(env or {})},
                    cwd=self.workdir,
                )
            )

    def _get(self, url: str) -> httpx.Response:
        tls = ssl.create_default_context(cafile=str(self.minica))
        answer = httpx.get(url, verify=tls, timeout=5)
        answer.raise_for_status()
        return answer

    def _wait(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._get(url)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs):
                    raise AssertionError(f"pebble did not start: {self.log()}") from None
                time.sleep(0.1)

    def dns(self, path: str, **body: Any) -> None:
        """A call of the mock DNS server's management API (set-txt, add-a, …)."""
        answer = httpx.post(f"http://127.0.0.1:{self.dns_admin_port}/{path}", json=body, timeout=5)
        answer.raise_for_status()

    def set_txt(self, name: str, value: str) -> None:
        self.dns("set-txt", host=name.rstrip(".") + ".", value=value)

    def log(self) -> str:
        return "\n".join(
            p.name + ":\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.workdir.glob("*.log"))
        )

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
