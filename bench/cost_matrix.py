"""Issue 9: DynamoDB write units per distinct event, the whole matrix, and dollars per million.

Each row simulates the production pipeline for ``distinct`` events and counts the consumer's
DynamoDB writes with ``tollgate_dev.cost.DynamoCost`` on moto in-process:

1. ingest: each request's events become message bodies with ``usage_message.pack``; a body of
   fewer than ``repack.DIRECT_EVENTS`` events goes to the pack queue, a larger one to the usage
   queue (SendMessageBatch, 10 entries / 256 KiB a call, as ``adapters.queue`` groups them);
2. repack, when template.yaml has a ``RepackFunction`` with an SQS event: the pack queue is read
   in batches of its ``BatchSize`` messages, each batch decoded and folded (``repack.fold``), and
   the folded bodies sent to the usage queue. Without it, small bodies go to the usage queue
   as they are (what production does today);
3. the consumer: the real service (``Root().count_usage.count_messages``), ``BatchSize``
   messages a call (the ConsumerFunction's SQS event), one fresh root per row (one execution
   environment), one fresh moto world per row (empty tables).

The matrix: events per request (1, 100, 1000) x duplicates (0 %, 50 %) x time spread (0, 10,
60 minutes) x aggregation (sum with group_by over 4 regions; unique_count with the same
group_by). Every row's figure is write units per *distinct* event.

- Duplicates: ``50 %`` means half the events sent are re-sends: every request is sent again,
  same ids, times and values (a client retry after a timeout), after all the originals have
  gone through the pipeline, so a re-send never shares a consumer call (or a repack batch) with
  its original: in-call repeats would cost nothing, and a retry comes seconds later.
- Spread: the events of one request are spread evenly over the span; 0 means all within one
  minute. A 1-event request cannot spread, so for 1-event requests each run of 1,000 consecutive
  requests spans it (late events from many clients).
- unique_count values are drawn at random from a pool of as many user ids as there are distinct
  events (about 63 % of events bring a new value); the row reports the exact ratio. Tables start
  empty, so the sets are small: see the README for what that means for big sets.

The dollar model (``bench.dollars``) prices the sum, 0 %, spread-0 row of each request size.
``BENCH_MATRIX_EVENTS`` sets the distinct events per row (default 2,000: a 1,000-event row then
fills one consumer wave, ``count_usage.WAVE_EVENTS``, the unit a transaction is shared by), ``BENCH_WORKERS``
the processes the rows run on (default 2).
"""

from __future__ import annotations

import math
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench import dollars as money

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

DEFAULT_DISTINCT = 2_000
PER_REQUEST = (1, 100, 1_000)
DUPLICATES = (0.0, 0.5)
SPREAD_MINUTES = (0, 10, 60)
AGGREGATIONS = ("sum", "unique_count")
REGIONS = ("eu", "us", "ap", "sa")
TENANT, TIMEZONE = "acme", "Europe/Paris"
START = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)  # 11:30 in Paris: a 60-minute span crosses an hour
SPREAD_RUN = 1_000  # 1-event requests: consecutive requests whose events span the spread

SQS_MAX_RECEIVE = 10  # messages per ReceiveMessage and per DeleteMessageBatch
SAM_SQS_DEFAULT_BATCH = 10  # SAM's BatchSize when an SQS event names none

# Targets (issue 9): write units per distinct event.
TARGET_BASE = 1.2  # 0 % duplicates, spread 0
TARGET_VARIED = 1.3  # spread 10 / 60 minutes, or 50 % duplicates
TARGET_UNIQUE = 3.0  # unique_count rows

# The duration model's assumptions (not measured here; AWS documents "single-digit millisecond"
# DynamoDB latency, and SQS sends take about as long from inside the region).
DYNAMODB_CALL_S = 0.008
SQS_CALL_S = 0.010
AUTHORIZER_S = 0.002  # a warm authorizer with the key cached: not measured by this section
RATE_LIMIT_WRITES_PER_REQUEST = 0.0084  # `python -m bench ratelimit`, 10 instances at 10k req/s
KEY_CHECK_READ_UNITS = 1.0  # one strongly consistent GetItem per request (keys.key_is_active)


# ------------------------------------------------------------------ the template
@dataclass(frozen=True)
class Pipeline:
    consumer_batch: int
    consumer_window_s: float
    consumer_memory_mb: int
    ingest_memory_mb: int
    authorizer_memory_mb: int
    repack_batch: int | None  # None: no RepackFunction in the template, nothing is folded
    repack_window_s: float = 0.0
    repack_memory_mb: int = 0
    notes: tuple[str, ...] = ()


