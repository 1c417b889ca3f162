"""The local stack, started once per session as a real `tollgate local` subprocess.

Every stack a test starts keeps its state in a temporary directory of its own (``--state-dir``),
never in the developer's ``.tollgate/``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from tollgate.domain.keys import generate_key

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalStackProcess:
    base_url: str
    port: int
    admin_key: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    state_dir: Path
    owns_state_dir: bool = False  # a temporary directory start_local_stack made: removed at stop()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self, signum: int = signal.SIGINT) -> float:
        """Signal the stack and return how long it took to exit (fails the test past 5 s)."""
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(
                f"the local stack ignored {signal.Signals(signum).name} for {STOP_TIMEOUT_S} s:\n{self.output()}"
            )
        finally:
            if self.owns_state_dir and self.process.poll() is not None:
                shutil.rmtree(self.state_dir, ignore_errors=True)
        return time.monotonic() - started


def start_local_stack(
    state_dir: Path | None = None, *, admin_key: str | None = None, extra_args: tuple[str, ...] = ()
) -> LocalStackProcess:
    """Start `python -m tollgate_dev.cli local` on a free port and wait until /health answers.
    ``state_dir``: the stack's state directory (default: a new temporary one). ``admin_key``:
    TOLLGATE_ADMIN_KEY (default: a new key; pass "" to let the stack choose)."""
    port = free_port()
    admin_key = generate_key().key if admin_key is None else admin_key
    owns_state_dir = state_dir is None
    state_dir = Path(tempfile.mkdtemp(prefix="tollgate-state-")) if state_dir is None else state_dir
    log = tempfile.NamedTemporaryFile(prefix="tollgate-local-", suffix=".log")  # noqa: SIM115 - closed by the caller
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TOLLGATE_STATE_DIR", None)
    env.pop("TOLLGATE_FRESH", None)
    env.pop("TOLLGATE_ADMIN_KEY", None)
    if admin_key:
        env["TOLLGATE_ADMIN_KEY"] = admin_key
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tollgate_dev.cli",
            "local",
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
            *extra_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack = LocalStackProcess(f"http://127.0.0.1:{port}", port, admin_key, process, log, state_dir, owns_state_dir)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with {process.returncode}:\n{stack.output()}")
        try:
            if requests.get(f"{stack.base_url}/health", timeout=1).status_code == 200:
                if not admin_key:
                    stack.admin_key = next(
                        line.split()[-1] for line in stack.output().splitlines() if line.startswith("Admin key:")
                    )
                return stack
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the local stack was not healthy within {START_TIMEOUT_S} s:\n{stack.output()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStackProcess]:
    """One running local stack for the session; teardown proves Ctrl-C stops it within 5 s."""
    stack = start_local_stack()
    try:
        yield stack
        stack.stop(signal.SIGINT)
        assert stack.process.returncode == 0, stack.output()
    finally:
        if stack.process.poll() is None:
            stack.process.kill()
        stack.log.close()
        shutil.rmtree(stack.state_dir, ignore_errors=True)


class Http:
    """``requests`` with the stack's base URL prefixed: ``http.get("/health")``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def http(local_stack: LocalStackProcess) -> Iterator[Http]:
    client = Http(local_stack.base_url)
    yield client
    client.session.close()


def recent_usage(
    stack: LocalStackProcess, tenant: str, meter: str, *, days_back: int = 2, **extra: Any
) -> dict[str, Any]:
    """GET /v1/usage (admin key) of a tenant's meter by day from ``days_back`` days ago to
    tomorrow: what a test has just sent, whatever the time of day."""
    now = datetime.now(UTC)
    params = {
        "tenant": tenant,
        "meter": meter,
        "window": "day",
        "from": (now - timedelta(days=days_back)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
        **extra,
    }
    headers = {"Authorization": f"Bearer {stack.admin_key}"}
    r = requests.get(f"{stack.base_url}/v1/usage", headers=headers, params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()
