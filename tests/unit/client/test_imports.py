"""tollgate.client runs without any AWS library, and imports nothing of the server's packages."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.import_graph import build

BLOCKED = ("boto3", "botocore", "pynamodb", "aws_lambda_powertools", "jinja2")
SDK = ("tollgate.client", "tollgate.middleware")


def test_the_client_imports_with_aws_libraries_blocked():
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}: sys.modules[name] = None\n"
        "import tollgate.client as c\n"
        "assert c.Tollgate and c.AsyncTollgate\n"
        f"leaked = [m for m in sys.modules if m.split('.')[0] in {BLOCKED!r} and sys.modules[m] is not None]\n"
        "assert not leaked, leaked\n"
    )
    env_path = f"{ROOT / 'shared'}"
    done = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": env_path}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_the_sdk_imports_only_its_own_modules_of_tollgate():
    graph = build(ROOT / "shared" / "tollgate")
    bad = [
        e
        for e in graph.edges
        if e.source.startswith(SDK)
        and not any(e.target == p or e.target.startswith(p + ".") for p in SDK)
        and e.target != "tollgate"
    ]
    assert not bad, [f"{e.source} -> {e.target} ({e.where(graph.root)})" for e in bad]


def test_the_server_never_imports_the_sdk():
    graph = build(ROOT / "shared" / "tollgate")
    bad = [e for e in graph.edges if not e.source.startswith(SDK) and e.target.startswith(SDK)]
    assert not bad, [f"{e.source} -> {e.target} ({e.where(graph.root)})" for e in bad]
