"""The Lambda layer is ``shared/`` (template.yaml's ``ContentUri``), and ``sam build`` installs
only shared/requirements.txt beside it. So the ``tollgate`` package must never import the
developer tooling (``tollgate_dev``, in dev/) nor what only that tooling installs (moto, PyYAML,
werkzeug): on Lambda such an import fails, or drags developer code into the layer."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "tollgate"
FORBIDDEN = frozenset({"tollgate_dev", "moto", "yaml", "werkzeug"})
_DYNAMIC = frozenset({"import_module", "__import__"})  # importlib.import_module("x"), __import__("x")


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``: statements at any depth (in
    functions and ``if TYPE_CHECKING`` too), and dynamic imports of a literal name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module  # a relative import stays inside tollgate
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in _DYNAMIC and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    return [
        f"{filename}:{line} imports {module}"
        for line, module in imported_modules(ast.parse(source, filename))
        if module.split(".")[0] in FORBIDDEN
    ]


def test_the_layer_package_imports_no_developer_tooling():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50, f"found only {len(modules)} modules under {PACKAGE}"
    found = [
        problem
        for path in modules
        for problem in forbidden_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not found, "the Lambda layer (shared/tollgate) must not import these:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "import moto",
        "import yaml as y",
        "from werkzeug.serving import make_server",
        "from tollgate_dev.local import stack",
        "import os, tollgate_dev.cost",
        "def f():\n    from moto import mock_aws",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import tollgate_dev",
        "import importlib\nimportlib.import_module('tollgate_dev.cli')",
        "__import__('yaml')",
    ],
)
def test_the_check_finds_each_kind_of_import(source):
    assert forbidden_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "import tollgate.domain",
        "from tollgate.adapters import ledger",
        "from . import models",
        "from .local import x",  # relative: inside tollgate, whatever its name
        "import motor",
        "import yamlish",
        "from tollgate import dev",
    ],
)
def test_the_check_allows_the_layer_s_own_imports(source):
    assert forbidden_imports(source) == []
