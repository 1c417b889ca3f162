"""Schedules: EventBridge ``rate()``/``cron()``/``at()`` expressions and a scheduler thread.

Every function ``ScheduleV2`` (EventBridge Scheduler) and legacy ``Schedule`` (EventBridge rule)
event becomes a ``ScheduleSpec``. The ``Scheduler`` fires enabled ones on the wall clock (UTC,
or the event's ``ScheduleExpressionTimezone``); any schedule, enabled or not, can be fired on
demand (``tollgate local fire``). Locally a ``rate()`` schedule first fires one period after
the stack starts, and failed runs are logged, not retried.
"""

from __future__ import annotations

import calendar
import copy
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from .template import Template

logger = logging.getLogger("tollgate.local.schedules")

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
_LAST_YEAR = 2199  # cron's year field ends here


class ScheduleExpressionError(ValueError):
    """Not a valid EventBridge schedule expression."""


class Expression(Protocol):
    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing strictly after ``moment`` (same tzinfo), or None if there is none."""


# ------------------------------------------------------------------ rate() and at()
@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period


@dataclass(frozen=True)
class At:
    moment: datetime  # naive: wall time in the schedule's zone

    def next_after(self, moment: datetime) -> datetime | None:
        target = self.moment.replace(tzinfo=moment.tzinfo)
        return target if target > moment else None


_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def _parse_rate(body: str) -> Rate:
    match = re.fullmatch(r"\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*", body)
    if not match:
        raise ScheduleExpressionError(f"rate({body}): expected rate(<n> minute|minutes|hour|hours|day|days)")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise ScheduleExpressionError(f"rate({body}): use a singular unit for 1 and a plural one otherwise")
    return Rate(timedelta(seconds=value * _RATE_UNITS[unit.rstrip("s")]))


# ------------------------------------------------------------------ cron()
def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """A cron field made of ``*``, ``a``, ``a-b``, ``*/n``, ``a/n``, ``a-b/n``, comma-separated."""
    names = names or {}

    def number(text: str) -> int:
        value = names.get(text.upper()) if not text.isdigit() else int(text)
        if value is None or not low <= value <= high:
            raise ScheduleExpressionError(f"{text!r} is outside {low}-{high}")
        return value

    result: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleExpressionError(f"bad step in {part!r}")
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, last = span.split("-", 1)
            start, end = number(first), number(last)
        else:
            start = number(span)
            end = high if step_text else start
        if start > end:
            raise ScheduleExpressionError(f"bad range in {part!r}")
        result.update(range(start, end + 1, step))
    return frozenset(result)


def _nearest_weekday(day: date, target: int) -> date:
    last = calendar.monthrange(day.year, day.month)[1]
    chosen = day.replace(day=min(target, last))
    if chosen.weekday() == 5:  # Saturday -> Friday, or Monday if that leaves the month
        chosen = chosen - timedelta(days=1) if chosen.day > 1 else chosen + timedelta(days=2)
    elif chosen.weekday() == 6:  # Sunday -> Monday, or Friday if that leaves the month
        chosen = chosen + timedelta(days=1) if chosen.day < last else chosen - timedelta(days=2)
    return chosen


def _day_of_month_matcher(field: str) -> Callable[[date], bool]:
    if field == "L":
        return lambda d: d.day == calendar.monthrange(d.year, d.month)[1]
    if field == "LW":
        return lambda d: d == _nearest_weekday(d, 31)
    if match := re.fullmatch(r"(\d{1,2})W", field):
        target = int(match.group(1))
        return lambda d: d == _nearest_weekday(d, target)
    days = _values(field, 1, 31)
    return lambda d: d.day in days


def _cron_weekday(d: date) -> int:
    return (d.weekday() + 1) % 7 + 1  # SUN=1 ... SAT=7


def _day_of_week_matcher(field: str) -> Callable[[date], bool]:
    if field == "L":  # alone, L is the last day of the week: Saturday
        field = "7"
    if match := re.fullmatch(r"(\w+)L", field):
        weekday = _values(match.group(1), 1, 7, _WEEKDAYS)
        last = calendar.monthrange
        return lambda d: _cron_weekday(d) in weekday and d.day + 7 > last(d.year, d.month)[1]
    if match := re.fullmatch(r"(\w+)#([1-5])", field):
        weekday, nth = _values(match.group(1), 1, 7, _WEEKDAYS), int(match.group(2))
        return lambda d: _cron_weekday(d) in weekday and (d.day - 1) // 7 + 1 == nth
    weekdays = _values(field, 1, 7, _WEEKDAYS)
    return lambda d: _cron_weekday(d) in weekdays


class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)`` as EventBridge defines it."""

    def __init__(self, body: str) -> None:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron({body}): expected 6 fields")
        minutes, hours, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleExpressionError(f"cron({body}): exactly one of day-of-month and day-of-week must be ?")
        self.body = body
        self.minutes = sorted(_values(minutes, 0, 59))
        self.hours = sorted(_values(hours, 0, 23))
        self.months = _values(month, 1, 12, _MONTHS)
        self.years = _values(year, 1970, _LAST_YEAR)
        self.day_matches = _day_of_week_matcher(dow) if dom == "?" else _day_of_month_matcher(dom)

    def __repr__(self) -> str:
        return f"Cron({self.body!r})"

    def next_after(self, moment: datetime) -> datetime | None:
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        while day.year <= _LAST_YEAR:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month in self.months and self.day_matches(day):
                earliest = (start.hour, start.minute) if day == start.date() else (0, 0)
                for hour in self.hours:
                    for minute in self.minutes:
                        if (hour, minute) >= earliest:
                            return datetime(day.year, day.month, day.day, hour, minute, tzinfo=moment.tzinfo)
            day += timedelta(days=1)
        return None