def _sqs_event(events: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    for event in events.values():
        if event.get("Type") == "SQS":
            return dict(event.get("Properties") or {})
    return None


@cache
def pipeline(path: Path = TEMPLATE) -> Pipeline:
    """What the template configures: the consumer's and the repack function's SQS batches."""
    from tollgate_dev.local.template import Template

    functions = Template.load(path).functions()
    consumer = functions["ConsumerFunction"]
    consumer_event = _sqs_event(consumer.events) or {}
    notes = []
    repack = functions.get("RepackFunction")
    repack_event = _sqs_event(repack.events) if repack else None
    if repack is None or repack_event is None:
        notes.append("template.yaml has no RepackFunction with an SQS event: nothing is folded")
        repack_batch = None
    else:
        repack_batch = int(repack_event.get("BatchSize", SAM_SQS_DEFAULT_BATCH))
        if "BatchSize" not in repack_event:
            notes.append(f"RepackFunction's SQS event names no BatchSize: SAM's default {SAM_SQS_DEFAULT_BATCH}")
    return Pipeline(
        consumer_batch=int(consumer_event.get("BatchSize", SAM_SQS_DEFAULT_BATCH)),
        consumer_window_s=float(consumer_event.get("MaximumBatchingWindowInSeconds", 0)),
        consumer_memory_mb=consumer.memory_mb,
        ingest_memory_mb=functions["IngestFunction"].memory_mb,
        authorizer_memory_mb=functions["AuthorizerFunction"].memory_mb,
        repack_batch=repack_batch,
        repack_window_s=float((repack_event or {}).get("MaximumBatchingWindowInSeconds", 0)),
        repack_memory_mb=repack.memory_mb if repack else 0,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------ the rows
@dataclass(frozen=True)
class Row:
    per_request: int
    duplicates: float  # share of the events sent that are re-sends
    spread_minutes: int
    aggregation: str

    @property
    def key(self) -> str:
        return f"{self.per_request}ev/{self.aggregation}/dup{round(self.duplicates * 100)}/spread{self.spread_minutes}"

    @property
    def target(self) -> float:
        if self.aggregation == "unique_count":
            return TARGET_UNIQUE
        return TARGET_BASE if self.duplicates == 0 and self.spread_minutes == 0 else TARGET_VARIED


def matrix() -> list[Row]:
    return [Row(n, d, s, a) for a in AGGREGATIONS for n in PER_REQUEST for d in DUPLICATES for s in SPREAD_MINUTES]


def meters() -> dict[str, Any]:
    from tollgate.domain.meters import Aggregation, MeterSpec

    return {
        "sum": MeterSpec("api_calls", Aggregation.SUM, "value", ("region",)),
        # No group_by: the target (3 write units) is per unique_count meter; each group_by
        # dimension adds its own month and lifetime claims (docs/storage.md, "Cost").
        "unique_count": MeterSpec("active_users", Aggregation.UNIQUE_COUNT, "user"),
    }


def event_time(g: int, row: Row, start: datetime = START) -> datetime:
    """Distinct event ``g``'s time: evenly over the span within its request (or, for 1-event
    requests, within its run of ``SPREAD_RUN`` requests); spread 0 is one minute."""
    run = row.per_request if row.per_request > 1 else SPREAD_RUN
    span = timedelta(minutes=row.spread_minutes) if row.spread_minutes else timedelta(seconds=59)
    return start + span * ((g % run) / run)


def traffic(row: Row, distinct: int, start: datetime = START, seed: int = 9) -> list[list[Any]]:
    """The requests of a row in the order they are sent: the originals, then the re-sends
    (copies of the originals, evenly chosen) that make ``row.duplicates`` of the events sent."""
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent

    meter = meters()[row.aggregation]
    rng = random.Random(seed)
    events = []
    for g in range(distinct):
        region = REGIONS[g % len(REGIONS)]
        if row.aggregation == "unique_count":
            value = f"user-{rng.randrange(distinct):07d}"
            data: dict[str, Any] = {"user": value, "region": region}
        else:
            value = str(g % 7 + 1)
            data = {"value": g % 7 + 1, "region": region}
        events.append(
            UsageEvent(
                id=f"evt-{g:08d}-7f3a9c",
                meter=meter.key,
                time=format_time(event_time(g, row, start)),
                value=value,
                dims={"region": region},
                data=data,
                source="/bench",
            )
        )
    originals = [events[i : i + row.per_request] for i in range(0, distinct, row.per_request)]
    resent = len(originals) * row.duplicates / (1 - row.duplicates)
    retries = round(min(resent, len(originals)))
    return originals + [originals[i * len(originals) // retries] for i in range(retries)]


def originals_of(row: Row, distinct: int) -> int:
    """How many of ``traffic``'s requests are originals (the rest are re-sends)."""
    return math.ceil(distinct / row.per_request)


# ------------------------------------------------------------------ ingest and repack (pure)
@dataclass
class Flow:
    """The messages the consumer reads, and what SQS bills on the way (billed requests)."""

    usage: list[tuple[str, str]] = field(default_factory=list)  # (message id, body), in order
    resends_from: int | None = None  # usage index where the re-sends' messages start
    requests: int = 0
    request_events: list[int] = field(default_factory=list)
    direct: int = 0  # messages ingest sent to the usage queue
    packed: int = 0  # messages ingest sent to the pack queue
    folded: int = 0  # messages the repack stage sent to the usage queue
    repack_batches: int = 0
    repack_cpu_s: float = 0.0  # decode + fold
    ingest_send_calls: int = 0
    repack_send_calls: int = 0
    sqs: Counter[str] = field(default_factory=Counter)


def _send(bodies: Sequence[str], flow: Flow, line: str) -> int:
    """SendMessageBatch calls for ``bodies`` (as ``adapters.queue`` groups them); bills them."""
    from tollgate.adapters.queue import batches

    calls = batches([len(b) for b in bodies])
    for group in calls:
        flow.sqs[line] += money.sqs_billed(sum(len(bodies[i]) for i in group))
    return len(calls)


def _read(bodies: Sequence[str], flow: Flow, who: str) -> None:
    """What an event source mapping's polling of ``bodies`` costs: ReceiveMessage and
    DeleteMessageBatch of up to 10 messages each (empty polls left out)."""
    for i in range(0, len(bodies), SQS_MAX_RECEIVE):
        part = bodies[i : i + SQS_MAX_RECEIVE]
        flow.sqs[f"{who} receive"] += money.sqs_billed(sum(len(b) for b in part))
        flow.sqs[f"{who} delete"] += 1


def _message_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def flow_of(requests: list[list[Any]], row: Row, pipe: Pipeline, originals: int | None = None, seed: int = 9) -> Flow:
    """Ingest each request (pack, route by size), fold the pack queue when the template has the
    repack stage, and return the usage queue's messages in the order the consumer reads them.
    The first ``originals`` requests are drained through the pipeline before the re-sends
    arrive (a client retries after a timeout: by then the originals have been taken)."""
    from tollgate.wire.repack import counted_as_is, fold
    from tollgate.wire.usage_message import decode, event_dict, event_json, pack

    spec = meters()[row.aggregation]
    rng = random.Random(seed)
    flow = Flow()
    pack_queue: list[tuple[str, str]] = []

    def drain(final: bool) -> None:
        while pipe.repack_batch and pack_queue and (final or len(pack_queue) >= pipe.repack_batch):
            batch, pack_queue[:] = pack_queue[: pipe.repack_batch], pack_queue[pipe.repack_batch :]
            _read([b for _, b in batch], flow, "repack")
            began = time.process_time()
            folded = fold([(m, decode(b)) for m, b in batch])
            flow.repack_cpu_s += time.process_time() - began
            flow.repack_batches += 1
            bodies = [f.body for f in folded]
            flow.repack_send_calls += _send(bodies, flow, "repack send")
            flow.folded += len(bodies)
            flow.usage += [(_message_id(rng), b) for b in bodies]

    for n, request in enumerate(requests):
        if n == originals:
            drain(final=True)
            flow.resends_from = len(flow.usage)
        flow.requests += 1
        flow.request_events.append(len(request))
        items = [(i, e.meter, event_json(event_dict(e))) for i, e in enumerate(request)]
        bodies = pack(TENANT, TIMEZONE, {spec.key: spec}, items)
        small = [p.body for p in bodies if pipe.repack_batch and not counted_as_is(len(p.indexes), p.size)]
        large = [p.body for p in bodies if not (pipe.repack_batch and not counted_as_is(len(p.indexes), p.size))]
        flow.ingest_send_calls += _send(small, flow, "ingest send") + _send(large, flow, "ingest send")
        flow.packed += len(small)
        flow.direct += len(large)
        flow.usage += [(_message_id(rng), b) for b in large]
        pack_queue += [(_message_id(rng), b) for b in small]
        drain(final=False)
    drain(final=True)
    return flow


# ------------------------------------------------------------------ the consumer on moto
class _MotoClock:
    """CPU spent inside moto's emulation (before-send .. needs-retry, per thread): not ours, and
    not Lambda's, so it is taken out of the consumer's CPU."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._local = threading.local()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-send.dynamodb", self._start)
        client.meta.events.register("needs-retry.dynamodb", self._stop)

    def _start(self, **_: Any) -> None:
        self._local.began = time.thread_time()

    def _stop(self, **_: Any) -> None:
        began = getattr(self._local, "began", None)
        if began is not None:
            with self._lock:
                self.seconds += time.thread_time() - began
            self._local.began = None


def _calls(flow: Flow, size: int) -> Iterator[list[tuple[str, str]]]:
    """The consumer's calls: ``size`` messages each; no call holds both an original's message
    and a re-send's (the originals were taken before the re-sends were sent)."""
    cut = len(flow.usage) if flow.resends_from is None else flow.resends_from
    for part in (flow.usage[:cut], flow.usage[cut:]):
        for i in range(0, len(part), size):
            yield part[i : i + size]


def measure_row(row: Row, distinct: int) -> dict[str, Any]:
    """One row: traffic, ingest and repack, then the consumer on a fresh moto world."""

    sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "shared"), str(ROOT / "dev")) if p not in sys.path]
    from tests.conftest import moto_stack
    from tollgate.adapters.ledger import MAX_WORKERS
    from tollgate.wiring import Root
    from tollgate_dev.cost import DynamoCost

    began = time.perf_counter()
    pipe = pipeline()
    requests = traffic(row, distinct)
    flow = flow_of(requests, row, pipe, originals=originals_of(row, distinct))
    cpu = 0.0
    counted = duplicates = invocations = 0
    with moto_stack():
        root = Root()
        cost = DynamoCost().attach(root.dynamodb)
        moto = _MotoClock()
        moto.attach(root.dynamodb)
        consumer = root.count_usage
        for batch in _calls(flow, pipe.consumer_batch):
            _read([b for _, b in batch], flow, "consumer")
            t0 = time.process_time()
            outcome = consumer.count_messages(batch)
            cpu += time.process_time() - t0
            invocations += 1
            if outcome.failed:
                raise RuntimeError(f"{row.key}: messages failed: {outcome.failed}")
            counted += outcome.counted
            duplicates += outcome.duplicates
    if counted != distinct:
        raise RuntimeError(f"{row.key}: counted {counted} of {distinct} distinct events")
    summary = cost.summary(events=distinct)
    requests_by_op = summary["requests"]
    parallel = sum(requests_by_op.get(op, 0) for op in ("PutItem", "UpdateItem", "GetItem", "BatchWriteItem"))
    serial = summary["total_requests"] - parallel
    sent = sum(flow.request_events)
    values = {e.value for r in requests for e in r}
    return {
        "row": asdict(row),
        "target": row.target,
        "distinct_events": distinct,
        "events_sent": sent,
        "duplicates_seen_by_consumer": duplicates,
        "unique_value_ratio": round(len(values) / distinct, 3) if row.aggregation == "unique_count" else None,
        "requests": flow.requests,
        "messages": {"direct": flow.direct, "to_pack_queue": flow.packed, "folded": flow.folded},
        "usage_messages": len(flow.usage),
        "usage_message_bytes_max": max(len(b) for _, b in flow.usage),
        "repack_invocations": flow.repack_batches,
        "repack_cpu_s": round(flow.repack_cpu_s, 4),
        "consumer_invocations": invocations,
        "ingest_send_calls": flow.ingest_send_calls,
        "repack_send_calls": flow.repack_send_calls,
        "sqs_billed": dict(flow.sqs),
        "write_units": summary["write_units"],
        "write_units_per_event": round(summary["write_units_per_event"], 4),
        "read_units": summary["read_units"],
        "dynamodb_requests": requests_by_op,
        "dynamodb_requests_per_event": round(summary["requests_per_event"], 4),
        "dynamodb_call_rounds": round(serial + parallel / MAX_WORKERS, 1),
        "hottest_item_writes": summary["hottest_item"][1],
        "consumer_cpu_s": round(cpu, 3),
        "consumer_cpu_in_moto_s": round(moto.seconds, 3),
        "wall_s": round(time.perf_counter() - began, 1),
    }


# ------------------------------------------------------------------ ingest CPU (stubbed SQS)
def measure_ingest(sizes: Sequence[int] = PER_REQUEST) -> dict[str, Any]:
    """The ingest handler's CPU per request, SQS and the key check stubbed (bench.ingest's way)."""

    sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "shared"), str(ROOT / "dev")) if p not in sys.path]
    from bench import ingest
    from bench.handler_env import Context

    ingest._environment()
    module = ingest._load_module()
    out = {}
    for n in sizes:
        stub = ingest.StubSQS()
        ingest._stub_world(module, stub, 1)
        event = ingest._request(n, 1)
        with ingest.quiet():
            module.lambda_handler(event, Context())
        seconds, _ = ingest._measure(module.lambda_handler, event, n)
        out[str(n)] = {"cpu_s_per_event": seconds, "request_bytes": len(event["body"])}
    return out


