"""The cost matrix's pure parts (bench/cost_matrix.py, bench/dollars.py): the traffic each row
sends, the pipeline's routing and folding, the template reading, and the dollar arithmetic."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bench import cost_matrix as cm
from bench import dollars as money
from tollgate.domain.times import parse_time
from tollgate.wire.usage_message import decode

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ the traffic of a row
def test_duplicates_are_later_requests_resending_the_same_ids():
    row = cm.Row(per_request=100, duplicates=0.5, spread_minutes=0, aggregation="sum")
    requests = cm.traffic(row, 1_000)
    ids = [e.id for r in requests for e in r]
    assert len(set(ids)) == 1_000 and len(ids) == 2_000  # half of what is sent is a re-send
    originals, resends = requests[:10], requests[10:]
    assert {e.id for r in originals for e in r} == set(ids)
    for resend in resends:  # each re-send is an earlier request, event for event (a retry)
        assert any(resend == original for original in originals)


def test_no_duplicates_means_every_id_once():
    requests = cm.traffic(cm.Row(1, 0.0, 0, "sum"), 300)
    assert len(requests) == 300 and Counter(e.id for r in requests for e in r).most_common(1)[0][1] == 1


@pytest.mark.parametrize(("per_request", "minutes"), [(1_000, 10), (100, 60), (1, 10)])
def test_spread_spans_the_minutes(per_request, minutes):
    row = cm.Row(per_request, 0.0, minutes, "sum")
    requests = cm.traffic(row, 2_000)
    span = requests[0] if per_request > 1 else [r[0] for r in requests[: cm.SPREAD_RUN]]
    times = sorted(parse_time(e.time) for e in span)
    assert times[0] == cm.START
    step = timedelta(minutes=minutes) / len(span)  # evenly: the last event one step before the end
    assert times[-1] - times[0] == timedelta(minutes=minutes) - step
    assert len({t.replace(second=0, microsecond=0) for t in times}) == minutes


def test_spread_zero_stays_within_one_minute():
    times = {
        parse_time(e.time).replace(second=0, microsecond=0)
        for r in cm.traffic(cm.Row(100, 0.0, 0, "sum"), 500)
        for e in r
    }
    assert times == {cm.START}


def test_unique_count_values_are_mostly_new():
    events = [e for r in cm.traffic(cm.Row(1_000, 0.0, 0, "unique_count"), 2_000) for e in r]
    assert 0.55 < len({e.value for e in events}) / len(events) < 0.7
    assert all(e.data["user"] == e.value and e.dims["region"] in cm.REGIONS for e in events)


# ------------------------------------------------------------------ routing and folding
def _pipe(repack_batch: int | None) -> cm.Pipeline:
    return cm.Pipeline(10, 1.0, 512, 512, 256, repack_batch, 1.0, 512)


def test_without_repack_every_request_is_its_own_message():
    row = cm.Row(1, 0.0, 0, "sum")
    flow = cm.flow_of(cm.traffic(row, 50), row, _pipe(None))
    assert len(flow.usage) == 50 and flow.folded == 0 and flow.packed == 0
    assert flow.sqs["ingest send"] == 50


def test_resends_never_share_a_consumer_call_with_their_originals():
    row = cm.Row(1_000, 0.5, 0, "sum")
    requests = cm.traffic(row, 2_000)
    flow = cm.flow_of(requests, row, _pipe(None), originals=cm.originals_of(row, 2_000))
    calls = [[{e.id for e in decode(b).events} for _, b in call] for call in cm._calls(flow, 10)]
    assert len(calls) == 2  # 4 messages would fit one call of 10: the re-sends come after
    assert set().union(*calls[0]) == set().union(*calls[1]) and len(set().union(*calls[0])) == 2_000


def test_small_messages_are_folded_large_ones_go_direct():
    row = cm.Row(1, 0.5, 0, "sum")
    flow = cm.flow_of(cm.traffic(row, 1_500), row, _pipe(1_000), originals=1_500)
    assert flow.packed == 3_000 and flow.repack_batches == 4 and flow.direct == 0
    # the originals fold on their own (the last batch drained before the re-sends arrive)
    assert [len(decode(b).events) for _, b in flow.usage] == [1_000, 500, 1_000, 500]
    assert flow.resends_from == 2
    assert Counter(e.id for _, b in flow.usage for e in decode(b).events).most_common(1)[0][1] == 2
    assert flow.sqs["repack receive"] == 300 and flow.sqs["repack delete"] == 300  # 10 messages a call
    big = cm.Row(1_000, 0.0, 0, "sum")
    direct = cm.flow_of(cm.traffic(big, 2_000), big, _pipe(1_000))
    assert direct.direct == 2 and direct.packed == 0 and direct.folded == 0


def test_the_template_is_read_for_batch_sizes_and_memory():
    pipe = cm.pipeline(ROOT / "template.yaml")
    assert pipe.consumer_batch >= 1 and pipe.consumer_memory_mb >= 128
    assert (pipe.repack_batch is None) == bool(pipe.notes)


def test_a_repack_function_without_batch_size_gets_sams_default(tmp_path):
    text = (ROOT / "template.yaml").read_text()
    if "RepackFunction:" not in text:
        text = text.replace(
            "  AggregatorFunction:\n",
            "  RepackFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      CodeUri: functions/consumer/\n      Handler: app.lambda_handler\n      Events:\n"
            "        Pack:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt UsageQueue.Arn\n\n"
            "  AggregatorFunction:\n",
        )
    (tmp_path / "template.yaml").write_text(text)
    pipe = cm.pipeline(tmp_path / "template.yaml")
    assert pipe.repack_batch is not None and pipe.repack_memory_mb >= 128


# ------------------------------------------------------------------ dollars
def test_dollars_are_prices_times_counts():
    usage = money.Usage(
        api_requests=2_000_000,
        functions={
            "ingest": money.FunctionUse(invocations=1_000_000, seconds_per_invocation=0.1, memory_mb=512),
            "consumer": money.FunctionUse(invocations=1_000, seconds_per_invocation=2.0, memory_mb=1024),
        },
        sqs_requests=3_000_000,
        write_units=4_000_000,
        read_units=8_000_000,
    )
    out = money.dollars(usage)
    assert out["API Gateway requests"] == pytest.approx(2 * money.API_GATEWAY_HTTP_PER_MILLION)
    assert out["Lambda requests"] == pytest.approx(1.001 * money.LAMBDA_REQUESTS_PER_MILLION)
    assert out["Lambda GB-s ingest"] == pytest.approx(50_000 * money.LAMBDA_ARM_PER_GB_SECOND)
    assert out["Lambda GB-s consumer"] == pytest.approx(2_000 * money.LAMBDA_ARM_PER_GB_SECOND)
    assert out["SQS requests"] == pytest.approx(3 * money.SQS_STANDARD_PER_MILLION)
    assert out["DynamoDB writes"] == pytest.approx(4 * 0.625)
    assert out["DynamoDB reads"] == pytest.approx(8 * 0.125)
    assert out["total"] == pytest.approx(sum(v for k, v in out.items() if k != "total"))
    assert money.dollars(usage.scaled(3))["total"] == pytest.approx(3 * out["total"])


def test_billing_units():
    assert money.sqs_billed(1) == 1 and money.sqs_billed(64 * 1024) == 1 and money.sqs_billed(64 * 1024 + 1) == 2
    assert money.api_billed(192_000) == 1 and money.api_billed(600_000) == 2
    assert money.billed_seconds(0.0101) == pytest.approx(0.011) and money.billed_seconds(0.002) == pytest.approx(0.002)
    assert money.cpu_stretch(512) == pytest.approx(1_769 / 512) and money.cpu_stretch(3_008) == 1.0
