"""Section: restarting the local stack with 100,000 events in its saved state.

1. The state: a tenant, a sum meter, a tenant key and 100 requests of 1,000 events, sent to
   the real ingest function (in-process, moto in memory, the local stack's own resources and
   moto tuning) and counted by the real consumer fed by the local stack's own SQS poller;
   then saved with the local stack's snapshot code (tollgate_dev/local/state.py). (Through a
   running ``tollgate local`` over HTTP the same state takes about 20 minutes to count here:
   each event's claim is one PutItem to the moto server, about 10 ms apiece on this machine.)
2. ``tollgate local --state-dir`` in a subprocess, from spawn until ``GET /health`` answers:
   median of ``RUNS``, with that state and with an empty one. After each start the tenant's
   usage must read 100,000 through the API with the saved tenant key; each stop is Ctrl-C
   (SIGINT), timed until the process exits (it saves the state again).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .local_stack import free_port, spawn

ROOT = Path(__file__).resolve().parent.parent
NAME = "local_restart"
EVENTS = int(os.environ.get("TOLLGATE_BENCH_RESTART_EVENTS", "100000"))  # a smaller number for a quick look
PER_REQUEST = 1_000
RUNS = 3
START_TIMEOUT_S = 120


def build_state(state_dir: Path, events: int = EVENTS) -> dict[str, Any]:
    """Count ``events`` through the real functions in-process and save the local stack's snapshot."""
    sys.path.insert(0, str(ROOT))
    import boto3

    from tests.conftest import moto_stack, new_root
    from tests.integration.conftest import InProcessApi
    from tollgate_dev.local import state
    from tollgate_dev.local.esm import SqsPoller, sqs_mappings
    from tollgate_dev.local.moto_server import tune_moto
    from tollgate_dev.local.runtime import FunctionRuntime
    from tollgate_dev.local.template import ACCOUNT_ID, REGION, Template

    tune_moto()  # as the local stack's moto server: rollback copies per partition
    started = time.perf_counter()
    with moto_stack() as created:
        from tollgate.domain.keys import Scope

        api = InProcessApi()
        admin = new_root().keys.create_key(Scope.ADMIN, name="bench")[1]
        assert (
            api.call(
                "POST", "/v1/tenants", key=admin, body={"id": "bench", "name": "Bench", "timezone": "Europe/Paris"}
            ).status
            == 201
        )
        meter = {"key": "api_calls", "name": "API calls", "aggregation": "sum", "group_by": ["region"]}
        assert api.call("POST", "/v1/meters", key=admin, body=meter).status == 201
        tenant_key = api.call("POST", "/v1/keys", key=admin, body={"scope": "tenant", "tenant_id": "bench"}).body["key"]
        at = datetime.now(UTC) - timedelta(minutes=30)
        for r in range(events // PER_REQUEST):
            batch = [
                {
                    "id": f"evt-{r}-{i}",
                    "type": "api_calls",
                    "time": (at + timedelta(milliseconds=i)).isoformat(),
                    "data": {"value": 1, "region": ("eu", "us", "ap", "sa")[i % 4]},
                }
                for i in range(PER_REQUEST)
            ]
            reply = api.call("POST", "/v1/events", key=tenant_key, body=batch, header_style="x-api-key")
            assert reply.status == 202, reply.body
        template = Template.load(ROOT / "template.yaml")
        mapping = next(m for m in sqs_mappings(template) if m.function_id == "ConsumerFunction")
        # Two 1,000-event messages per invocation: moto in-process takes ~4 ms per claim, so ten
        # would not fit the function's Timeout and the consumer would defer part of each batch.
        mapping = dataclasses.replace(mapping, batch_size=2)
        runtime = FunctionRuntime(template.functions()["ConsumerFunction"])
        sqs = boto3.client("sqs", region_name=REGION)
        poller = SqsPoller(mapping, runtime.invoke, sqs, threading.Event(), region=REGION)
        poller.draining.set()  # no batching windows: just take what is there
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        while True:
            if poller.poll_once():
                continue
            attributes = sqs.get_queue_attributes(QueueUrl=poller.queue_url, AttributeNames=names)["Attributes"]
            if not any(int(v) for v in attributes.values()):
                break
            time.sleep(0.2)  # a deferred or failed message becomes visible again after 1 s
        counted_s = time.perf_counter() - started
        snapshot = state.capture(created, boto3.Session(), account_id=ACCOUNT_ID, region=REGION)
        assert not any(snapshot.queues.values()), "events left uncounted"
        path = state.save(state_dir, snapshot)
        state.write_admin_key(state_dir, admin)
    return {
        "tenant_key": tenant_key,
        "items": snapshot.counts()["items"],
        "build_s": round(counted_s, 1),
        "snapshot_mb": round(path.stat().st_size / 1e6, 1),
    }


def _usage(base: str, key: str) -> int:
    import requests

    now = datetime.now(UTC)
    r = requests.get(
        f"{base}/v1/usage",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        params={
            "meter": "api_calls",
            "window": "month",
            "from": (now - timedelta(days=40)).isoformat(),
            "to": (now + timedelta(days=40)).isoformat(),
        },
    )
    r.raise_for_status()
    return int(r.json()["total"])


def start_and_stop(state_dir: Path, tenant_key: str | None = None) -> dict[str, float]:
    """Spawn ``tollgate local``, time until /health is 200; check the usage; Ctrl-C, time the exit."""

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    log = tempfile.NamedTemporaryFile(prefix="tollgate-bench-", suffix=".log")  # noqa: SIM115
    try:
        process, ready = spawn(port, state_dir, {**env, "PYTHONUNBUFFERED": "1"}, log, START_TIMEOUT_S, 0.02)
    except RuntimeError:
        log.close()
        raise
    try:
        if tenant_key is not None:
            assert _usage(f"http://127.0.0.1:{port}", tenant_key) == EVENTS
        stopping = time.perf_counter()
        process.send_signal(signal.SIGINT)
        process.wait(60)
        stopped = time.perf_counter() - stopping
        output = Path(log.name).read_text()

        def logged(what: str) -> float:
            found = re.search(rf"tollgate\.local\.stack: {what} .*?in ([0-9.]+) s", output)
            return float(found.group(1)) if found else 0.0

        return {
            "start_s": ready,
            "stop_s": stopped,
            "read_s": logged("read the saved state"),
            "restore_s": logged("restored"),
            "save_s": logged("saved"),
        }
    finally:
        if process.poll() is None:
            process.kill()
        log.close()


def run() -> dict[str, Any]:
    full = Path(tempfile.mkdtemp(prefix="tollgate-bench-state-"))
    empty = Path(tempfile.mkdtemp(prefix="tollgate-bench-empty-"))
    try:
        built = build_state(full)
        with_state = [start_and_stop(full, built["tenant_key"]) for _ in range(RUNS)]
        without = [start_and_stop(empty) for _ in range(RUNS)]
    finally:
        shutil.rmtree(full, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)

    def median(runs: list[dict[str, float]], field: str) -> float:
        return round(statistics.median(r[field] for r in runs), 2)

    return {
        "events": EVENTS,
        "items": built["items"],
        "snapshot_mb": built["snapshot_mb"],
        "state_build_s": built["build_s"],
        "start_s_100k": median(with_state, "start_s"),
        "read_s_100k": median(with_state, "read_s"),
        "restore_s_100k": median(with_state, "restore_s"),
        "stop_s_100k": median(with_state, "stop_s"),
        "save_s_100k": median(with_state, "save_s"),
        "start_s_empty": median(without, "start_s"),
        "stop_s_empty": median(without, "stop_s"),
        "runs": RUNS,
    }


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            f"local stack start until /health, {r['events']:,} events saved ({r['items']:,} items, {r['snapshot_mb']} MB)",
            f"{r['start_s_100k']} s (read {r['read_s_100k']} s, restore {r['restore_s_100k']} s)",
            "report",
            "-",
        ),
        ("local stack start until /health, empty state", f"{r['start_s_empty']} s", "report", "-"),
        (
            f"local stack Ctrl-C until exit, {r['events']:,} events saved",
            f"{r['stop_s_100k']} s (save {r['save_s_100k']} s)",
            "report",
            "-",
        ),
        (
            "local stack Ctrl-C until exit, empty state",
            f"{r['stop_s_empty']} s",
            "<= 5 s",
            "yes" if r["stop_s_empty"] <= 5 else "NO",
        ),
    ]