# ------------------------------------------------------------------ dollars
def usage_per_million(base: dict[str, Any], ingest_cpu: dict[str, Any], pipe: Pipeline) -> money.Usage:
    """What one million distinct events use, from a measured row (and the ingest CPU)."""
    n = base["distinct_events"]
    per_request = base["row"]["per_request"]
    scale = money.MILLION / n
    ingest = ingest_cpu[str(per_request)]
    requests = base["requests"]
    events_per_request = base["events_sent"] / requests
    ingest_s = (
        ingest["cpu_s_per_event"] * events_per_request * money.cpu_stretch(pipe.ingest_memory_mb)
        + DYNAMODB_CALL_S  # the key check
        + SQS_CALL_S * base["ingest_send_calls"] / requests
    )
    functions = {
        "authorizer": money.FunctionUse(requests, money.billed_seconds(AUTHORIZER_S), pipe.authorizer_memory_mb),
        "ingest": money.FunctionUse(requests, money.billed_seconds(ingest_s), pipe.ingest_memory_mb),
    }
    if base["repack_invocations"]:
        calls = base["repack_invocations"]
        repack_s = (
            base["repack_cpu_s"] / calls * money.cpu_stretch(pipe.repack_memory_mb)
            + SQS_CALL_S * base["repack_send_calls"] / calls
        )
        functions["repack"] = money.FunctionUse(calls, money.billed_seconds(repack_s), pipe.repack_memory_mb)
    calls = base["consumer_invocations"]
    consumer_cpu = base["consumer_cpu_s"] - base["consumer_cpu_in_moto_s"]
    consumer_s = (
        consumer_cpu / calls * money.cpu_stretch(pipe.consumer_memory_mb)
        + DYNAMODB_CALL_S * base["dynamodb_call_rounds"] / calls
    )
    functions["consumer"] = money.FunctionUse(calls, money.billed_seconds(consumer_s), pipe.consumer_memory_mb)
    usage = money.Usage(
        api_requests=requests * money.api_billed(ingest["request_bytes"]),
        functions=functions,
        sqs_requests=sum(base["sqs_billed"].values()),
        write_units=base["write_units"] + RATE_LIMIT_WRITES_PER_REQUEST * requests,
        read_units=base["read_units"] + KEY_CHECK_READ_UNITS * requests,
    )
    return usage.scaled(scale)


