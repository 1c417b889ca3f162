"""The demo's data (tollgate_dev/demo.py): what ingest accepts, what crosses which limit, ids
that repeat across runs, and months taken in each tenant's own zone. Also: the operator
commands load no AWS SDK, pydantic or YAML (a plain ``pip install tollgate`` and a fast start)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT
from tollgate_dev.demo import STEP, events, hourly_values, previous_period, tenants

NOW = datetime(2026, 11, 5, 15, 20, tzinfo=UTC)  # four days after New York left daylight time


@pytest.mark.parametrize(
    "now", [NOW, datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 3, 1, 0, 1, tzinfo=UTC)]
)
def test_every_event_is_within_what_ingest_takes_and_the_ids_are_stable(now: datetime) -> None:
    for t in tenants("-x"):
        sent = events(t, "api_calls-x", now)
        times = [datetime.fromisoformat(e["time"]) for e in sent]
        assert all(now - timedelta(days=35) < at < now for at in times)
        assert all(at.utcoffset() == at.astimezone(ZoneInfo(t.timezone)).utcoffset() for at in times)
        steps = {b - a for a, b in zip(times, times[1:], strict=False)}
        assert steps == {STEP}  # stepped in UTC, so a DST change neither repeats nor skips one
        assert len({e["id"] for e in sent}) == len(sent) and all(e["subject"] == t.id for e in sent)
        assert sent == events(t, "api_calls-x", now)  # a rerun sends the same ids: counted once


def test_this_months_usage_crosses_the_free_limit_and_not_the_others() -> None:
    limits = {"free": 10_000, "pro": 100_000, "scale": 500_000}
    for t in tenants(""):
        this_month = datetime(2026, 11, 1, tzinfo=ZoneInfo(t.timezone))
        used = sum(v for at, v in hourly_values(t, NOW) if at >= this_month)
        assert used >= t.this_month_total
        assert (used >= limits[t.plan]) == (t.plan == "free"), (t.id, used)


def test_last_month_is_each_tenants_own() -> None:
    just_after = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # December in Paris and Tokyo, still November in New York
    assert [previous_period(just_after, t.timezone) for t in tenants("")] == ["2026-11", "2026-10", "2026-11"]
    assert previous_period(datetime(2027, 1, 10, tzinfo=UTC), "Asia/Tokyo") == "2026-12"


def test_the_operator_commands_load_no_aws_sdk_pydantic_or_yaml() -> None:
    code = (
        "import sys; from tollgate_dev import cli; "
        "rc = cli.main(['tenants', 'list', '--url', 'http://127.0.0.1:9', '--key', 'k']); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'pydantic', 'moto', 'yaml', 'pynamodb'}); "
        "print(rc, heavy)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT / "dev")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.stdout.strip() == "3 []", result.stderr
