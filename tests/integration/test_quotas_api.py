"""Plans, overrides, audit, quotas and consume through the real handlers (in-process moto),
routed as API Gateway routes them (POST /v1/consume runs the limits function)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import new_root
from tests.integration.moto_world import fresh_aws, module_aws  # noqa: F401 - fixtures
from tests.integration.routing import RoutedApi
from tests.structured_fields import parse_list

NOW = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture
def clock(monkeypatch):
    from tollgate.services import clock as clock_module

    c = Clock(NOW)
    monkeypatch.setattr(clock_module, "now", c)
    return c


@pytest.fixture
def api(fresh_aws, clock):
    return RoutedApi()


@pytest.fixture
def admin(api):
    from tollgate.domain.keys import Scope

    return new_root().keys.create_key(Scope.ADMIN, name="test-admin")[1]


def tenant_key(tenant: str) -> str:
    from tollgate.domain.keys import Scope

    return new_root().keys.create_key(Scope.TENANT, tenant_id=tenant)[1]


def count_messages(messages: list[tuple[str, str]]):
    """The consumer counting SQS messages (its own execution environment)."""
    return new_root().count_usage.count_messages(messages)


PLAN = {
    "name": "Starter",
    "limits": [
        {"meter": "api_calls", "window": "month", "limit": 5, "enforcement": "hard"},
        {"meter": "api_calls", "window": "minute", "limit": 3, "enforcement": "soft"},
        {"meter": "gb", "window": "day", "limit": 2.5},
    ],
    "api_rate_limit": {"per_second": 5, "burst": 10},
}


@pytest.fixture
def world(api, admin):
    assert api.call("PUT", "/v1/plans/starter", key=admin, body=PLAN).status == 200
    for key, agg in (("api_calls", "count"), ("gb", "sum"), ("peak", "max")):
        r = api.call("POST", "/v1/meters", key=admin, body={"key": key, "name": key, "aggregation": agg})
        assert r.status == 201, r.body
    r = api.call(
        "POST",
        "/v1/tenants",
        key=admin,
        body={"id": "acme", "name": "Acme", "plan": "starter", "timezone": "Europe/Paris"},
    )
    assert r.status == 201, r.body
    assert api.call("POST", "/v1/tenants", key=admin, body={"id": "other", "name": "Other"}).status == 201
    return {"admin": admin, "acme": tenant_key("acme"), "other": tenant_key("other")}


def consume(api, key, **body):
    return api.call("POST", "/v1/consume", key=key, body=body)


def quota(api, key, meter, window, tenant="acme"):
    r = api.call("GET", "/v1/quotas", key=key, query={"tenant": tenant})
    assert r.status == 200, r.body
    return next(q for q in r.body["quotas"] if (q["meter"], q["window"]) == (meter, window))


# ------------------------------------------------------------------ plans and audit
def test_put_plan_round_trips_with_defaults_and_is_audited(api, world, clock):
    admin = world["admin"]
    r = api.call("GET", "/v1/plans/starter", key=admin)
    assert r.status == 200
    limits = {(x["meter"], x["window"]): x for x in r.body["limits"]}
    assert limits[("gb", "day")] == {
        "meter": "gb",
        "window": "day",
        "limit": 2.5,
        "enforcement": "hard",
        "thresholds": [0.8, 1],
    }
    assert r.body["api_rate_limit"] == {"per_second": 5, "burst": 10}
    assert [p["id"] for p in api.call("GET", "/v1/plans", key=admin).body["items"]] == ["starter"]

    clock.advance(seconds=1)
    changed = {**PLAN, "name": "Starter 2", "reason": "rename"}
    assert api.call("PUT", "/v1/plans/starter", key=admin, body=changed).status == 200
    trail = api.call("GET", "/v1/audit", key=admin, query={"plan": "starter"}).body["items"]
    assert [e["action"] for e in trail] == ["plan.put", "plan.put"]
    newest = trail[0]
    assert newest["before"]["name"] == "Starter" and newest["after"]["name"] == "Starter 2"
    assert newest["reason"] == "rename" and newest["actor"].startswith("key_") and newest["plan"] == "starter"
    assert trail[1]["before"] is None


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "x", "limits": [{"meter": "m", "window": "week", "limit": 1}]}, "limits[0].window"),
        ({"name": "x", "limits": [{"meter": "m", "window": "day", "limit": -1}]}, "limits[0].limit"),
        (
            {"name": "x", "limits": [{"meter": "m", "window": "day", "limit": 1, "enforcement": "maybe"}]},
            "limits[0].enforcement",
        ),
        (
            {"name": "x", "limits": [{"meter": "m", "window": "day", "limit": 1, "thresholds": [0]}]},
            "limits[0].thresholds",
        ),
        ({"name": "x", "limits": [{"meter": "m", "window": "day", "limit": 1}] * 2}, "limits"),
        ({"name": "x", "api_rate_limit": {"per_second": 0, "burst": 1}}, "api_rate_limit.per_second"),
        ({"name": "x", "limits": [], "extra": 1}, "extra"),
    ],
)
def test_a_bad_plan_is_422_naming_the_field(api, world, body, field):
    r = api.call("PUT", "/v1/plans/bad", key=world["admin"], body=body)
    assert r.status == 422, r.body
    assert field in [e["field"] for e in r.problem["errors"]], r.problem


def test_a_plan_change_needs_a_reason_and_an_existing_plan(api, world, clock):
    admin = world["admin"]
    r = api.call("PATCH", "/v1/tenants/acme", key=admin, body={"plan": "starter"})
    assert r.status == 422 and [e["field"] for e in r.problem["errors"]] == ["reason"]
    r = api.call("PATCH", "/v1/tenants/acme", key=admin, body={"plan": "nope", "reason": "upgrade"})
    assert r.status == 422 and [e["field"] for e in r.problem["errors"]] == ["plan"]
    r = api.call("PATCH", "/v1/tenants/acme", key=admin, body={"reason": "only a reason"})
    assert r.status == 422

    assert api.call("PUT", "/v1/plans/pro", key=admin, body={**PLAN, "name": "Pro"}).status == 200
    clock.advance(seconds=1)
    r = api.call("PATCH", "/v1/tenants/acme", key=admin, body={"plan": "pro", "reason": "upgrade"})
    assert r.status == 200 and r.body["plan"] == "pro"
    trail = api.call("GET", "/v1/audit", key=admin, query={"tenant": "acme"}).body["items"]
    assert [(e["action"], e["before"], e["after"], e["reason"]) for e in trail] == [
        ("tenant.plan", {"plan": "starter"}, {"plan": "pro"}, "upgrade"),
        ("tenant.create", None, {"plan": "starter"}, "tenant created"),
    ]
    # a tenant key reads its own trail, and nobody else's
    own = api.call("GET", "/v1/audit", key=world["acme"])
    assert own.status == 200 and len(own.body["items"]) == 2
    assert api.call("GET", "/v1/audit", key=world["other"], query={"tenant": "acme"}).status == 404
    assert api.call("GET", "/v1/audit", key=world["acme"], query={"plan": "pro"}).status == 403


def test_audit_pages_newest_first(api, world, clock):
    admin = world["admin"]
    for i in range(5):
        clock.advance(seconds=1)
        body = {"limits": [{"meter": "api_calls", "window": "day", "limit": 100 + i}], "reason": f"r{i}"}
        assert api.call("PUT", "/v1/tenants/acme/limits", key=admin, body=body).status == 200
    seen, cursor = [], None
    while True:
        query = {"tenant": "acme", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/v1/audit", key=admin, query=query).body
        seen += [e["reason"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["r4", "r3", "r2", "r1", "r0", "tenant created"]
    bad = api.call("GET", "/v1/audit", key=admin, query={"tenant": "other", "cursor": cursor or "x"})
    assert bad.status == 422


def test_overrides_replace_the_plan_limit_for_that_meter_and_window(api, world, clock):
    admin = world["admin"]
    clock.advance(seconds=1)
    body = {
        "limits": [
            {"meter": "api_calls", "window": "month", "limit": 2},
            {"meter": "api_calls", "window": "hour", "limit": 50, "enforcement": "soft"},
        ],
        "reason": "trial",
    }
    r = api.call("PUT", "/v1/tenants/acme/limits", key=admin, body=body)
    assert r.status == 200, r.body
    effective = {(e["meter"], e["window"]): (e["limit"], e["source"]) for e in r.body["effective"]}
    assert effective == {
        ("api_calls", "minute"): (3, "plan"),
        ("api_calls", "hour"): (50, "override"),
        ("api_calls", "month"): (2, "override"),
        ("gb", "day"): (2.5, "plan"),
    }
    assert r.body["api_rate_limit"] == {"per_second": 5, "burst": 10}
    key = world["acme"]
    assert api.call("GET", "/v1/tenants/acme/limits", key=key).body == r.body
    assert api.call("GET", "/v1/tenants/other/limits", key=key).status == 404
    assert [consume(api, key, id=f"o{i}", meter="api_calls").status for i in range(3)] == [200, 200, 429]
    trail = api.call("GET", "/v1/audit", key=admin, query={"tenant": "acme"}).body["items"]
    assert trail[0]["action"] == "tenant.limits" and trail[0]["before"] == [] and len(trail[0]["after"]) == 2


# ------------------------------------------------------------------ consume
def test_consume_admits_up_to_a_hard_limit_then_429_with_headers(api, world):
    key = world["acme"]
    for i in range(5):
        r = consume(api, key, id=f"e{i}", meter="api_calls")
        assert r.status == 200 and r.body["allowed"] is True, r.body
    month = next(x for x in r.body["limits"] if x["window"] == "month")
    assert (month["used"], month["remaining"], month["exceeded"]) == (5, 0, False)
    assert month["resets_at"] == "2026-12-01T00:00:00+01:00"

    denied = consume(api, key, id="e5", meter="api_calls")
    assert denied.status == 429 and denied.headers["Content-Type"] == "application/json"
    assert denied.body["allowed"] is False and denied.body["reason"] == "quota_exceeded"
    blocking = [x for x in denied.body["limits"] if x["exceeded"]]
    assert [(x["window"], x["used"]) for x in blocking] == [("month", 5)]
    # Retry-After: until the Paris month ends (2026-12-01T00:00+01:00 = 2026-11-30T23:00Z)
    assert int(denied.headers["Retry-After"]) == int((datetime(2026, 11, 30, 23, tzinfo=UTC) - NOW).total_seconds())
    policies = dict(parse_list(denied.headers["RateLimit-Policy"]))
    current = dict(parse_list(denied.headers["RateLimit"]))
    assert policies["api_calls.month"] == {"q": 5, "w": 30 * 86400}
    assert current["api_calls.month"] == {"r": 0, "t": int(denied.headers["Retry-After"])}
    assert policies["api_calls.minute"] == {"q": 3, "w": 60}

    q = quota(api, key, "api_calls", "month")
    assert (q["used"], q["remaining"], q["status"], q["percent"]) == (5, 0, "critical", 100.0)


def test_a_soft_limit_admits_and_flags(api, world):
    key = world["acme"]
    bodies = [consume(api, key, id=f"s{i}", meter="api_calls").body for i in range(4)]
    minute = [next(x for x in b["limits"] if x["window"] == "minute") for b in bodies]
    assert all(b["allowed"] for b in bodies)
    assert [(m["used"], m["exceeded"]) for m in minute] == [(1, False), (2, False), (3, False), (4, True)]


def test_the_same_id_counts_once_and_returns_the_original_decision(api, world):
    key = world["acme"]
    first = consume(api, key, id="dup", meter="api_calls", amount=2)
    again = consume(api, key, id="dup", meter="api_calls", amount=2)
    assert first.status == again.status == 200
    assert again.body["replayed"] is True and first.body["replayed"] is False
    assert again.body["limits"] == first.body["limits"]
    assert quota(api, key, "api_calls", "month")["used"] == 2
    # a denial is remembered too, even once capacity would allow it
    assert consume(api, key, id="big", meter="api_calls", amount=4).status == 429
    assert consume(api, key, id="small", meter="api_calls", amount=3).status == 200
    assert consume(api, key, id="big", meter="api_calls", amount=4).body["replayed"] is True


def test_an_id_already_counted_as_an_event_is_not_counted_again(api, world):
    """The consumer's dedupe marker for an event id makes consume answer "allowed" and count
    nothing; a consumed id makes the consumer skip the event."""
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.wire.usage_message import encode

    def message(event_id: str) -> str:
        return encode(
            UsageMessage(
                tenant="acme",
                timezone="Europe/Paris",
                meters={"api_calls": MeterSpec("api_calls", Aggregation.COUNT)},
                events=[UsageEvent(id=event_id, meter="api_calls", time=format_time(NOW), value="1")],
            )
        )

    assert count_messages([("sqs-1", message("ev-1"))]).counted == 1
    key = world["acme"]
    r = consume(api, key, id="ev-1", meter="api_calls")
    assert r.status == 200 and r.body["replayed"] is True
    assert quota(api, key, "api_calls", "month")["used"] == 1

    assert consume(api, key, id="ev-2", meter="api_calls").status == 200
    outcome = count_messages([("sqs-2", message("ev-2"))])
    assert outcome.counted == 0 and outcome.duplicates == 1
    assert quota(api, key, "api_calls", "month")["used"] == 2


def test_consume_writes_every_window_the_consumer_keeps(api, world):
    from tollgate.adapters.models import CounterModel

    assert consume(api, world["acme"], id="w", meter="gb", amount=1.25).status == 200
    items = {(i.pk, i.sk): i for i in CounterModel.scan()}
    # Paris: 10:00Z is 11:00 local; the day starts at 2026-11-19T23:00Z, the month at 2026-10-31T23:00Z
    assert {k: i.value for k, i in items.items()} == {
        ("T#acme#gb#minute", "2026-11-20T10:00:00Z"): Decimal("1.25"),
        ("T#acme#gb#hour", "2026-11-20T10:00:00Z"): Decimal("1.25"),
        ("T#acme#gb#day", "2026-11-19T23:00:00Z"): Decimal("1.25"),
        ("T#acme#gb#month", "2026-10-31T23:00:00Z"): Decimal("1.25"),
        ("T#acme#gb#lifetime", "lifetime"): Decimal("1.25"),
    }
    assert items[("T#acme#gb#minute", "2026-11-20T10:00:00Z")].expires_at is not None


def test_amount_zero_checks_without_writing_or_needing_an_id(api, world):
    from tollgate.adapters.models import CounterModel, EventLedgerModel

    key = world["acme"]
    assert consume(api, key, meter="gb", amount=0).status == 200
    assert consume(api, key, id="fill", meter="gb", amount=2.5).status == 200

    def snapshot():
        return sorted((i.pk, i.sk, i.value) for i in CounterModel.scan()), sorted(
            (i.pk, i.sk) for i in EventLedgerModel.scan()
        )

    before = snapshot()
    r = consume(api, key, meter="gb", amount=0)
    assert r.status == 429 and r.body["reason"] == "quota_exceeded"
    assert snapshot() == before


def test_an_amount_over_the_whole_limit_is_429_at_once_and_writes_nothing(api, world):
    from tollgate.adapters.models import CounterModel, EventLedgerModel

    r = consume(api, world["acme"], id="huge", meter="gb", amount=3)
    assert r.status == 429 and r.body["reason"] == "quota_exceeded" and "Retry-After" in r.headers
    assert [*CounterModel.scan()] == [] and [*EventLedgerModel.scan()] == []


@pytest.mark.parametrize(
    "body,field",
    [
        ({"id": "x", "meter": "api_calls", "amount": -1}, "amount"),
        ({"id": "x", "meter": "api_calls", "amount": 1.5}, "amount"),
        ({"id": "x", "meter": "gb", "amount": 1e31}, "amount"),
        ({"id": "x", "meter": "gb", "amount": "1"}, "amount"),
        ({"id": "x", "meter": "gb", "amount": True}, "amount"),
        ({"id": "x", "meter": "peak", "amount": 1}, "amount"),
        ({"meter": "gb", "amount": 1}, "id"),
        ({"id": "x", "meter": "gb", "time": "2026-01-01T00:00:00Z"}, "time"),
        ({"id": "x", "meter": "gb", "time": "2026-11-20T10:00:00"}, "time"),
    ],
)
def test_a_bad_amount_is_422_naming_the_field(api, world, body, field):
    r = consume(api, world["acme"], **body)
    assert r.status == 422, r.body
    assert [e["field"] for e in r.problem["errors"]] == [field], r.problem


def test_nan_and_infinity_are_422_not_400(api, world):
    for literal in ("NaN", "Infinity", "1e999"):
        r = api.call(
            "POST", "/v1/consume", key=world["acme"], body=f'{{"id": "n", "meter": "gb", "amount": {literal}}}'
        )
        assert r.status == 422 and r.problem["errors"][0]["field"] == "amount", (literal, r.body)
    assert api.call("POST", "/v1/consume", key=world["acme"], body='{"id": ').status == 400


def test_unknown_meter_or_tenant_is_404(api, world):
    assert consume(api, world["acme"], id="x", meter="nope").status == 404
    assert consume(api, world["admin"], id="x", meter="gb", tenant="ghost").status == 404
    assert consume(api, world["acme"], id="x", meter="gb", tenant="other").status == 404
    assert consume(api, world["admin"], id="x", meter="gb").status == 422  # an admin key names the tenant


def test_a_tenant_without_limits_is_always_allowed_and_counted(api, world):
    r = consume(api, world["other"], id="free", meter="api_calls", amount=7)
    assert r.status == 200 and r.body == {"allowed": True, "reason": None, "replayed": False, "limits": []}
    assert "RateLimit" not in r.headers
    assert api.call("GET", "/v1/quotas", key=world["other"]).body == {
        "tenant": "other",
        "timezone": "UTC",
        "quotas": [],
    }


def test_quotas_count_events_and_consumes_and_follow_the_zone(api, world, clock):
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.wire.usage_message import encode

    key = world["acme"]
    body = encode(
        UsageMessage(
            tenant="acme",
            timezone="Europe/Paris",
            meters={"gb": MeterSpec("gb", Aggregation.SUM)},
            events=[UsageEvent(id="e", meter="gb", time=format_time(NOW), value="1.5")],
        )
    )
    count_messages([("m1", body)])
    consume(api, key, id="c", meter="gb", amount=0.75)
    q = quota(api, key, "gb", "day")
    assert (q["used"], q["remaining"], q["percent"], q["status"]) == (2.25, 0.25, 90.0, "warning")
    assert q["resets_at"] == "2026-11-21T00:00:00+01:00"
    # at 23:00Z it is midnight in Paris: a new day, nothing used
    clock.at = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    q = quota(api, key, "gb", "day")
    assert (q["used"], q["status"], q["resets_at"]) == (0, "healthy", "2026-11-22T00:00:00+01:00")


# ------------------------------------------------------------------ API rate limits
def test_a_noisy_tenant_is_rate_limited_and_its_neighbour_is_not(api, world, clock):
    """acme's plan allows 5 requests/s with a burst of 10; the clock stands still."""
    noisy, calm = world["acme"], world["other"]
    statuses = [api.call("GET", "/v1/tenants/acme", key=noisy).status for _ in range(30)]
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}
    limited = api.call("GET", "/v1/tenants/acme", key=noisy)
    assert limited.problem["type"] == "/problems/rate-limited"
    retry = int(limited.headers["Retry-After"])
    assert retry == 1
    assert dict(parse_list(limited.headers["RateLimit-Policy"])) == {"api": {"q": 10, "w": 2}}
    assert dict(parse_list(limited.headers["RateLimit"]))["api"]["r"] == 0
    # the neighbour, the admin and another route are unaffected
    assert [api.call("GET", "/v1/tenants/other", key=calm).status for _ in range(10)] == [200] * 10
    assert api.call("GET", "/v1/plans", key=world["admin"]).status == 200
    # consume says "rate_limited" in its own decision shape
    r = consume(api, noisy, id="rl", meter="api_calls")
    assert r.status == 429 and r.body["reason"] == "rate_limited" and r.headers["Retry-After"] == "1"
    # after a second the bucket has refilled by per_second tokens
    clock.advance(seconds=1)
    statuses = [api.call("GET", "/v1/tenants/acme", key=noisy).status for _ in range(10)]
    assert statuses.count(200) == 5, statuses