# ------------------------------------------------------------------ the section
def distinct_events() -> int:
    return int(os.environ.get("BENCH_MATRIX_EVENTS", DEFAULT_DISTINCT))


def run() -> dict[str, Any]:
    distinct = distinct_events()
    workers = int(os.environ.get("BENCH_WORKERS", min(2, os.cpu_count() or 1)))
    pipe = pipeline()
    rows = matrix()
    # Dearest first (1-event rows without folding, duplicates), so the workers finish together.
    order = sorted(rows, key=lambda r: (-(1 + r.duplicates) * (3 if r.per_request == 1 else 1), r.key))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        ingest_job = pool.submit(measure_ingest)
        jobs = {pool.submit(measure_row, r, distinct): r.key for r in order}
        done: dict[str, dict[str, Any]] = {}
        for job in as_completed(jobs):
            done[jobs[job]] = job.result()
            print(f"cost_matrix: {len(done)}/{len(rows)} {jobs[job]}", file=sys.stderr, flush=True)
        measured = {r.key: done[r.key] for r in rows}
        ingest_cpu = ingest_job.result()
    bases = {str(n): measured[Row(n, 0.0, 0, "sum").key] for n in PER_REQUEST}
    dollar = {n: money.dollars(usage_per_million(b, ingest_cpu, pipe)) for n, b in bases.items()}
    return {
        "distinct_events_per_row": distinct,
        "pipeline": asdict(pipe),
        "regimes": regimes(pipe),
        "rows": measured,
        "ingest_cpu": ingest_cpu,
        "dollars_per_million_events": dollar,
        "usage_per_million_events": {n: _usage_dict(usage_per_million(b, ingest_cpu, pipe)) for n, b in bases.items()},
        "prices": {k: {"usd": v, "source": src} for k, (v, src) in money.PRICES.items()},
        "assumptions": {
            "dynamodb_call_s": DYNAMODB_CALL_S,
            "sqs_call_s": SQS_CALL_S,
            "authorizer_s": AUTHORIZER_S,
            "rate_limit_writes_per_request": RATE_LIMIT_WRITES_PER_REQUEST,
            "key_check_read_units_per_request": KEY_CHECK_READ_UNITS,
            "lambda_mb_per_vcpu": money.LAMBDA_MB_PER_VCPU,
        },
        "naive_write_units_per_event": 2 * (1 + 4 * 2 + 1),  # a transaction per event: marker + 9 keys
    }


