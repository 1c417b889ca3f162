"""Batches: at most batch_size events and 1 MiB each; the events' JSON as tracked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tollgate.client import Tollgate
from tollgate.client._encode import MAX_BODY_BYTES


def client(api, **kw):
    return Tollgate("http://tollgate.test", "tg_secret", transport=api.transport, flush_interval=30, **kw)


@pytest.mark.parametrize(("n", "sizes"), [(999, [999]), (1000, [1000]), (1001, [1000, 1])])
def test_batch_boundaries(api, n, sizes):
    tg = client(api)
    ids = [tg.track("api_calls", subject="t1") for _ in range(n)]
    assert tg.flush(5)
    assert [len(b) for b in api.bodies()] == sizes
    assert [e["id"] for b in api.bodies() for e in b] == ids  # in tracking order, each once
    assert tg.stats.sent == n and tg.stats.batches == len(sizes) and tg.stats.pending == 0
    tg.close()


def test_a_full_batch_goes_without_waiting_for_the_interval(api):
    tg = client(api, batch_size=10)
    for _ in range(10):
        tg.track("api_calls", subject="t1")
    for _ in range(200):  # the flusher sends the full batch on its own (no flush call)
        if api.requests:
            break
        import time

        time.sleep(0.005)
    assert [len(b) for b in api.bodies()] == [10]
    tg.close()


def test_the_byte_bound_splits_large_events(api):
    tg = client(api)
    blob = "x" * 300_000  # four of these do not fit one 1 MiB body
    for _ in range(4):
        tg.track("api_calls", subject="t1", data={"blob": blob})
    assert tg.flush(5)
    sizes = [len(r.content) for r in api.requests]
    assert [len(b) for b in api.bodies()] == [3, 1]
    assert max(sizes) <= MAX_BODY_BYTES
    tg.close()


def test_an_event_over_the_body_limit_is_refused_at_track(api):
    tg = client(api)
    with pytest.raises(ValueError, match="bytes encoded"):
        tg.track("api_calls", data={"blob": "x" * MAX_BODY_BYTES})
    tg.close()


def test_unsendable_data_raises_at_track_and_buffers_nothing(api):
    tg = client(api)
    with pytest.raises(TypeError):
        tg.track("api_calls", data={"s": {1, 2}})
    with pytest.raises(ValueError, match="naive"):
        tg.track("api_calls", time=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        tg.track("api_calls", data={"value": float("nan")})
    assert tg.stats.tracked == 0 and tg.stats.pending == 0
    tg.close()


def test_encoding_decimals_times_and_cloudevents(api):
    tg = client(api, cloudevents=True, source="my-app")
    paris = timezone(timedelta(hours=1))
    tg.track(
        "tokens",
        id="e1",
        subject="t1",
        time=datetime(2026, 3, 1, 11, 0, tzinfo=paris),
        data={"value": Decimal("0.1"), "at": datetime(2026, 3, 1, tzinfo=UTC)},
    )
    assert tg.flush(5)
    request = api.requests[0]
    assert request.headers["content-type"] == "application/cloudevents-batch+json"
    assert request.headers["authorization"] == "Bearer tg_secret"
    assert request.headers["user-agent"].startswith("tollgate-python/")
    assert json.loads(request.content) == [
        {
            "id": "e1",
            "type": "tokens",
            "specversion": "1.0",
            "source": "my-app",
            "subject": "t1",
            "time": "2026-03-01T10:00:00Z",
            "data": {"value": "0.1", "at": "2026-03-01T00:00:00Z"},
        }
    ]
    tg.close()


def test_default_ids_are_uuidv7_in_order(api):
    import uuid

    tg = client(api)
    ids = [tg.track("api_calls") for _ in range(50)]
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert "tg_secret" not in repr(tg)
    tg.close()
