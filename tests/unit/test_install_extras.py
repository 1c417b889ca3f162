"""`pip install tollgate` (no extra) is enough for the operator CLI: the base distribution
depends on pydantic and tzdata only, and the AWS libraries are the `server` extra. A subprocess
blocks every server-only library, so an import of one of them anywhere on the CLI's path fails
here, as it would in a client-only install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("boto3", "botocore", "pynamodb", "aws_lambda_powertools", "jinja2", "yaml", "moto")

BLOCKED_RUN = """
import runpy, sys
for name in {blocked!r}:
    sys.modules[name] = None
sys.argv = ["tollgate", *{argv!r}]
runpy.run_module("tollgate_dev.cli", run_name="__main__")
"""


def _run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    code = BLOCKED_RUN.format(blocked=SERVER_ONLY, argv=list(argv))
    env = {"PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'dev'}", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_the_base_install_names_no_aws_library():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("[")[0].split("=")[0].strip().lower() for dep in project["dependencies"]}
    assert names.isdisjoint({"boto3", "botocore", "pynamodb", "aws-lambda-powertools", "moto"})


def test_the_operator_cli_runs_without_the_server_libraries():
    result = _run_cli("tenants", "--help")
    assert result.returncode == 0, result.stderr
    assert "tenants" in result.stdout


def test_an_operator_command_fails_cleanly_without_the_server_libraries():
    """Not an ImportError: the command runs and reports the unreachable API (exit code 3)."""
    result = _run_cli("tenants", "list", "--url", "http://127.0.0.1:9", "--key", "tg_x_y")
    assert "ModuleNotFoundError" not in result.stderr and "ImportError" not in result.stderr, result.stderr
    assert result.returncode == 3, (result.returncode, result.stderr)