def _usage_dict(u: money.Usage) -> dict[str, Any]:
    return {
        "api_requests": round(u.api_requests),
        "sqs_requests": round(u.sqs_requests),
        "write_units": round(u.write_units),
        "read_units": round(u.read_units),
        "functions": {
            k: {
                "invocations": round(f.invocations),
                "billed_ms": round(f.seconds_per_invocation * 1000),
                "memory_mb": f.memory_mb,
                "gb_seconds": round(f.gb_seconds, 1),
            }
            for k, f in u.functions.items()
        },
    }


def regimes(pipe: Pipeline) -> dict[str, str]:
    """The traffic each request size's rows stand for, from the template's batch settings."""
    from tollgate.wire.repack import DIRECT_EVENTS, FOLD_EVENTS

    consumer = f"consumer calls of {pipe.consumer_batch} messages"
    if pipe.repack_batch is None:
        small = f"no repack stage: one message per request, {consumer}"
        return {"1": small, "100": small, "1000": f"1,000-event messages, {consumer}"}
    window = pipe.repack_window_s or 1.0
    return {
        n: (
            f"{n}-event requests at >= {math.ceil(pipe.repack_batch / window):,} req/s fill the repack "
            f"batch ({pipe.repack_batch} messages), folded to {FOLD_EVENTS:,}-event messages"
            if int(n) < DIRECT_EVENTS
            else f"direct to the usage queue, {consumer}"
        )
        for n in ("1", "100", "1000")
    }


