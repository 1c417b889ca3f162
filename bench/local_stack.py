"""Spawning ``tollgate local`` for the bench sections that measure it over HTTP."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(
    port: int, state_dir: Path | str, env: dict[str, str], log: IO[bytes], timeout_s: float, poll_s: float
) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``tollgate local`` on ``port`` and ``state_dir``; return it once /health answers
    200, with the seconds that took. Raises RuntimeError (with the log's tail) otherwise."""
    import requests

    spawned = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tollgate_dev.cli", "local", "--port", str(port), "--state-dir", str(state_dir)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"tollgate local exited:\n{Path(log.name).read_text()[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, time.perf_counter() - spawned
        except requests.RequestException:
            pass
        if time.perf_counter() - spawned > timeout_s:
            process.kill()
            raise RuntimeError("tollgate local did not answer /health")
        time.sleep(poll_s)


@contextlib.contextmanager
def running(timeout_s: float = 60) -> Iterator[tuple[str, str]]:
    """``tollgate local`` on a free port and a throwaway state directory, with a fresh admin
    key: yields (base URL, admin key), and stops the stack afterwards."""
    sys.path.insert(0, str(ROOT / "shared"))
    from tollgate.domain.keys import generate_key

    port, admin_key = free_port(), generate_key().key
    log = tempfile.NamedTemporaryFile(prefix="bench-local-", suffix=".log")  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    pythonpath = os.pathsep.join([str(ROOT / "shared"), str(ROOT / "dev")])  # tollgate, tollgate_dev (the stack)
    env.update(TOLLGATE_ADMIN_KEY=admin_key, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath)
    state_dir = tempfile.mkdtemp(prefix="bench-state-")  # never the project's .tollgate/
    process, _ = spawn(port, state_dir, env, log, timeout_s, 0.1)
    try:
        yield f"http://127.0.0.1:{port}", admin_key
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(state_dir, ignore_errors=True)


def bench_tenant(session: Any, base: str, admin_key: str) -> tuple[str, str, dict[str, str]]:
    """A new tenant on a plan with a billion-a-month limit on a new count meter, and no API
    rate limit to speak of: (tenant id, meter key, the tenant key's headers)."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    tag = uuid.uuid4().hex[:6]
    meter, tenant = f"bench{tag}", f"bench-{tag}"
    plan = {
        "name": "bench",
        "limits": [{"meter": meter, "window": "month", "limit": 10**9}],
        "api_rate_limit": {"per_second": 100000, "burst": 100000},
    }
    calls = [
        ("PUT", f"/v1/plans/bench-{tag}", plan),
        ("POST", "/v1/meters", {"key": meter, "name": meter, "aggregation": "count"}),
        ("POST", "/v1/tenants", {"id": tenant, "name": tenant, "plan": f"bench-{tag}"}),
    ]
    for method, path, body in calls:
        r = session.request(method, f"{base}{path}", headers=admin, json=body)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    key = session.post(f"{base}/v1/keys", headers=admin, json={"scope": "tenant", "tenant_id": tenant}).json()["key"]
    return tenant, meter, {"Authorization": f"Bearer {key}"}