def test_rate_limiting_happens_after_authentication_and_before_validation(api, world):
    assert api.call("GET", "/v1/tenants/acme").status == 401
    for _ in range(10):
        api.call("GET", "/v1/tenants/acme", key=world["acme"])
    r = api.call("POST", "/v1/consume", key=world["acme"], body="not json")
    assert r.status == 429  # the limit answers before the body is looked at


def test_without_a_bucket_table_the_limiter_is_off(world, monkeypatch):
    monkeypatch.delenv("RATE_LIMITS_TABLE")
    api = RoutedApi()  # new execution environments, started without the variable
    assert {api.call("GET", "/v1/tenants/acme", key=world["acme"]).status for _ in range(15)} == {200}


def test_the_limiter_fails_open_when_its_table_is_unreachable(world, monkeypatch):
    monkeypatch.setenv("RATE_LIMITS_TABLE", "no-such-table")
    api = RoutedApi()  # new execution environments, started with the unreachable table
    assert {api.call("GET", "/v1/tenants/acme", key=world["acme"]).status for _ in range(15)} == {200}


def test_a_plan_change_resizes_the_tenants_bucket(api, world, clock):
    admin = world["admin"]
    fast = {**PLAN, "name": "Fast", "api_rate_limit": {"per_second": 100, "burst": 40}}
    assert api.call("PUT", "/v1/plans/fast", key=admin, body=fast).status == 200
    assert api.call("PATCH", "/v1/tenants/acme", key=admin, body={"plan": "fast", "reason": "load test"}).status == 200
    clock.advance(seconds=10)
    statuses = [api.call("GET", "/v1/tenants/acme", key=world["acme"]).status for _ in range(60)]
    # burst 40 less the slack (5 % of a bucket over 0.4 s: 2 tokens)
    assert statuses == [200] * 38 + [429] * 22


