"""The Kubernetes driver's pure decisions: when a rollout is complete (as
``kubectl rollout status`` judges it), how a release left pending by a helm
that died is recovered, and where the storefront check is sent.

helm here is a stand-in script that answers ``history`` from a file and
records every call; the real helm and cluster are tests/k8s's."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from storefleet.drivers.base import PermanentError, TransientError
from storefleet.drivers.kubernetes.helm import Helm
from storefleet.drivers.kubernetes.release import rollout_complete
from storefleet.drivers.verify import storefront_request

_HELM = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$1" in
    history) [ -s "$HISTORY" ] || { echo 'Error: release: not found' >&2; exit 1; }
             cat "$HISTORY" ;;
    rollback|uninstall) exit 0 ;;
    upgrade) [ -n "$KILL_ME" ] && kill -9 $$; exit 0 ;;
esac
"""


@pytest.fixture
def fake_helm(tmp_path: Path) -> tuple[Helm, Path, Path]:
    script = tmp_path / "helm"
    script.write_text(_HELM)
    script.chmod(0o755)
    calls, history = tmp_path / "calls", tmp_path / "history.json"
    calls.write_text("")
    env = {**os.environ, "CALLS": str(calls), "HISTORY": str(history)}
    return Helm(str(script), env=env), calls, history


def _history(path: Path, *statuses: str) -> None:
    path.write_text(
        json.dumps([{"revision": n, "status": s} for n, s in enumerate(statuses, start=1)])
    )


def test_a_release_left_pending_install_and_never_deployed_is_uninstalled(fake_helm):
    helm, calls, history = fake_helm
    _history(history, "pending-install")
    message = helm.recover("store", "store-a", timeout=10)
    assert message is not None and "never deployed" in message
    assert calls.read_text().splitlines()[-1] == "uninstall store --namespace store-a --wait"


def test_a_release_left_pending_upgrade_is_rolled_back_to_its_last_good_revision(fake_helm):
    helm, calls, history = fake_helm
    _history(history, "superseded", "deployed", "failed", "pending-upgrade")
    message = helm.recover("store", "store-a", timeout=10)
    assert message is not None and "rolled back to revision 2" in message
    assert calls.read_text().splitlines()[-1] == "rollback store 2 --namespace store-a"


@pytest.mark.parametrize("statuses", [(), ("deployed",), ("superseded", "failed")])
def test_nothing_is_done_to_a_release_that_is_not_pending(fake_helm, statuses):
    helm, calls, history = fake_helm
    _history(history, *statuses) if statuses else history.write_text("")
    assert helm.recover("store", "store-a", timeout=10) is None
    assert not [c for c in calls.read_text().splitlines() if not c.startswith("history")]


def test_a_helm_killed_by_a_signal_is_a_transient_failure(fake_helm, tmp_path):
    helm, _, _ = fake_helm
    assert helm.env is not None
    helm.env["KILL_ME"] = "1"
    with pytest.raises(TransientError, match="helm was killed"):
        helm.upgrade_install(
            "store", tmp_path, "store-a", value_files=[], secret_values={}, timeout=10
        )


def test_a_missing_helm_names_where_make_k8s_up_puts_it(tmp_path):
    with pytest.raises(PermanentError, match="var/k8s/bin"):
        Helm(str(tmp_path / "no-helm")).history("store", "store-a", timeout=5)


def _deployment(replicas, *, generation=2, observed=2, updated=1, total=1, available=1, conds=()):  # type: ignore[no-untyped-def]
    return NS(
        metadata=NS(name="store", generation=generation),
        spec=NS(replicas=replicas),
        status=NS(
            observed_generation=observed,
            updated_replicas=updated,
            replicas=total,
            available_replicas=available,
            conditions=list(conds),
        ),
    )


def test_a_rollout_is_complete_only_as_kubectl_rollout_status_says():
    assert rollout_complete(_deployment(1))
    # The controller has not seen the new spec yet.
    assert not rollout_complete(_deployment(1, observed=1))
    # The new pod is not there yet; the old one still is (Recreate: going away).
    assert not rollout_complete(_deployment(1, updated=0, total=1, available=1))
    # Two pods, one of them old: not done although one is available.
    assert not rollout_complete(_deployment(1, updated=1, total=2, available=1))
    # Updated but not available yet.
    assert not rollout_complete(_deployment(1, available=0))
    # Scaled to zero (a suspended store): done when nothing is left.
    assert rollout_complete(_deployment(0, updated=0, total=0, available=0))
    stuck = NS(type="Progressing", reason="ProgressDeadlineExceeded", message="too slow")
    with pytest.raises(TransientError, match="progress deadline"):
        rollout_complete(_deployment(1, updated=0, conds=[stuck]))


def test_the_storefront_check_carries_the_stores_host():
    assert storefront_request("http://shop.localhost:30080/") == (
        "http://127.0.0.1:30080/",
        {"Host": "shop.localhost:30080"},
    )
    assert storefront_request("https://shop.localhost/") == (
        "https://127.0.0.1/",
        {"Host": "shop.localhost", "X-Forwarded-Proto": "https"},
    )
    # A name that resolves is used as it is.
    assert storefront_request("https://shop.example.com/") == ("https://shop.example.com/", {})
