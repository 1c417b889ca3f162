"""``tollgate demo``: seed a running stack, or (``--start``, what ``make demo`` runs) start a
fresh local stack in ``.tollgate/demo/`` (its log there too), seed it, print where to look,
and keep it running until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .api_client import UNREACHABLE, USAGE, ApiClient, CliError
from .ops import base_url

START_TIMEOUT_S = 60


def add_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="seed demo data (three tenants, a month of usage, alerts, last month's invoices)",
        description="Seed demo data over the API: run it against a demo stack (it writes the plans pro and scale "
        "and the meter api_calls). --start (make demo) starts a fresh local stack first and keeps it running.",
    )
    demo.add_argument("--start", action="store_true", help="start a fresh local stack in .tollgate/demo/ first")
    demo.add_argument("--port", help="with --start: the port (default $TOLLGATE_PORT or 3000)")
    demo.add_argument(
        "--state-dir", type=Path, default=Path(".tollgate") / "demo", help="with --start (default .tollgate/demo)"
    )
    demo.add_argument("--url", help="the API (default $TOLLGATE_URL, else http://127.0.0.1:$TOLLGATE_PORT or 3000)")
    demo.add_argument("--key", help="an admin key (default $TOLLGATE_KEY)")
    demo.add_argument("--tag", default="", help="suffix every id with -TAG (to seed a shared stack)")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")


def _log(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def _seed(url: str, key: str, tag: str) -> dict[str, Any]:
    from .demo import Seeder  # noqa: PLC0415 - dataclasses and zoneinfo only for the demo: the other commands start faster

    return Seeder(ApiClient(url, key), tag=tag, log=_log).seed()


def _roll_up(url: str, key: str) -> None:
    """Run the analytics roll-up now rather than at its schedule (every 10 minutes), so the
    seeded usage is in GET /v1/analytics/usage and `tenants list --sort` from the start."""
    fire = urllib.request.Request(
        f"{url}/_local/schedules/AnalyticsRollup/fire", method="POST", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(fire, timeout=120) as response:
            response.read()
    except OSError as error:
        _log(f"analytics not rolled up yet ({error}); the schedule does it within 10 minutes")


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    for t in summary["tenants"]:
        print(f"  {t['id']:<20} {t['timezone']:<18} plan {t['plan']:<8} {t['api_calls']:>9} {summary['meter']}")
    for i in summary["invoices"]:
        print(
            f"  invoice {i['number'] or i['id']:<12} {i['tenant_id']:<20} {i['status']:<7} {i['total']} {i['currency']}"
        )
    print(f"  {summary['notifications']} notifications for {summary['tenants'][0]['id']}")


def run(args: argparse.Namespace) -> int:
    try:
        if args.start:
            return _start_and_seed(args)
        _print_summary(_seed(base_url(args), args.key or os.environ.get("TOLLGATE_KEY", ""), args.tag), args.json)
        return 0
    except CliError as error:
        print(f"tollgate demo: {error.message}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("tollgate demo: interrupted", file=sys.stderr)
        return 130


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = (log.read_text(errors="replace").strip().splitlines() or [""])[-1]
            raise CliError(UNREACHABLE, f"the local stack exited ({process.returncode}): {last} (log: {log})")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise CliError(UNREACHABLE, f"the local stack did not answer within {START_TIMEOUT_S} s; its log: {log}")


def _start_and_seed(args: argparse.Namespace) -> int:
    from tollgate.domain.keys import generate_key  # noqa: PLC0415 - only --start makes a key

    port = args.port or os.environ.get("TOLLGATE_PORT") or "3000"
    if not port.isdigit():
        raise CliError(USAGE, f"--port must be a port number, not {port!r}")
    with socket.socket() as probe:  # else /health could be another stack's answer
        if probe.connect_ex(("127.0.0.1", int(port))) == 0:
            raise CliError(USAGE, f"port {port} is busy: stop what runs there, or pass --port / set TOLLGATE_PORT")
    state = args.state_dir
    state.mkdir(parents=True, exist_ok=True)
    key, url, log = generate_key().key, f"http://127.0.0.1:{port}", state / "stack.log"
    started = time.monotonic()
    _interrupt_on(signal.SIGINT, signal.SIGTERM)
    command = [sys.executable, "-m", "tollgate_dev.cli", "local", "--port", port, "--state-dir", str(state), "--fresh"]
    with log.open("wb") as out:
        # Its own session: Ctrl-C reaches this process only, which forwards it once (one Ctrl-C
        # saves and stops the stack; a second would quit it without saving).
        environment = {**os.environ, "TOLLGATE_ADMIN_KEY": key}
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=out, start_new_session=True)
    try:
        _wait_healthy(url, process, log)
        _log(f"local stack up in {time.monotonic() - started:.1f} s (log: {log})")
        _print_summary(_seed(url, key, args.tag), args.json)
        _roll_up(url, key)
        print(f"\nDashboard: {url}/dashboard\nAPI:       {url}  (docs: {url}/docs)\nAdmin key: {key}")
        print(f"Ready in {time.monotonic() - started:.1f} s. Try: TOLLGATE_KEY={key} tollgate tenants list")
        print("Ctrl-C stops the stack.", flush=True)
        return _wait(process)
    except BaseException:
        _stop(process)
        raise


def _interrupt_on(*signals: signal.Signals) -> None:
    """Ctrl-C and a plain kill both stop the stack it started (even where a shell's background
    job ignores SIGINT), rather than leave it running in its own session."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for signum in signals:
        signal.signal(signum, interrupt)


def _wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for the stack until Ctrl-C, then stop it."""
    try:
        process.wait()
        print(f"tollgate demo: the local stack exited ({process.returncode})", file=sys.stderr)
        return UNREACHABLE
    except KeyboardInterrupt:
        _stop(process)
        return 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):  # a second Ctrl-C: stop now
            process.kill()
            process.wait()
