"""One rule decides whether every suite is required, and `.ci/run` sets it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.ci import every_suite_required
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("value", "required"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        (" true\n", True),
        ("false", False),
        ("0", False),
        ("", False),
        ("yes", False),
        (None, False),
    ],
)
def test_ci_is_true_or_1_in_any_case(value: str | None, required: bool) -> None:
    env = {} if value is None else {"CI": value}
    assert every_suite_required(env) is required


def test_every_skip_goes_through_the_one_rule() -> None:
    # The only way a test may skip is tests.conftest.not_here, which asks
    # every_suite_required() and fails instead under CI=true; no test file
    # reads CI itself or skips on its own.
    root = REPO / "tests" / "conftest.py"
    assert "every_suite_required()" in root.read_text()
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name == "test_ci.py":
            continue
        text = path.read_text()
        assert 'environ.get("CI"' not in text, path
        assert "skipif" not in text and "importorskip" not in text, path
        if path != root:
            assert "pytest.skip(" not in text, path
    assert (
        "from tests.conftest import not_here"
        in (REPO / "tests" / "k8s" / "conftest.py").read_text()
    )


def test_ci_run_exports_ci_true_itself(tmp_path: Path) -> None:
    # A stand-in `make` that reports what it was given.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "make").write_text('#!/bin/sh\necho "CI=${CI:-unset} args=$*"\n')
    (fake / "make").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = f"{fake}:{env['PATH']}"
    done = subprocess.run(
        [str(REPO / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "CI=true args=test"
    env["CI"] = "false"  # whatever the CI system says, the run is CI
    done = subprocess.run(
        [str(REPO / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "CI=true args=test"
