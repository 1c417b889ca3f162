"""UUIDv7 layout, and many threads tracking through one client: every id sent exactly once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import httpx

from tollgate.client import Tollgate, _ids


def test_the_rfc_9562_example_layout():
    # RFC 9562 appendix A.6: unix_ts_ms 0x017F22E279B0, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F
    u = _ids.uuid7_from(0x017F22E279B0, 0xCC3, 0x18C4DC0C0C07398F)
    assert str(u) == "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"
    assert u.version == 7 and u.variant == uuid.RFC_4122


def test_new_ids_are_canonical_version_7_text_in_order():
    ids = [_ids.new_id() for _ in range(2000)]
    parsed = [uuid.UUID(i) for i in ids]
    assert [str(u) for u in parsed] == ids  # new_id formats the text itself: it must be str(UUID)'s
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_ids_stay_ordered_when_a_millisecond_overflows(monkeypatch):
    monkeypatch.setattr(_ids, "_last_ms", 0)
    stamps = [_ids._next_stamp(1_000) for _ in range(5000)]  # more than 4,096 in one millisecond
    assert stamps == sorted(stamps) and len(set(stamps)) == 5000
    assert stamps[-1][0] == 1_001  # borrowed the next millisecond


def test_eight_threads_send_every_event_exactly_once():
    sent: Counter[str] = Counter()
    lock = threading.Lock()
    failures = iter([httpx.Response(503), httpx.ConnectError("down")])

    def handler(request):
        import json

        with lock:
            failure = next(failures, None)
        if isinstance(failure, Exception):
            raise failure
        if failure is not None:
            return failure
        events = json.loads(request.content)
        with lock:
            sent.update(e["id"] for e in events)
        return httpx.Response(202, json={"accepted": len(events), "duplicates": 0, "rejected": []})

    tg = Tollgate(
        "http://tollgate.test", "k", transport=httpx.MockTransport(handler), buffer_capacity=2000, retry_base=0.001
    )
    ids: list[list[str]] = [[] for _ in range(8)]

    def work(n: int) -> None:
        ids[n] = [tg.track("api_calls", subject="t1") for _ in range(2500)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tg.flush(30)
    tracked = [i for chunk in ids for i in chunk]
    assert len(tracked) == 20_000 and set(sent) == set(tracked) and set(sent.values()) == {1}
    assert tg.stats.sent == 20_000 and tg.stats.pending == 0
    tg.close()


def test_a_forked_child_draws_other_random_bits_than_its_parent():
    """Without a reseed the child's generator would repeat the parent's bits: in the same
    millisecond the two would make the same id."""
    import os

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(writer, "".join(_ids.new_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(writer)
    parent = [_ids.new_id() for _ in range(3)]
    os.waitpid(pid, 0)
    child_text = os.read(reader, 4096).decode()
    os.close(reader)
    child = [child_text[i : i + 36] for i in range(0, len(child_text), 36)]
    assert len(child) == 3
    low_bits = lambda ids: {uuid.UUID(i).int & 0x3FFF_FFFF_FFFF_FFFF for i in ids}  # noqa: E731 - rand_b
    assert low_bits(child).isdisjoint(low_bits(parent))
