"""`tollgate local` itself: readiness, docs, the admin key, schedules and shutdown."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import pytest

from .conftest import ROOT, Http, LocalStackProcess, start_local_stack

pytestmark = pytest.mark.e2e


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollgate_dev.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_health_needs_no_key(http: Http) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["apigw-requestid"]


def test_docs_and_openapi_are_served(http: Http) -> None:
    docs = http.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    spec = http.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")


def test_the_bootstrap_admin_key_is_the_preset_one(local_stack: LocalStackProcess, http: Http) -> None:
    assert f"Admin key: {local_stack.admin_key}" in local_stack.output()
    assert http.get("/v1/tenants", headers={"Authorization": f"Bearer {local_stack.admin_key}"}).status_code == 200
    assert http.get("/v1/tenants").status_code == 401


def test_fire_runs_a_schedule_now(local_stack: LocalStackProcess) -> None:
    """`tollgate local fire` finds the admin key in the stack's state directory."""
    where = ("--port", str(local_stack.port), "--state-dir", str(local_stack.state_dir))
    fired = _cli("local", "fire", "Health", *where)
    assert fired.returncode == 0, fired.stdout + fired.stderr
    assert json.loads(fired.stdout)["schedule"] == "AggregatorFunction.Health"

    listed = _cli("local", "fire", "--list", *where)
    assert listed.returncode == 0 and "AggregatorFunction.Health" in listed.stdout

    missing = _cli("local", "fire", "NoSuchSchedule", *where)
    assert missing.returncode == 1 and "no schedule" in missing.stdout


def test_sigterm_stops_the_stack_within_five_seconds() -> None:
    """A second stack (the session one proves SIGINT at teardown)."""
    stack = start_local_stack()
    try:
        assert stack.stop(signal.SIGTERM) < 5
        assert stack.process.returncode == 0
        assert "Tollgate local stack stopped" in stack.output()
    finally:
        stack.log.close()
        shutil.rmtree(stack.state_dir, ignore_errors=True)
