"""The alert rule (tollgate.domain.alerts): edges, levels, identity and the document. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tollgate.domain.alerts import (
    AlertType,
    Trigger,
    alert_document,
    alert_id,
    counter_window,
    crossings,
    overage_cost,
    standing,
    subject,
)
from tollgate.domain.periods import Window, utc_key, window_start, zone
from tollgate.domain.plans import Enforcement, Limit, Plan
from tollgate.domain.pricing import Charge, Model

LIMIT = Limit("calls", Window.MONTH, Decimal(100), thresholds=(Decimal("0.5"), Decimal("0.8"), Decimal("1.0")))
OVER = Trigger(AlertType.OVER_LIMIT, None)


def t(x: str) -> Trigger:
    return Trigger(AlertType.THRESHOLD_REACHED, Decimal(x))


@pytest.mark.parametrize(
    ("old", "new", "fired"),
    [
        (0, 49, []),
        (49, 50, [t("0.5")]),
        (50, 85, [t("0.8")]),
        (85, 100, [t("1.0")]),
        (100, 101, [OVER]),
        (85, 101, [t("1.0"), OVER]),
        (0, 250, [t("0.5"), t("0.8"), t("1.0"), OVER]),
        (60, 60, []),
        (90, 10, []),
        (101, 300, []),
    ],
)
def test_a_change_fires_exactly_the_edges_it_crosses(old, new, fired):
    assert crossings(LIMIT, Decimal(old), Decimal(new)) == fired


def test_fractional_usage_and_thresholds_compare_exactly():
    lim = Limit("gb", Window.DAY, Decimal("0.3"), thresholds=(Decimal("0.1"),))
    assert crossings(lim, Decimal("0.02"), Decimal("0.03")) == [t("0.1")]
    assert crossings(lim, Decimal("0.03"), Decimal("0.3")) == []
    assert crossings(lim, Decimal("0.3"), Decimal("0.30000001")) == [OVER]


def test_the_level_rule_lists_what_a_value_has_reached():
    assert standing(LIMIT, Decimal(0)) == []
    assert standing(LIMIT, Decimal(85)) == [t("0.5"), t("0.8")]
    assert standing(LIMIT, Decimal(100)) == [t("0.5"), t("0.8"), t("1.0")]
    assert standing(LIMIT, Decimal(101))[-1] == OVER


def test_severity_is_warning_below_one_and_critical_from_one_and_over():
    assert t("0.8").severity.value == "warning"
    assert t("1.0").severity.value == "critical" and t("1.2").severity.value == "critical"
    assert OVER.severity.value == "critical"


def test_the_id_names_the_crossing_and_nothing_else():
    base = alert_id("acme", LIMIT, "2026-11-01T00:00:00Z", t("0.8"))
    assert base.startswith("al_") and len(base) == 35
    same_limit_other_spelling = Limit("calls", Window.MONTH, Decimal("100.0"), thresholds=LIMIT.thresholds)
    assert alert_id("acme", same_limit_other_spelling, "2026-11-01T00:00:00Z", t("0.80")) == base
    others = {
        alert_id("acme", LIMIT, "2026-12-01T00:00:00Z", t("0.8")),  # a new window re-arms
        alert_id("acme", Limit("calls", Window.MONTH, Decimal(200)), "2026-11-01T00:00:00Z", t("0.8")),  # a new limit
        alert_id("acme", LIMIT, "2026-11-01T00:00:00Z", t("1.0")),
        alert_id("acme", LIMIT, "2026-11-01T00:00:00Z", OVER),
        alert_id("acme2", LIMIT, "2026-11-01T00:00:00Z", t("0.8")),
        alert_id("acme", Limit("calls", Window.DAY, Decimal(100)), "2026-11-01T00:00:00Z", t("0.8")),
    }
    assert base not in others and len(others) == 6


def test_a_counter_key_reads_back_as_its_window():
    w = counter_window("T#acme#calls#month", "2026-10-31T23:00:00Z")
    assert w is not None and (w.tenant, w.meter, w.window, w.window_key) == (
        "acme",
        "calls",
        Window.MONTH,
        "2026-10-31T23:00:00Z",
    )
    assert counter_window("T#acme#calls#lifetime", "lifetime").window is Window.LIFETIME  # type: ignore[union-attr]
    assert counter_window("G#acme#calls#day#model", "2026-11-01T00:00:00Z#gpt") is None
    assert counter_window("T#acme#calls#fortnight", "x") is None
    assert counter_window("OPS#quarantined", "2026-11-01") is None


def test_the_document_has_the_windows_bounds_in_the_tenants_offset_and_the_overage():
    tz = zone("Europe/Paris")
    start = window_start(datetime(2026, 11, 20, tzinfo=UTC), Window.MONTH, tz)
    doc = alert_document(
        tenant="acme",
        limit=LIMIT,
        window_key=utc_key(start),
        trigger=OVER,
        used=Decimal("112.5"),
        tz=tz,
        occurred_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    )
    assert doc["window_start"] == "2026-11-01T00:00:00+01:00" and doc["window_end"] == "2026-12-01T00:00:00+01:00"
    assert doc["occurred_at"] == "2026-11-20T11:00:00+01:00"
    assert (doc["type"], doc["severity"], doc["limit"], doc["used"], doc["overage"]) == (
        "billing.over_limit",
        "critical",
        100,
        112.5,
        12.5,
    )
    assert doc["percent"] == 112.5 and doc["thresholds"] == [] and doc["enforcement"] == "hard"
    assert doc["id"] == alert_id("acme", LIMIT, utc_key(start), OVER)


def test_a_lifetime_alert_has_no_bounds_and_a_threshold_alert_lists_its_threshold():
    lim = Limit("seats", Window.LIFETIME, Decimal(10), Enforcement.SOFT)
    doc = alert_document(
        tenant="acme",
        limit=lim,
        window_key="lifetime",
        trigger=t("0.8"),
        used=Decimal(8),
        tz=zone("UTC"),
        occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert (doc["window_start"], doc["window_end"], doc["thresholds"], doc["severity"]) == (
        None,
        None,
        [0.8],
        "warning",
    )
    assert "overage" not in doc and doc["percent"] == 80


def test_the_subject_is_one_line_under_100_characters():
    doc = {"tenant_id": "t" * 64, "meter": "m" * 64, "window": "month", "type": "billing.over_limit", "percent": 120}
    assert len(subject(doc)) < 100
    assert subject({**doc, "tenant_id": "acme", "meter": "calls"}) == "Tollgate: acme calls (month) over its limit"


def _plan(*charges: Charge) -> Plan:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Plan("pro", "Pro", (LIMIT,), None, at, at, currency="EUR", charges=charges)


def test_over_limit_carries_the_overage_cost_when_a_per_unit_charge_starts_at_the_limit():
    overage = Charge("calls", Model.PER_UNIT, unit_amount=Decimal("0.25"), free_units=Decimal(100))
    start = window_start(datetime(2026, 11, 20, tzinfo=UTC), Window.MONTH, zone("UTC"))

    def doc(plan: Plan | None, limit: Limit = LIMIT) -> dict:
        return alert_document(
            tenant="acme",
            limit=limit,
            window_key=utc_key(start),
            trigger=OVER,
            used=Decimal("112.5"),
            tz=zone("UTC"),
            occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
            plan=plan,
        )

    priced = doc(_plan(overage))
    assert (priced["overage"], priced["overage_cost"], priced["currency"]) == (12.5, "3.13", "EUR")
    assert "overage_cost" not in doc(None)
    assert "overage_cost" not in doc(_plan(Charge("calls", Model.PER_UNIT, unit_amount=Decimal(1))))  # no free units
    filtered = Charge("calls", Model.PER_UNIT, unit_amount=Decimal(1), free_units=Decimal(100), filter=("m", "x"))
    assert "overage_cost" not in doc(_plan(filtered))
    daily = Limit("calls", Window.DAY, Decimal(100))
    assert overage_cost(_plan(overage), daily, Decimal(150)) is None  # invoices price months
