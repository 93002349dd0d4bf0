"""The GitHub Actions workflow (issue 18): actionlint, built from the Go
module proxy at a pinned version (tools/actionlint.sh), passes on
.github/workflows; it catches a broken workflow (so that a pass means
something); and the workflow runs `make test` and, on a tag, pushes the
images and charts to GHCR. It cannot run here (docs/deploy.md says so)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import not_here

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
ACTIONLINT = REPO / "tools" / "actionlint.sh"


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("go") is None:
        built = subprocess.run([str(ACTIONLINT), "--build"], capture_output=True, text=True)
        if built.returncode != 0:
            not_here("actionlint is not built and go is not installed")
    return subprocess.run(
        [str(ACTIONLINT), *map(str, files)], capture_output=True, text=True, timeout=600
    )


def test_actionlint_passes_on_the_workflows() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files, "no workflow in .github/workflows"
    done = _actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_what_is_wrong_in_a_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n"
        "      - uses: actions/checkout@v4\n"
        "        with: {no-such-input: 1}\n"
    )
    done = _actionlint(broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no_such_property" in done.stdout and "no-such-input" in done.stdout, done.stdout


def _steps(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_the_workflow_tests_every_push_and_publishes_a_tag_to_ghcr() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers and triggers["push"]["tags"] == ["v*"]
    test, publish = workflow["jobs"]["test"], workflow["jobs"]["publish"]
    assert "make test" in _steps(test)
    assert next(s for s in test["steps"] if s.get("run") == "make test")["env"]["CI"] == "true"
    assert publish["needs"] == "test"
    assert publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert publish["permissions"]["packages"] == "write"
    steps = _steps(publish)
    assert 'make images REGISTRY="ghcr.io/${owner}" IMAGE_TAG="${GITHUB_REF_NAME}"' in steps
    assert 'make charts REGISTRY="ghcr.io/${owner}"' in steps
    # The token reaches skopeo and helm on stdin, never in an argument.
    assert "--password-stdin" in steps and "secrets." not in steps


@pytest.mark.parametrize("key", ["test", "publish"])
def test_the_workflow_caches_what_a_cold_run_builds(key: str) -> None:
    workflow = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    paths = "\n".join(
        str(step["with"]["path"])
        for step in workflow["jobs"][key]["steps"]
        if str(step.get("uses", "")).startswith("actions/cache@")
    )
    assert "~/.cache/storefleet/k8s" in paths and "~/.cache/storefleet/images" in paths
