"""The flusher: a batch is resent with the same ids until answered, retryable rejections go
back, the others are reported; overflow; close and the atexit hook."""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest

from tollgate.client import Tollgate, TollgateError
from tollgate.client import sync as sync_module

from .conftest import MaxRandom, problem


def client(api, sleep=None, **kw):
    kw.setdefault("flush_interval", 30)
    return Tollgate("http://tollgate.test", "k", transport=api.transport, sleep=sleep, rng=MaxRandom(), **kw)


def test_a_batch_is_resent_with_the_same_ids_until_answered(api, sleep):
    api.script = [httpx.Response(503), httpx.ConnectError("down"), httpx.ReadTimeout("lost"), httpx.Response(502)]
    tg = client(api, sleep, max_retries=1)  # the flusher does not give up while open
    ids = [tg.track("api_calls", subject="t1") for _ in range(5)]
    assert tg.flush(5)
    assert api.event_ids() == [ids] * 5
    assert sleep.waits == [0.5, 1.0, 2.0, 4.0]
    s = tg.stats
    assert (s.sent, s.retries, s.batches, s.pending) == (5, 20, 1, 0)
    tg.close()


def test_retryable_rejections_are_requeued_with_their_ids(api, sleep):
    def partly(request):
        events = json.loads(request.content)
        rejected = [{"index": 1, "id": events[1]["id"], "errors": [], "retryable": True}]
        return httpx.Response(202, json={"accepted": len(events) - 1, "duplicates": 0, "rejected": rejected})

    api.script = [partly]
    tg = client(api, sleep)
    ids = [tg.track("api_calls", subject="t1") for _ in range(3)]
    assert tg.flush(5)
    assert api.event_ids() == [ids, [ids[1]]]
    assert (tg.stats.sent, tg.stats.retries, tg.stats.rejected) == (3, 1, 0)
    tg.close()


def test_invalid_events_are_reported_and_not_resent(api, sleep, caplog):
    def one_bad(request):
        events = json.loads(request.content)
        bad = {"index": 0, "id": events[0]["id"], "errors": [{"field": "[0].time", "message": "too old"}]}
        return httpx.Response(202, json={"accepted": len(events) - 1, "duplicates": 0, "rejected": [bad]})

    api.script = [one_bad]
    seen = []
    tg = client(api, sleep, on_rejected=seen.extend)
    ids = [tg.track("api_calls", subject="t1") for _ in range(2)]
    with caplog.at_level(logging.WARNING, "tollgate.client"):
        assert tg.flush(5)
    assert len(api.requests) == 1 and tg.stats.rejected == 1 and tg.stats.sent == 1
    assert [(r.id, r.index, r.errors) for r in seen] == [(ids[0], 0, [{"field": "[0].time", "message": "too old"}])]
    assert ids[0] in caplog.text and "too old" in caplog.text and "Bearer" not in caplog.text
    tg.close()


def test_a_refused_batch_is_reported_at_error_and_not_retried(api, sleep, caplog):
    api.script = [problem(403, "forbidden")]
    seen = []
    tg = client(api, sleep, on_rejected=seen.extend)
    tg.track("api_calls", subject="t1")
    with caplog.at_level(logging.ERROR, "tollgate.client"):
        assert tg.flush(5)
    assert len(api.requests) == 1 and tg.stats.rejected == 1 and seen[0].status == 403
    assert "refused a batch" in caplog.text
    tg.close()


def test_drop_counts_and_warns_once_without_blocking(api, caplog):
    gate = threading.Event()
    api.default = lambda r: (gate.wait(5), httpx.Response(202, json={"accepted": 0, "duplicates": 0, "rejected": []}))[
        1
    ]
    tg = client(api, buffer_capacity=3, overflow="drop", batch_size=1)
    with caplog.at_level(logging.WARNING, "tollgate.client"):
        for _ in range(10):
            tg.track("api_calls", subject="t1")
    assert tg.stats.dropped == 7 and tg.stats.tracked == 3
    assert caplog.text.count("buffer full") == 1  # rate-limited, not one line per event
    gate.set()
    tg.close()


