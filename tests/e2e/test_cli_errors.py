"""What a newcomer gets wrong first ends in one line that says what to do, not a traceback,
and a non-zero exit code. Also: the control endpoints want the admin key."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from .conftest import ROOT, LocalStackProcess

pytestmark = pytest.mark.e2e


def _tollgate(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "tollgate_dev.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environment, **(env or {})},
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_admin_key_that_is_not_a_key(tmp_path: Path) -> None:
    result = _tollgate("local", "--state-dir", str(tmp_path), env={"TOLLGATE_ADMIN_KEY": "secret123"})
    line = _one_line(result)
    assert "TOLLGATE_ADMIN_KEY" in line and "tg_<16 hex digits>_" in line and "secrets.token_hex(8)" in line
    command = line.split("generate one with: ", 1)[1]
    generated = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout.strip()
    from tollgate.domain.keys import split_key

    assert split_key(generated) is not None  # the command it names makes a valid key


def test_a_port_that_is_not_a_number(tmp_path: Path) -> None:
    line = _one_line(_tollgate("local", "--state-dir", str(tmp_path), env={"TOLLGATE_PORT": "abc"}))
    assert line == "tollgate local: TOLLGATE_PORT must be a port number from 1 to 65535 (0: any free port), not 'abc'"
    assert "--port must be" in _one_line(_tollgate("local", "--port", "70000", "--state-dir", str(tmp_path)))


def test_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _tollgate("local", "--state-dir", str(tmp_path), env={"TOLLGATE_PORT": str(port)}, timeout=30)
    line = _one_line(result)
    assert line.startswith(f"tollgate local: port {port} is busy") and "TOLLGATE_PORT=" in line


def test_a_second_make_run_on_the_same_port(local_stack: LocalStackProcess, tmp_path: Path) -> None:
    line = _one_line(_tollgate("local", "--port", str(local_stack.port), "--state-dir", str(tmp_path)))
    assert f"port {local_stack.port} is busy" in line


def test_the_control_endpoints_want_the_admin_key(local_stack: LocalStackProcess, tmp_path: Path) -> None:
    fire = f"{local_stack.base_url}/_local/schedules/Health/fire"
    anonymous = requests.post(fire, timeout=30)  # what a web page in the browser could send
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    admin = {"Authorization": f"Bearer {local_stack.admin_key}"}
    tenant = f"ctl-{os.getpid()}"
    assert (
        requests.post(
            f"{local_stack.base_url}/v1/tenants", headers=admin, timeout=30, json={"id": tenant, "name": tenant}
        ).status_code
        == 201
    )
    tenant_key = requests.post(
        f"{local_stack.base_url}/v1/keys", headers=admin, timeout=30, json={"scope": "tenant", "tenant_id": tenant}
    ).json()["key"]
    assert requests.post(fire, headers={"X-Api-Key": tenant_key}, timeout=30).status_code == 401
    assert requests.get(f"{local_stack.base_url}/_local/schedules", timeout=30).status_code == 401
    assert requests.post(fire, headers={"X-Api-Key": local_stack.admin_key}, timeout=60).status_code == 200

    # the CLI without any way to find the key says how to give it one
    line = _one_line(
        _tollgate("local", "fire", "Health", "--port", str(local_stack.port), "--state-dir", str(tmp_path))
    )
    assert "--key" in line and "TOLLGATE_ADMIN_KEY" in line
    refused = _tollgate("local", "fire", "Health", "--port", str(local_stack.port), "--key", tenant_key)
    assert refused.returncode == 1 and "refused the admin key" in refused.stderr
    fired = _tollgate(
        "local", "fire", "Health", "--port", str(local_stack.port), env={"TOLLGATE_ADMIN_KEY": local_stack.admin_key}
    )
    assert fired.returncode == 0, fired.stderr