# ------------------------------------------------------------------ the default catalog
def test_seed_default_catalog_is_idempotent_and_keeps_operator_plans(api, admin):
    seed_default_catalog = new_root().plans.seed_default_catalog

    mine = {"name": "My free", "limits": [{"meter": "api_calls", "window": "month", "limit": 1}]}
    assert api.call("PUT", "/v1/plans/free", key=admin, body=mine).status == 200
    assert seed_default_catalog() == ["basic", "premium", "enterprise"]
    assert seed_default_catalog() == []
    plans = {p["id"]: p for p in api.call("GET", "/v1/plans", key=admin).body["items"]}
    assert plans["free"]["name"] == "My free"
    month = {pid: next(x["limit"] for x in p["limits"] if x["window"] == "month") for pid, p in plans.items()}
    assert month == {"free": 1, "basic": 50_000, "premium": 200_000, "enterprise": 1_000_000}
    assert plans["premium"]["api_rate_limit"] == {"per_second": 200, "burst": 400}
    trail = api.call("GET", "/v1/audit", key=admin, query={"plan": "basic"}).body["items"]
    assert [(e["actor"], e["reason"]) for e in trail] == [("system", "default catalog")]


# ------------------------------------------------------------------ cost per decision
@pytest.fixture
def dynamo_calls(api):
    """The DynamoDB operations the consume path makes (the limits function's low-level client;
    the rate limiter's lease writes on it are left out)."""
    import os

    calls: list[str] = []
    client = api.root_of("LimitsFunction").dynamodb

    def record(model, params, **kwargs):
        if params.get("TableName") != os.environ["RATE_LIMITS_TABLE"]:
            calls.append(model.name)

    client.meta.events.register("before-parameter-build.dynamodb.*", record)
    yield calls
    client.meta.events.unregister("before-parameter-build.dynamodb.*", record)