def test_block_waits_until_the_flusher_makes_room(api):
    gate = threading.Event()

    def slow(request):
        gate.wait(5)
        return httpx.Response(202, json={"accepted": len(json.loads(request.content)), "duplicates": 0, "rejected": []})

    api.default = slow
    tg = client(api, buffer_capacity=2, batch_size=2)
    tg.track("api_calls", subject="t1")
    tg.track("api_calls", subject="t1")
    done = threading.Event()
    threading.Thread(target=lambda: (tg.track("api_calls", subject="t1"), done.set()), daemon=True).start()
    assert not done.wait(0.1)  # blocked: the batch in flight still holds the room
    gate.set()
    assert done.wait(5)
    assert tg.flush(5) and tg.stats.sent == 3 and tg.stats.dropped == 0
    tg.close()


def test_close_flushes_and_track_then_raises(api):
    tg = client(api)
    ids = [tg.track("api_calls", subject="t1") for _ in range(3)]
    tg.close()
    assert api.event_ids() == [ids] and tg.stats.pending == 0
    with pytest.raises(TollgateError):
        tg.track("api_calls")


def test_the_atexit_hook_flushes_open_clients(api):
    tg = client(api)
    ids = [tg.track("api_calls", subject="t1") for _ in range(2)]
    sync_module._close_all()
    assert api.event_ids() == [ids]
    with pytest.raises(TollgateError):
        tg.track("api_calls")


def test_close_s_bound_reports_what_was_not_delivered(api, caplog):
    api.default = httpx.Response(503)
    tg = Tollgate("http://tollgate.test", "k", transport=api.transport, retry_base=0.001, retry_cap=0.002)
    for _ in range(4):
        tg.track("api_calls", subject="t1")
    with caplog.at_level(logging.ERROR, "tollgate.client"):
        tg.close(timeout=0.2)
    assert tg.stats.unsent == 4 and tg.stats.sent == 0
    assert "4 event(s) not delivered" in caplog.text


def test_an_unreadable_answer_is_resent_not_fatal(api, sleep, caplog):
    api.script = [httpx.Response(202, content=b"<html>proxy</html>"), httpx.Response(202, json={"accepted": "x"})]
    tg = client(api, sleep)
    ids = [tg.track("api_calls", subject="t1") for _ in range(2)]
    with caplog.at_level(logging.ERROR, "tollgate.client"):
        assert tg.flush(5)
    assert api.event_ids() == [ids] * 3 and tg.stats.sent == 2
    assert caplog.text.count("unreadable answer") == 2
    tg.close()


def test_the_atexit_hook_shares_one_deadline_between_clients(api, monkeypatch):
    sync_module._close_all()  # other tests' open clients (and their bounds) out of the way
    api.default = httpx.Response(503)
    clients = [
        Tollgate(
            "http://tollgate.test", "k", transport=api.transport, retry_base=0.001, retry_cap=0.002, close_timeout=t
        )
        for t in (0.3, 0.2)
    ]
    for tg in clients:
        tg.track("api_calls", subject="t1")
    bounds = []
    real_close = Tollgate.close
    monkeypatch.setattr(
        Tollgate, "close", lambda self, timeout=None: (bounds.append(timeout), real_close(self, timeout))
    )
    sync_module._close_all()
    assert all(tg.closed and tg.stats.unsent == 1 for tg in clients)
    assert bounds[0] <= 0.3 and bounds[1] < 0.1  # the second waits out what is left, not its own 0.2
    with pytest.raises(ValueError):
        Tollgate("http://tollgate.test", "")


def test_a_500_is_resent_up_to_max_retries_then_reported(api, sleep):
    api.default = problem(500, "internal")
    seen = []
    tg = client(api, sleep, max_retries=2, on_rejected=seen.extend)
    ids = [tg.track("api_calls", subject="t1")]
    assert tg.flush(5)
    assert api.event_ids() == [ids] * 3 and sleep.waits == [0.5, 1.0]
    assert tg.stats.rejected == 1 and [r.status for r in seen] == [500]
    api.script = [problem(500, "internal")]
    api.default = lambda r: httpx.Response(202, json={"accepted": 1, "duplicates": 0, "rejected": []})
    tg.track("api_calls", subject="t1")
    assert tg.flush(5) and tg.stats.sent == 1  # a passing crash costs a resend, not the event
    tg.close()
