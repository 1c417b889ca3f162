"""Fork safety with a real os.fork(): the child sends only its own events, the parent its own once."""

from __future__ import annotations

import json
import os
import sys
import threading

import httpx
import pytest

from tollgate.client import Tollgate

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_the_child_does_not_resend_the_parent_s_buffer(api):
    gate = threading.Event()
    sent_ids: list[str] = []

    def record(request):
        gate.wait(5)  # the parent's flusher holds its batch (and may hold locks) across the fork
        events = json.loads(request.content)
        sent_ids.extend(e["id"] for e in events)
        return httpx.Response(202, json={"accepted": len(events), "duplicates": 0, "rejected": []})

    api.default = record
    tg = Tollgate("http://tollgate.test", "k", transport=api.transport, flush_interval=0.01)
    parent_ids = [tg.track("api_calls", subject="parent") for _ in range(3)]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read)
            gate.set()  # the child's own copy: its requests go straight through
            child_id = tg.track("api_calls", subject="child")
            ok = tg.flush(5)
            out = {"ok": ok, "child_id": child_id, "sent": sent_ids, "stats": tg.stats.sent}
            os.write(write, json.dumps(out).encode())
            code = 0
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write)
    gate.set()
    with os.fdopen(read) as f:
        child = json.loads(f.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child["ok"] and child["sent"] == [child["child_id"]] and child["stats"] == 1
    assert tg.flush(5)
    assert sent_ids == parent_ids  # the parent's own, exactly once, and never the child's
    tg.close()
