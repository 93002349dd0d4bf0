"""What the custom-domain tests of both drivers share: a browser (and curl)
that trusts the test ACME server's root and resolves the custom domain to
where the stores answer, and the shopper's order at that domain."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import REPO, not_here

FRONTEND = REPO / "frontend"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def trusting_home(root_pem: Path, home: Path) -> Path:
    """A HOME whose NSS database (Chromium's on Linux) trusts ``root_pem``
    to issue server certificates."""
    if shutil.which("certutil") is None:
        not_here("certutil is missing (apt-get install libnss3-tools; make services)")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    nss = f"sql:{db}"
    subprocess.run(["certutil", "-N", "-d", nss, "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            nss,
            "-n",
            "storefleet-test-acme",
            "-t",
            "C,,",
            "-i",
            str(root_pem),
        ],
        check=True,
    )
    return home


def order_at(
    url: str, store_name: str, admin_password: str, *, host_rules: str, home: Path
) -> dict[str, Any]:
    """A guest's Cash-on-Delivery order in Chromium at ``url`` (the store's
    custom domain), and the order as the store's admin reads it."""
    missing = [
        what
        for what, ok in (
            (f"{CHROMIUM} (apt-get install chromium)", CHROMIUM.exists()),
            ("frontend/node_modules (make frontend)",
             (FRONTEND / "node_modules" / "playwright-core").is_dir()),
            ("node", shutil.which("node") is not None),
        )
        if not ok
    ]  # fmt: skip
    if missing:
        not_here(f"no browser for the order: {', '.join(missing)}")
    done = subprocess.run(
        ["node", str(FRONTEND / "e2e" / "k8s-order.mjs"), url, store_name],
        cwd=FRONTEND,
        env={
            **os.environ,
            "HOME": str(home),
            "STOREFLEET_HOST_RESOLVER_RULES": host_rules,
            "STOREFLEET_STORE_ADMIN_PASSWORD": admin_password,
        },
        capture_output=True,
        text=True,
        timeout=420,
    )
    if done.returncode != 0:
        raise AssertionError(f"the order at {url} failed:\n{done.stdout}\n{done.stderr}")
    order: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return order
