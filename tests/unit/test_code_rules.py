"""Rules about the code itself that a linter alone would let slip: rooms
small enough to read (STYLE.md 21), one parser of the installer's protocol
(STYLE.md 19), typed collaborators instead of mixins (STYLE.md 20), and one
Alembic head (work that lands side by side must rebase its migration)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from alembic.script import ScriptDirectory

from storefleet.migrations import alembic_config
from tests.conftest import REPO

SRC = REPO / "src" / "storefleet"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def _python_files() -> Iterator[Path]:
    """The package's own code; migrations are a record, not a room."""
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" not in path.relative_to(SRC).parts:
            yield path


def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_no_assert_for_runtime_checks_in_src() -> None:
    # `python -O` strips asserts: a check that matters at run time must raise.
    found = []
    for path in sorted((REPO / "src").rglob("*.py")):
        for node in ast.walk(_parsed(path)):
            if isinstance(node, ast.Assert):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


def test_no_file_in_the_package_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for path in _python_files()
        if (n := len(path.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert long == {}, "split these by what changes together (STYLE.md 21)"


def test_no_function_in_the_package_is_over_80_lines() -> None:
    long = {}
    for path in _python_files():
        for node in ast.walk(_parsed(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = n
    assert long == {}


def test_only_the_installer_client_reads_the_installers_result_line() -> None:
    readers = [
        str(path.relative_to(SRC))
        for path in _python_files()
        if "STOREFLEET_RESULT" in path.read_text()
    ]
    assert readers == ["drivers/installer.py"]


def _typed_any(annotation: ast.expr) -> bool:
    return (isinstance(annotation, ast.Name) and annotation.id == "Any") or (
        isinstance(annotation, ast.Attribute) and annotation.attr == "Any"
    )


def test_no_driver_attribute_is_typed_any() -> None:
    # A class declaring `core: Any` that another class promises to provide
    # is a mixin in disguise; collaborators are typed attributes.
    found = []
    for path in sorted((SRC / "drivers").rglob("*.py")):
        for cls in ast.walk(_parsed(path)):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in ast.walk(cls):
                if isinstance(node, ast.AnnAssign) and _typed_any(node.annotation):
                    target = ast.unparse(node.target)
                    at_class = node in cls.body
                    if at_class or target.startswith("self."):
                        found.append(f"{path.relative_to(SRC)}:{node.lineno} {target}")
    assert found == []


def test_a_sample_of_each_rule_is_caught() -> None:
    # The rules above read the code through the AST: check that they see
    # what they look for, so that an empty result means something.
    tree = ast.parse(
        "class D:\n    core: Any\n    def __init__(self):\n        self.apps: typing.Any = 1\n"
    )
    [cls] = tree.body
    assert isinstance(cls, ast.ClassDef)
    annotated = [n for n in ast.walk(cls) if isinstance(n, ast.AnnAssign)]
    assert [_typed_any(n.annotation) for n in annotated] == [True, True]


def test_the_migrations_have_a_single_head() -> None:
    # Two migrations that landed side by side with the same down_revision
    # make two heads: `storefleet migrate` would refuse to run.
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()