def test_a_warm_instance_decides_in_one_request_with_exact_numbers(api, world, dynamo_calls):
    from tollgate.domain.meters import Aggregation, MeterSpec
    from tollgate.domain.times import format_time
    from tollgate.domain.usage import UsageEvent, UsageMessage
    from tollgate.wire.usage_message import encode

    key = world["acme"]
    assert consume(api, key, id="w0", meter="gb", amount=0.5).status == 200  # cold: read, then write
    assert dynamo_calls == ["BatchGetItem", "TransactWriteItems"]
    dynamo_calls.clear()
    r = consume(api, key, id="w1", meter="gb", amount=0.5)
    assert dynamo_calls == ["TransactWriteItems"]  # warm: one request, and used is exact
    assert r.body["limits"][0]["used"] == 1.0

    # another writer (an event, through the consumer) changes the counter: the bet is lost,
    # the decision reads and still counts right
    message = encode(
        UsageMessage(
            tenant="acme",
            timezone="Europe/Paris",
            meters={"gb": MeterSpec("gb", Aggregation.SUM)},
            events=[UsageEvent(id="ev", meter="gb", time=format_time(NOW), value="0.25")],
        )
    )
    count_messages([("m-ev", message)])
    dynamo_calls.clear()
    r = consume(api, key, id="w2", meter="gb", amount=0.5)
    assert r.status == 200 and r.body["limits"][0]["used"] == 1.75
    assert dynamo_calls == ["TransactWriteItems", "BatchGetItem", "TransactWriteItems"]

    # the limit (2.5) is now known to be too full for 1.0: denied with one write, the marker
    dynamo_calls.clear()
    r = consume(api, key, id="w3", meter="gb", amount=1)
    assert r.status == 429 and dynamo_calls == ["PutItem"]
    assert consume(api, key, id="w3", meter="gb", amount=1).body["replayed"] is True  # the denial stands
    assert quota(api, key, "gb", "day")["used"] == 1.75


def test_a_meter_without_limits_costs_one_request(api, world, dynamo_calls):
    for i in range(3):
        assert consume(api, world["other"], id=f"n{i}", meter="api_calls").status == 200
    assert dynamo_calls == ["TransactWriteItems"] * 3