def parse_expression(expression: str) -> Expression:
    """Parse ``rate(...)``, ``cron(...)`` or ``at(yyyy-mm-ddThh:mm:ss)``."""
    match = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression)
    if not match:
        raise ScheduleExpressionError(f"{expression!r} is not rate(...), cron(...) or at(...)")
    kind, body = match.groups()
    if kind == "rate":
        return _parse_rate(body)
    if kind == "cron":
        return Cron(body)
    try:
        return At(datetime.strptime(body, "%Y-%m-%dT%H:%M:%S"))
    except ValueError as error:
        raise ScheduleExpressionError(f"at({body}): expected yyyy-mm-ddThh:mm:ss") from error


# ------------------------------------------------------------------ specs
@dataclass(frozen=True)
class ScheduleSpec:
    """One ``ScheduleV2`` or ``Schedule`` event of one function."""

    function_id: str
    event_id: str
    name: str
    kind: str  # ScheduleV2 | Schedule
    expression_text: str
    expression: Expression
    zone: ZoneInfo
    enabled: bool
    input: Any = None  # the parsed Input, if the template gives one

    @property
    def qualified_name(self) -> str:
        return f"{self.function_id}.{self.event_id}"

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing after ``moment``, in UTC (rates run on elapsed time, not wall time)."""
        if isinstance(self.expression, Rate):
            return self.expression.next_after(moment)
        local = self.expression.next_after(moment.astimezone(self.zone))
        return None if local is None else local.astimezone(UTC)

    def payload(self, at: datetime, template: Template) -> Any:
        """The event the target receives: the Input, else ``{}`` (Scheduler) or a Scheduled Event (rule).

        In a Scheduler (``ScheduleV2``) Input, the context attributes are replaced as Scheduler
        does: ``<aws.scheduler.scheduled-time>`` (``at``, ``2026-11-21T00:15:00Z``),
        ``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.execution-id>`` and
        ``<aws.scheduler.attempt-number>`` (always 1: the local stack does not retry)."""
        if self.input is not None:
            if self.kind != "ScheduleV2":
                return copy.deepcopy(self.input)
            attributes = {
                "<aws.scheduler.scheduled-time>": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "<aws.scheduler.schedule-arn>": (
                    f"arn:aws:scheduler:{template.region}:{template.account_id}:schedule/default/{self.name}"
                ),
                "<aws.scheduler.execution-id>": str(uuid.uuid4()),
                "<aws.scheduler.attempt-number>": "1",
            }
            return _substitute(self.input, attributes)
        if self.kind == "ScheduleV2":
            return {}
        rule_arn = f"arn:aws:events:{template.region}:{template.account_id}:rule/{self.name}"
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": template.account_id,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": template.region,
            "resources": [rule_arn],
            "detail": {},
        }

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "qualified_name": self.qualified_name,
            "function": self.function_id,
            "expression": self.expression_text,
            "enabled": self.enabled,
        }


def _substitute(value: Any, attributes: dict[str, str]) -> Any:
    """``value`` (parsed JSON) with each attribute's name replaced in its strings."""
    if isinstance(value, str):
        for name, text in attributes.items():
            value = value.replace(name, text)
        return value
    if isinstance(value, list):
        return [_substitute(v, attributes) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, attributes) for k, v in value.items()}
    return value


