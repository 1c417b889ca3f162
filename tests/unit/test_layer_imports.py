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
# The client SDK (pip install tollgate[client]) lives in the same package but not in the
# layer's requirements: the server must not import it nor httpx, and it must not import the
# server's libraries (an application installs it without them) nor the server's modules.
SDK_PACKAGES = ("client", "middleware")
SERVER_FORBIDDEN = FORBIDDEN | {"httpx", "tollgate.client", "tollgate.middleware"}
SDK_FORBIDDEN = FORBIDDEN | {"boto3", "botocore", "pynamodb", "aws_lambda_powertools", "jinja2"}
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


def _matches(module: str, names: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:n]) in names for n in range(1, len(parts) + 1))


def forbidden_imports(source: str, filename: str = "<source>", forbidden: frozenset[str] = FORBIDDEN) -> list[str]:
    return [
        f"{filename}:{line} imports {module}"
        for line, module in imported_modules(ast.parse(source, filename))
        if _matches(module, forbidden)
    ]


def _is_sdk(path: Path) -> bool:
    return path.relative_to(PACKAGE).parts[0] in SDK_PACKAGES


def test_the_layer_package_imports_no_developer_tooling():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50, f"found only {len(modules)} modules under {PACKAGE}"
    found = [
        problem
        for path in modules
        if not _is_sdk(path)
        for problem in forbidden_imports(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), SERVER_FORBIDDEN
        )
    ]
    assert not found, "the Lambda layer (shared/tollgate) must not import these:\n" + "\n".join(found)


def test_the_sdk_imports_no_server_library_and_no_server_module():
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if _is_sdk(p)]
    assert len(modules) >= 10, f"found only {len(modules)} SDK modules"
    found = []
    for path in modules:
        name = str(path.relative_to(ROOT))
        found += forbidden_imports(path.read_text(encoding="utf-8"), name, SDK_FORBIDDEN)
        found += [  # absolute imports of tollgate outside the SDK (relative ones stay inside)
            f"{name}:{line} imports {module}"
            for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
            if module.split(".")[0] == "tollgate" and module.split(".")[1:2] not in ([p] for p in SDK_PACKAGES)
        ]
    assert not found, "the client SDK must not import these:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("import httpx", SERVER_FORBIDDEN),
        ("from tollgate.client import Tollgate", SERVER_FORBIDDEN),
        ("import botocore.session", SDK_FORBIDDEN),
        ("from aws_lambda_powertools import Logger", SDK_FORBIDDEN),
    ],
)
def test_the_check_finds_sdk_boundary_crossings(source, forbidden):
    assert forbidden_imports(source, forbidden=forbidden)


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
