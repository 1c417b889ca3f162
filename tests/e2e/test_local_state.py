"""`tollgate local` keeps its state across restarts: tenants, keys, counters and events are
there after Ctrl-C and a new start on the same state directory; `--fresh` starts empty; a
snapshot that cannot be read is one line saying how to start fresh."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from .conftest import ROOT, LocalStackProcess, start_local_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def state_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="tollgate-state-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _stopped(stack: LocalStackProcess) -> str:
    try:
        assert stack.stop(signal.SIGINT) < 5
        assert stack.process.returncode == 0, stack.output()
        return stack.output()
    finally:
        if stack.process.poll() is None:
            stack.process.kill()
        stack.log.close()


def _admin(stack: LocalStackProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_key}"}


def _usage(stack: LocalStackProcess, key: str, meter: str) -> int:
    now = datetime.now(UTC)
    r = requests.get(
        f"{stack.base_url}/v1/usage",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        params={
            "meter": meter,
            "window": "day",
            "from": (now - timedelta(days=2)).isoformat(),
            "to": (now + timedelta(days=2)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["total"]


def test_tenants_keys_counters_and_events_survive_a_restart(state_dir: Path) -> None:
    first = start_local_stack(state_dir, admin_key="")  # no preset key: the stack makes one and keeps it
    tag = uuid.uuid4().hex[:8]
    tenant, meter = f"keep-{tag}", f"{tag}.calls"
    try:
        admin = _admin(first)
        assert (
            requests.post(
                f"{first.base_url}/v1/tenants",
                headers=admin,
                timeout=30,
                json={"id": tenant, "name": "Kept", "timezone": "Europe/Paris"},
            ).status_code
            == 201
        )
        assert (
            requests.post(
                f"{first.base_url}/v1/meters",
                headers=admin,
                timeout=30,
                json={"key": meter, "name": meter, "aggregation": "count"},
            ).status_code
            == 201
        )
        r = requests.post(
            f"{first.base_url}/v1/keys", headers=admin, timeout=30, json={"scope": "tenant", "tenant_id": tenant}
        )
        key = r.json()["key"]
        events = [{"id": f"e-{i}", "type": meter, "data": {}} for i in range(30)]
        assert (
            requests.post(
                f"{first.base_url}/v1/events", headers={"X-Api-Key": key}, json=events[:20], timeout=30
            ).status_code
            == 202
        )
        deadline = time.monotonic() + 30
        while _usage(first, key, meter) != 20:
            assert time.monotonic() < deadline, "the first 20 events were not counted"
            time.sleep(0.2)
        # Accepted right before Ctrl-C: the shutdown drains the queue (or saves what is left).
        assert (
            requests.post(
                f"{first.base_url}/v1/events", headers={"X-Api-Key": key}, json=events[20:], timeout=30
            ).status_code
            == 202
        )
    finally:
        output = _stopped(first)
    assert "saved" in output and (state_dir / "state.pickle").is_file()

    second = start_local_stack(state_dir, admin_key="")
    try:
        assert second.admin_key == first.admin_key  # the printed key stays valid
        admin = _admin(second)
        got = requests.get(f"{second.base_url}/v1/tenants/{tenant}", headers=admin, timeout=30)
        assert got.status_code == 200 and got.json()["name"] == "Kept"
        assert requests.get(f"{second.base_url}/v1/meters/{meter}", headers=admin, timeout=30).status_code == 200
        deadline = time.monotonic() + 30
        while (total := _usage(second, key, meter)) != 30:  # the tenant key still works
            assert time.monotonic() < deadline, f"counted {total} of 30 after the restart"
            time.sleep(0.2)
        listed = requests.get(
            f"{second.base_url}/v1/events",
            headers={"Authorization": f"Bearer {key}"},
            params={"limit": 100},
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        assert {e["id"] for e in listed.json()["items"]} == {f"e-{i}" for i in range(30)}
        # a duplicate of an event counted before the restart is still a duplicate
        assert (
            requests.post(
                f"{second.base_url}/v1/events", headers={"X-Api-Key": key}, json=events[:1], timeout=30
            ).status_code
            == 202
        )
        time.sleep(2)
        assert _usage(second, key, meter) == 30
    finally:
        _stopped(second)

    fresh = start_local_stack(state_dir, admin_key="", extra_args=("--fresh",))
    try:
        assert fresh.admin_key != first.admin_key
        assert (
            requests.get(f"{fresh.base_url}/v1/tenants/{tenant}", headers=_admin(fresh), timeout=30).status_code == 404
        )
        old = requests.get(f"{fresh.base_url}/v1/tenants", headers=_admin(first), timeout=30)
        assert old.status_code == 401
    finally:
        _stopped(fresh)


def _start(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "tollgate_dev.cli", "local", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environment, **(env or {})},
    )


def test_an_unreadable_snapshot_is_one_line_that_says_how_to_start_fresh(state_dir: Path) -> None:
    (state_dir / "state.pickle").write_bytes(b"\x80\x05 this is not a snapshot")
    result = _start("--port", "0", "--state-dir", str(state_dir))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "--fresh" in lines[0] and "state.pickle" in lines[0]
    assert (state_dir / "state.pickle").read_bytes().startswith(b"\x80\x05 this")  # left alone


def test_a_snapshot_written_halfway_leaves_the_previous_one(state_dir: Path) -> None:
    """The write goes to a temporary file renamed over the snapshot: a crash leaves a stray
    temporary file at worst, which the next save replaces, and the old snapshot loads."""
    from tollgate_dev.local import state

    state.save(state_dir, state.Snapshot(tables={"t": {"key_schema": [("k", "S")], "items": [{"k": {"S": "a"}}]}}))
    (state_dir / ".state.pickle.99999.tmp").write_bytes(b"\x80\x05half")
    loaded = state.load(state_dir)
    assert loaded is not None and loaded.tables["t"]["items"] == [{"k": {"S": "a"}}]


def test_a_second_stack_on_the_same_state_is_refused(local_stack: LocalStackProcess) -> None:
    result = _start("--port", "0", "--state-dir", str(local_stack.state_dir))
    assert result.returncode == 1
    assert "in use by another" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_snapshot_moto_cannot_take_is_one_line_too(state_dir: Path) -> None:
    """Readable, but its items do not fit moto (as after a moto change): no traceback either."""
    from tollgate_dev.local import state

    bad = {"key_schema": [("id", "S")], "items": [{"id": {"S": "acme"}, "x": "not an attribute value"}]}
    state.save(state_dir, state.Snapshot(tables={"tollgate-local-tenantstable": bad}))
    result = _start("--port", "0", "--state-dir", str(state_dir))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if " INFO " not in line]  # the start-up log is fine
    assert len(errors) == 1 and errors[0].startswith("tollgate local: cannot restore the local state"), result.stderr
    assert "--fresh" in errors[0]
