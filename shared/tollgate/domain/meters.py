"""Meters: what is counted and how. Pure; no AWS."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Context, Decimal, InvalidOperation
from enum import Enum
from typing import Any

METER_KEY_PATTERN = r"^[a-zA-Z0-9_.:-]{1,64}$"
DIMENSION_PATTERN = r"^[a-zA-Z0-9_.-]{1,64}$"
MAX_GROUP_BY = 5
MAX_DIMENSION_VALUE_LENGTH = 256

# ---- numbers: every accepted value must be countable, for ever (docs/storage.md, "Numbers")
COUNTER_DIGITS = 38
"""DynamoDB numbers hold 38 significant digits (and magnitudes from 1e-130 to under 1e126)."""
EVENT_COUNT_DIGITS = 16
"""Headroom for the number of events summed into one counter: 10^16 events (a million a
second for 300 years) at the largest value each still fit a lifetime counter."""
DEFAULT_SCALE = 9
MAX_SCALE = 18
_WIDE = Context(prec=80)  # for bounds checks before a value is known to fit 38 digits
_NUMBER_TEXT = re.compile(r"-?\d{1,80}(?:\.\d{1,80})?(?:[eE][+-]?\d{1,4})?\Z")


class Rounding(str, Enum):
    """What to do with a value that has more decimals than its meter's ``scale``."""

    REJECT = "reject"
    HALF_EVEN = "half_even"
    HALF_UP = "half_up"
    DOWN = "down"
    UP = "up"


_ROUNDING = {
    Rounding.HALF_EVEN: ROUND_HALF_EVEN,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.DOWN: ROUND_DOWN,
    Rounding.UP: ROUND_UP,
}


class Aggregation(str, Enum):
    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    LATEST = "latest"
    UNIQUE_COUNT = "unique_count"

    @property
    def additive(self) -> bool:
        """Additive counters need exactly-once protection; the others are idempotent updates."""
        return self in (Aggregation.SUM, Aggregation.COUNT)


@dataclass(frozen=True)
class MeterSpec:
    key: str
    aggregation: Aggregation
    value_property: str = "value"
    group_by: tuple[str, ...] = field(default_factory=tuple)
    scale: int = DEFAULT_SCALE
    rounding: Rounding = Rounding.REJECT

    @property
    def max_value(self) -> Decimal:
        """Values must be below this in magnitude. Sums: 10^(38 - 16 - scale), so 10^16 such
        events still fit one counter's 38 digits; max and latest are stored, not summed:
        10^(38 - scale)."""
        digits = COUNTER_DIGITS - self.scale
        if self.aggregation.additive:
            digits -= EVENT_COUNT_DIGITS
        return Decimal(10) ** digits

    def countable(self, value: Decimal, where: str) -> Decimal:
        """``value`` as counted: at most ``scale`` decimals (rounded when the meter asks for
        it), below ``max_value`` in magnitude. Raises ``InvalidValue`` naming ``where``."""
        if value.copy_abs() >= self.max_value:  # abs() would round to the context's 28 digits
            raise InvalidValue(
                where,
                f"must be less than {self.max_value:,f} in magnitude on this meter "
                f"(scale {self.scale}; see docs/storage.md, Numbers)",
            )
        step = Decimal(1).scaleb(-self.scale)
        if self.rounding is Rounding.REJECT:
            exact = value.quantize(step, context=_WIDE)
            if exact != value:
                raise InvalidValue(
                    where,
                    f"has more than {self.scale} decimal places, this meter's scale; "
                    "round it, or create the meter with a rounding mode",
                )
        else:
            exact = value.quantize(step, rounding=_ROUNDING[self.rounding], context=_WIDE)
        return exact.normalize(_WIDE) if exact else Decimal(0)


def plain(value: Decimal) -> str:
    """Decimal text without an exponent (``1E+2`` -> ``100``): the message and log form."""
    return format(value, "f")


class InvalidValue(ValueError):
    """A value that a meter cannot count; ``field`` names where it came from."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def to_decimal(raw: object, field_name: str) -> Decimal:
    """A finite number from JSON: a JSON number, or a string holding a plain decimal number
    (``"12.5"``, ``"-3"``, ``"1e6"``; no spaces, ``_``, ``+``, ``NaN`` or ``Infinity``).
    Booleans are not numbers."""
    if isinstance(raw, bool) or raw is None:
        raise InvalidValue(field_name, "must be a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise InvalidValue(field_name, "must be a finite number")
    if isinstance(raw, (int, float, Decimal)):
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    elif isinstance(raw, str):
        if not _NUMBER_TEXT.match(raw):
            raise InvalidValue(
                field_name, 'must be a number, or a string holding a plain decimal number such as "12.5"'
            )
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern admits decimal text only
            raise InvalidValue(field_name, "must be a number") from None
    else:
        raise InvalidValue(field_name, "must be a number")
    if not value.is_finite():
        raise InvalidValue(field_name, "must be a finite number")
    return value


def _unique_value(raw: object, where: str) -> str:
    """The text a unique_count meter counts: a non-empty string or a number, as text."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)) or raw == "":
        raise InvalidValue(where, "must be a non-empty string or a number")
    value = str(raw)
    if len(value) > MAX_DIMENSION_VALUE_LENGTH:
        raise InvalidValue(where, f"must be at most {MAX_DIMENSION_VALUE_LENGTH} characters")
    return value


def extract(meter: MeterSpec, data: dict[str, Any]) -> tuple[Decimal | str, dict[str, str]]:
    """The counted value and group dimensions of one event's ``data``.

    - count: 1 per event;
    - sum: a finite, non-negative number;
    - max, latest: a finite number;
    - sum, max, latest: at most ``scale`` decimals, below ``max_value`` (``MeterSpec.countable``);
    - unique_count: a string or number, counted by its text.
    Dimensions named in ``group_by`` and missing from ``data`` are left out of that group.
    """
    prop = meter.value_property
    where = f"data.{prop}"
    if meter.aggregation is Aggregation.COUNT:
        value: Decimal | str = Decimal(1)
    elif meter.aggregation is Aggregation.UNIQUE_COUNT:
        value = _unique_value(data.get(prop), where)
    else:
        if prop not in data:
            raise InvalidValue(where, "is required")
        value = to_decimal(data[prop], where)
        if meter.aggregation is Aggregation.SUM and value < 0:
            raise InvalidValue(where, "must not be negative on a sum meter")
        value = meter.countable(value, where)
    dims: dict[str, str] = {}
    for dim in meter.group_by:
        raw = data.get(dim)
        if raw is None:
            continue
        if isinstance(raw, (dict, list)):
            raise InvalidValue(f"data.{dim}", "a group-by dimension must be a string, number or boolean")
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if len(text) > MAX_DIMENSION_VALUE_LENGTH:
            raise InvalidValue(f"data.{dim}", f"must be at most {MAX_DIMENSION_VALUE_LENGTH} characters")
        dims[dim] = text
    return value, dims
