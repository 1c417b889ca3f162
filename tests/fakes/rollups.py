"""The roll-up store in memory: ``ports.RollupStore`` with the semantics of
tollgate.adapters.rollups.DynamoRollupStore (tests/integration/test_rollup_store.py holds both to
one contract)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tollgate.adapters import cursors


class FakeRollupStore:
    """Plain dicts; ``calls`` counts each port call (the job's fault-injection tests fail the
    n-th with ``fail_at``)."""

    def __init__(self) -> None:
        self.seen_values: dict[tuple[str, str], dict[str, Decimal]] = {}
        self.days: dict[tuple[str, date], dict[str, tuple[Decimal, str | None]]] = {}
        self.series: dict[tuple[str, date], Decimal] = {}
        self.plans: dict[tuple[str, date, str], Decimal] = {}
        self.months: dict[tuple[str, date], dict[str, tuple[Decimal, str | None]]] = {}
        self.calls = 0
        self.fail_at: int | None = None

    def _call(self) -> None:
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise RuntimeError(f"roll-up store call {self.calls} failed")

    def seen(self, meter: str, tenant: str) -> dict[str, Decimal]:
        self._call()
        return dict(self.seen_values.get((meter, tenant), {}))

    def put_seen(self, meter: str, tenant: str, values: dict[str, Decimal]) -> None:
        self._call()
        self.seen_values[(meter, tenant)] = dict(values)

    def put_tenant_days(self, meter: str, tenant: str, plan: str | None, values: dict[date, Decimal]) -> None:
        self._call()
        for d, v in values.items():
            self.days.setdefault((meter, d), {})[tenant] = (v, plan)

    def tenant_days(self, meter: str, tenant: str, first: date, last: date) -> dict[date, Decimal]:
        self._call()
        return {
            d: rows[tenant][0]
            for (m, d), rows in self.days.items()
            if m == meter and first <= d <= last and tenant in rows
        }

    def day_tenants(self, meter: str, day: date) -> dict[str, tuple[Decimal, str | None]]:
        self._call()
        return dict(self.days.get((meter, day), {}))

    def put_day_series(self, meter: str, day: date, total: Decimal, plans: dict[str, Decimal]) -> None:
        self._call()
        self.series[(meter, day)] = total
        for plan, v in plans.items():
            self.plans[(meter, day, plan)] = v

    def day_series(self, meter: str, first: date, last: date) -> dict[date, Decimal]:
        self._call()
        return {d: v for (m, d), v in self.series.items() if m == meter and first <= d <= last}

    def plan_series(self, meter: str, first: date, last: date) -> dict[tuple[date, str], Decimal]:
        self._call()
        return {(d, p): v for (m, d, p), v in self.plans.items() if m == meter and first <= d <= last}

    def put_month(self, meter: str, month: date, tenant: str, plan: str | None, value: Decimal) -> None:
        self._call()
        self.months.setdefault((meter, month), {})[tenant] = (value, plan)

    def month_tenants(self, meter: str, month: date) -> dict[str, tuple[Decimal, str | None]]:
        self._call()
        return dict(self.months.get((meter, month), {}))

    def top_month(
        self, meter: str, month: date, limit: int, cursor: str | None
    ) -> tuple[list[tuple[str, Decimal]], str | None]:
        self._call()
        ranked = sorted(((t, v) for t, (v, _) in self.months.get((meter, month), {}).items()), key=_rank)
        start = 0
        if cursor is not None:
            after = _after(cursor, meter, month)
            start = next((i + 1 for i, row in enumerate(ranked) if row == after), len(ranked))
        page = ranked[start : start + limit]
        more = start + limit < len(ranked)
        nxt = cursors.encode({"m": meter, "p": month.isoformat(), "t": page[-1][0], "v": str(page[-1][1])})
        return page, nxt if more and page else None


def _rank(row: tuple[str, Decimal]) -> tuple[Decimal, str]:
    """Largest value first (DynamoDB leaves the order of equal values open; here by tenant id)."""
    return (-row[1], row[0])


def _after(cursor: str, meter: str, month: date) -> tuple[str, Decimal]:
    try:
        value = cursors.decode(cursor)
        if value["m"] != meter or value["p"] != month.isoformat():
            raise ValueError
        return value["t"], Decimal(value["v"])
    except (ValueError, KeyError, TypeError, ArithmeticError):
        raise ValueError("not a cursor issued by this API for this list; start again without one") from None