def schedules_from_template(template: Template) -> list[ScheduleSpec]:
    """Every ``ScheduleV2`` and ``Schedule`` event in the template."""
    specs = []
    for function in template.functions().values():
        for event_id, event in function.events.items():
            kind = event.get("Type")
            if kind not in ("ScheduleV2", "Schedule"):
                continue
            props = template.resolve(event.get("Properties") or {})
            text = props["Schedule"] if kind == "Schedule" else props["ScheduleExpression"]
            state = props.get("State", "ENABLED")
            enabled = props.get("Enabled", True) in (True, "true") and state == "ENABLED"
            specs.append(
                ScheduleSpec(
                    function_id=function.logical_id,
                    event_id=event_id,
                    name=props.get("Name") or f"{function.logical_id}{event_id}",
                    kind=kind,
                    expression_text=text,
                    expression=parse_expression(text),
                    zone=ZoneInfo(props.get("ScheduleExpressionTimezone", "UTC")),
                    enabled=enabled,
                    input=json.loads(props["Input"]) if "Input" in props else None,
                )
            )
    return specs


def find_schedule(schedules: Iterable[ScheduleSpec], name: str) -> ScheduleSpec:
    """Look a schedule up by event id (``Health``), ``Function.Event`` or its Name.

    Raises ``LookupError`` when none or more than one match.
    """
    found = [s for s in schedules if name in (s.event_id, s.qualified_name, s.name)]
    if len(found) != 1:
        detail = "no schedule" if not found else f"ambiguous; use one of {[s.qualified_name for s in found]}"
        raise LookupError(f"{name!r}: {detail}")
    return found[0]


# ------------------------------------------------------------------ the scheduler
class Scheduler(threading.Thread):
    """Fires enabled schedules at their times until ``stop`` is set; each run gets its own thread."""

    def __init__(
        self,
        schedules: list[ScheduleSpec],
        fire: Callable[[ScheduleSpec, datetime], Any],
        stop: threading.Event,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.schedules = schedules
        self.fire = fire
        self.stop_event = stop
        self.clock = clock

    def run(self) -> None:
        now = self.clock()
        due: list[tuple[ScheduleSpec, datetime | None]] = [(s, s.next_after(now)) for s in self.schedules if s.enabled]
        while not self.stop_event.is_set():
            pending = [at for _, at in due if at is not None]
            if not pending:
                return
            self.stop_event.wait(min(60.0, max(0.0, (min(pending) - self.clock()).total_seconds())))
            now = self.clock()
            for index, (spec, at) in enumerate(due):
                if at is not None and at <= now and not self.stop_event.is_set():
                    threading.Thread(target=self._run_one, args=(spec, at), daemon=True).start()
                    following = spec.next_after(at)
                    due[index] = (spec, following if following is None or following > now else spec.next_after(now))

    def _run_one(self, spec: ScheduleSpec, at: datetime) -> None:
        try:
            self.fire(spec, at)
        except Exception:
            logger.exception("schedule %s failed", spec.qualified_name)
