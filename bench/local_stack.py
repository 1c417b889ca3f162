"""Spawning ``tollgate local`` for the bench sections that measure it over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

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
