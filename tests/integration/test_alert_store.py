"""One contract for the AlertStore port: the in-memory fake (tests/fakes/alerts.py) and the
DynamoDB adapter on the template's notifications table (indexes, conditions, TTL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import new_root
from tests.fakes.alerts import FakeAlertStore
from tollgate.domain.alerts import AlertType, Trigger, alert_document
from tollgate.domain.periods import Window, zone
from tollgate.domain.plans import Limit

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "aws"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeAlertStore()
        return
    request.getfixturevalue("aws")
    yield new_root().alert_store


def doc(tenant: str, n: int, type_: AlertType = AlertType.THRESHOLD_REACHED) -> dict[str, Any]:
    limit = Limit("calls", Window.DAY, Decimal(100 + n))
    trigger = Trigger(type_, Decimal("0.8") if type_ is AlertType.THRESHOLD_REACHED else None)
    return alert_document(
        tenant=tenant,
        limit=limit,
        window_key="2026-11-20T00:00:00Z",
        trigger=trigger,
        used=Decimal(90 + n),
        tz=zone("Europe/Paris"),
        occurred_at=T0 + timedelta(minutes=n),
    )


def test_the_first_acquire_stores_and_leases_and_a_second_gets_nothing_until_the_lease_runs_out(store):
    d = doc("acme", 1)
    assert store.acquire(d, T0, 30) == set()
    assert store.acquire(d, T0 + timedelta(seconds=10), 30) is None
    assert store.unpublished(T0 - timedelta(hours=1), T0 + timedelta(seconds=10)) == []
    store.mark_sent(d["id"], "ops")
    later = T0 + timedelta(seconds=31)
    assert store.unpublished(T0 - timedelta(hours=1), later) == [d]
    assert store.acquire(d, later, 30) == {"ops"}  # stranded: re-leased, with what was sent
    store.mark_published(d["id"], later)
    assert store.acquire(d, T0 + timedelta(hours=1), 30) is None
    assert store.unpublished(T0 - timedelta(hours=1), T0 + timedelta(hours=1)) == []
    assert store.known([d["id"], "al_missing"]) == {d["id"]}


def test_a_released_lease_can_be_taken_at_once(store):
    d = doc("acme", 2)
    assert store.acquire(d, T0, 30) == set()
    store.release(d["id"])
    assert store.acquire(d, T0 + timedelta(seconds=1), 30) == set()


def _seed(store: Any) -> list[dict[str, Any]]:
    docs = [doc("acme", n) for n in range(5)] + [doc("globex", 10), doc("acme", 20, AlertType.OVER_LIMIT)]
    for d in docs:
        store.acquire(d, T0, 30)
    return docs


def test_notifications_list_newest_first_by_page_and_filter(store):
    docs = _seed(store)
    acme = [
        d["id"]
        for d in sorted((d for d in docs if d["tenant_id"] == "acme"), key=lambda d: d["occurred_at"], reverse=True)
    ]
    seen, cursor = [], None
    while True:
        page = store.list("acme", unread=None, type_=None, limit=2, cursor=cursor)
        seen += [item["id"] for item in page.items]
        assert all(item["read_at"] is None for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == acme
    everyone = store.list(None, unread=None, type_=None, limit=50, cursor=None).items
    assert [i["id"] for i in everyone][:2] == [docs[-1]["id"], docs[5]["id"]] and len(everyone) == 7
    over = store.list("acme", unread=None, type_="billing.over_limit", limit=50, cursor=None).items
    assert [i["id"] for i in over] == [docs[-1]["id"]]
    with pytest.raises(ValueError):
        store.list(
            "globex",
            unread=None,
            type_=None,
            limit=2,
            cursor=store.list("acme", unread=None, type_=None, limit=2, cursor=None).next_cursor,
        )


def test_read_state_unread_lists_and_counts(store):
    docs = _seed(store)
    assert (store.unread_count("acme"), store.unread_count("globex"), store.unread_count(None)) == (6, 1, 7)
    first = store.mark_read(docs[0]["id"], "acme", T0 + timedelta(hours=1))
    assert first is not None and first["read_at"] is not None and first["id"] == docs[0]["id"]
    again = store.mark_read(docs[0]["id"], "acme", T0 + timedelta(hours=2))
    assert again == first  # idempotent: the first read_at stays
    assert store.mark_read(docs[0]["id"], "globex", T0) is None  # another tenant's: not found
    assert store.mark_read("al_nope", None, T0) is None
    assert (store.unread_count("acme"), store.unread_count(None)) == (5, 6)
    unread = store.list("acme", unread=True, type_=None, limit=50, cursor=None).items
    read = store.list("acme", unread=False, type_=None, limit=50, cursor=None).items
    assert docs[0]["id"] not in [i["id"] for i in unread] and len(unread) == 5
    assert [i["id"] for i in read] == [docs[0]["id"]]
    assert len(store.list(None, unread=True, type_=None, limit=50, cursor=None).items) == 6