def _met(value: float, target: float) -> str:
    return "yes" if value <= target else "NO"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    for note in r["pipeline"]["notes"]:
        out.append((f"NOTE: {note}", "-", "-", "-"))
    for n, regime in r["regimes"].items():
        out.append((f"regime of the {n}-event rows: {regime}", "-", "-", "-"))
    for m in r["rows"].values():
        row = m["row"]
        ratio = f", {m['unique_value_ratio']:.0%} new values" if m["unique_value_ratio"] is not None else ""
        what = (
            f"WU/distinct event, {row['per_request']} ev/req, {row['aggregation']}{ratio}, "
            f"dup {round(row['duplicates'] * 100)}%, spread {row['spread_minutes']} min"
        )
        figure = f"{m['write_units_per_event']} ({m['usage_messages']} msgs, {m['consumer_invocations']} calls)"
        out.append((what, figure, f"<= {m['target']}", _met(m["write_units_per_event"], m["target"])))
    out.append(
        ("naive design (a transaction per event), WU/event", str(r["naive_write_units_per_event"]), "comparison", "-")
    )
    for name, price in r["prices"].items():
        out.append((f"price: {name}", f"${price['usd']}", price["source"], "-"))
    table = r["dollars_per_million_events"]
    sizes = list(table)
    lines = list(dict.fromkeys(line for n in sizes for line in table[n] if line != "total")) + ["total"]
    for line in lines:
        figures = " / ".join(f"${table[n].get(line, 0.0):.3f}" for n in sizes)
        out.append((f"$ per million events ({' / '.join(sizes)} ev/req): {line}", figures, "report", "-"))
    return out
