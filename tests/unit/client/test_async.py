"""AsyncTollgate: the behaviours whose code differs from the sync client's."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tollgate.client import AsyncTollgate, TollgateError

from .conftest import MaxRandom


class AsyncSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(api, **kw):
    kw.setdefault("flush_interval", 30)
    transport = httpx.MockTransport(api)  # MockTransport is an async transport too
    return AsyncTollgate("http://tollgate.test", "k", transport=transport, rng=MaxRandom(), **kw)


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize(("n", "sizes"), [(999, [999]), (1000, [1000]), (1001, [1000, 1])])
def test_batch_boundaries(api, n, sizes):
    async def go():
        tg = client(api)
        ids = [await tg.track("api_calls", subject="t1") for _ in range(n)]
        assert await tg.flush(5)
        await tg.aclose()
        return ids

    ids = run(go())
    assert [len(b) for b in api.bodies()] == sizes
    assert [e["id"] for b in api.bodies() for e in b] == ids


def test_retries_resend_the_same_ids(api):
    api.script = [httpx.Response(503, headers={"Retry-After": "2"}), httpx.ConnectError("down")]
    sleep = AsyncSleep()

    async def go():
        tg = client(api, sleep=sleep)
        ids = [await tg.track("api_calls", subject="t1") for _ in range(3)]
        assert await tg.flush(5)
        await tg.aclose()
        return ids, tg.stats

    ids, stats = run(go())
    assert api.event_ids() == [ids] * 3 and sleep.waits == [2.0, 1.0]
    assert (stats.sent, stats.retries) == (3, 6)


def test_aclose_flushes_and_track_then_raises(api):
    async def go():
        tg = client(api)
        ids = [await tg.track("api_calls", subject="t1") for _ in range(2)]
        await tg.aclose()
        with pytest.raises(TollgateError):
            await tg.track("api_calls")
        return ids

    ids = run(go())
    assert api.event_ids() == [ids]


def test_consume_decision(api):
    body = {"allowed": False, "reason": "rate_limited", "replayed": False, "limits": []}
    api.script = [httpx.Response(503)]
    api.default = httpx.Response(429, json=body, headers={"Retry-After": "2", "RateLimit": '"api";r=0;t=2'})

    async def go():
        async with client(api, sleep=AsyncSleep()) as tg:
            return await tg.consume("api_calls", tenant="t1")

    d = run(go())
    assert not d.allowed and d.reason == "rate_limited" and d.retry_after == 2
    assert [(m.name, m.remaining, m.reset) for m in d.ratelimit] == [("api", 0, 2)]
    assert len({json.loads(r.content)["id"] for r in api.requests}) == 1 and len(api.requests) == 2


def test_block_awaits_room(api):
    async def go():
        gate = asyncio.Event()
        calls = []

        class Slow(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request):
                await gate.wait()
                calls.append(json.loads(await request.aread()))
                return httpx.Response(202, json={"accepted": len(calls[-1]), "duplicates": 0, "rejected": []})

        tg = AsyncTollgate("http://t.test", "k", transport=Slow(), buffer_capacity=1, batch_size=1, flush_interval=30)
        await tg.track("api_calls", subject="t1")
        blocked = asyncio.create_task(tg.track("api_calls", subject="t1"))
        await asyncio.sleep(0.02)
        assert not blocked.done()
        gate.set()
        await asyncio.wait_for(blocked, 5)
        await tg.aclose()
        return calls, tg.stats

    calls, stats = run(go())
    assert [len(c) for c in calls] == [1, 1] and stats.sent == 2 and stats.dropped == 0


def test_aclose_s_bound_reports_what_was_not_delivered(api, caplog):
    api.default = httpx.Response(503)

    async def go():
        tg = client(api, retry_base=0.001, retry_cap=0.002)
        for _ in range(3):
            await tg.track("api_calls", subject="t1")
        assert not await tg.flush(0.05)
        await tg.aclose(timeout=0.05)
        return tg.stats

    with caplog.at_level("ERROR", "tollgate.client"):
        stats = run(go())
    assert stats.unsent == 3 and stats.sent == 0 and "3 event(s) not delivered" in caplog.text
    assert len(api.requests) > 1  # it kept resending until the bound
