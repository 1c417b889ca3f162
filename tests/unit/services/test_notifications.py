"""NotificationService on the fake alert store: newest first, the filters, the unread count,
and mark-read's idempotence and tenant rule. (Which tenant a key may name is the route's rule:
tests/integration/test_notifications_api.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alert_docs import alert_doc
from tests.fakes.world import World
from tollgate.domain.alerts import AlertType
from tollgate.domain.errors import NotFound, ValidationFailed
from tollgate.services.notifications import NOTIFICATION_TYPES

from .conftest import fields_of


@pytest.fixture
def world() -> World:
    w = World()
    t0 = w.clock.now()
    store = w.stores.alert_store
    # acme: three alerts an hour apart (the last an over_limit); beta: one in between.
    for i, (tenant, threshold) in enumerate([("acme", "0.8"), ("beta", "0.8"), ("acme", "1"), ("acme", None)]):
        doc = alert_doc(tenant, t0 + timedelta(minutes=30 * i), threshold=threshold, meter=f"m{i}")
        assert store.acquire(doc, t0, 30) == set()
    return w


def ids(page) -> list[tuple[str, str]]:
    return [(d["tenant_id"], d["meter"]) for d in page.items]


def test_the_one_list_of_alert_types():
    assert NOTIFICATION_TYPES == (
        "usage.threshold_reached",
        "billing.over_limit",
        "system.counter_drift",
        "invoice.ready",
        "invoice.overdue",
        "invoice.reminder",
        "report.ready",
    )
    assert AlertType("system.counter_drift") is AlertType.SYSTEM_COUNTER_DRIFT


def test_newest_first_per_tenant_and_for_all(world: World):
    n = world.notifications
    assert ids(n.list("acme", unread=None, type_=None, limit=50, cursor=None)) == [
        ("acme", "m3"),
        ("acme", "m2"),
        ("acme", "m0"),
    ]
    everyone = n.list(None, unread=None, type_=None, limit=50, cursor=None)
    assert ids(everyone) == [("acme", "m3"), ("acme", "m2"), ("beta", "m1"), ("acme", "m0")]
    assert all(d["read_at"] is None for d in everyone.items)
    assert everyone.next_cursor is None


def test_pages_follow_the_cursor(world: World):
    n = world.notifications
    first = n.list(None, unread=None, type_=None, limit=3, cursor=None)
    assert first.next_cursor is not None
    rest = n.list(None, unread=None, type_=None, limit=3, cursor=first.next_cursor)
    assert ids(first) + ids(rest) == [("acme", "m3"), ("acme", "m2"), ("beta", "m1"), ("acme", "m0")]
    assert rest.next_cursor is None
    acme_cursor = n.list("acme", unread=None, type_=None, limit=1, cursor=None).next_cursor
    for foreign in (acme_cursor, "garbage"):
        with pytest.raises(ValueError):
            n.list("beta", unread=None, type_=None, limit=3, cursor=foreign)


def test_type_filter_and_its_validation(world: World):
    n = world.notifications
    over = n.list("acme", unread=None, type_="billing.over_limit", limit=50, cursor=None)
    assert ids(over) == [("acme", "m3")] and over.items[0]["overage"] == -20  # used 80 of 100: a test doc
    assert n.list(None, unread=None, type_="system.counter_drift", limit=50, cursor=None).items == []
    with pytest.raises(ValidationFailed) as exc:
        n.list(None, unread=None, type_="usage.nope", limit=50, cursor=None)
    assert fields_of(exc.value) == ["type"]
    for bad in (0, 101):
        with pytest.raises(ValidationFailed) as exc:
            n.list(None, unread=None, type_=None, limit=bad, cursor=None)
        assert fields_of(exc.value) == ["limit"]


def test_mark_read_is_idempotent_and_moves_the_unread_state(world: World):
    n = world.notifications
    [newest, *_] = n.list("acme", unread=None, type_=None, limit=1, cursor=None).items
    assert n.unread_count("acme") == 3 and n.unread_count(None) == 4

    first = n.mark_read(newest["id"], "acme")
    assert first["read_at"] == world.clock.now().isoformat() and first["id"] == newest["id"]
    world.clock.advance(minutes=5)
    again = n.mark_read(newest["id"], "acme")
    assert again == first  # the same read_at: the second call changes nothing

    assert n.unread_count("acme") == 2 and n.unread_count("beta") == 1 and n.unread_count(None) == 3
    assert [d["id"] for d in n.list("acme", unread=False, type_=None, limit=50, cursor=None).items] == [newest["id"]]
    assert newest["id"] not in [d["id"] for d in n.list("acme", unread=True, type_=None, limit=50, cursor=None).items]


def test_another_tenants_or_an_unknown_id_is_not_found(world: World):
    n = world.notifications
    [beta] = n.list("beta", unread=None, type_=None, limit=50, cursor=None).items
    for notification_id, tenant in ((beta["id"], "acme"), ("al_" + "0" * 32, "acme"), ("al_" + "0" * 32, None)):
        with pytest.raises(NotFound):
            n.mark_read(notification_id, tenant)
    assert n.unread_count("beta") == 1  # acme's attempt left it unread
    assert n.mark_read(beta["id"], None)["read_at"] is not None  # an admin (no tenant) may mark any
