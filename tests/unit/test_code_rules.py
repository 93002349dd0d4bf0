"""Rules about the code itself that a linter alone would let slip."""

from __future__ import annotations

import ast

from tests.conftest import REPO


def test_no_assert_for_runtime_checks_in_src() -> None:
    # `python -O` strips asserts: a check that matters at run time must raise.
    found = []
    for path in sorted((REPO / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Assert):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []
