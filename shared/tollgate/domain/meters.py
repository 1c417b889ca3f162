"""Meters: what is counted and how. Pure; no AWS."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum

METER_KEY_PATTERN = r"^[a-zA-Z0-9_.:-]{1,64}$"
DIMENSION_PATTERN = r"^[a-zA-Z0-9_.-]{1,64}$"
MAX_GROUP_BY = 5
MAX_DIMENSION_VALUE_LENGTH = 256
# DynamoDB numbers hold 38 significant digits; keep headroom for sums.
MAX_ABS_VALUE = Decimal("1e30")


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

    def as_message(self) -> dict:
        return {"aggregation": self.aggregation.value, "value_property": self.value_property, "group_by": list(self.group_by)}

    @classmethod
    def from_message(cls, key: str, d: dict) -> MeterSpec:
        return cls(key, Aggregation(d["aggregation"]), d.get("value_property", "value"), tuple(d.get("group_by") or ()))


class ValueError_(ValueError):
    """A value that a meter cannot count; ``field`` names where it came from."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def to_decimal(raw: object, field_name: str) -> Decimal:
    """A finite number from JSON (number or numeric string). Booleans are not numbers."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError_(field_name, "must be a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError_(field_name, "must be a finite number")
    if isinstance(raw, (int, float, Decimal)):
        value = Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw)
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise ValueError_(field_name, "must be a number") from None
    else:
        raise ValueError_(field_name, "must be a number")
    if not value.is_finite():
        raise ValueError_(field_name, "must be a finite number")
    if abs(value) > MAX_ABS_VALUE:
        raise ValueError_(field_name, f"must be at most {MAX_ABS_VALUE} in magnitude")
    return value


def extract(meter: MeterSpec, data: dict) -> tuple[Decimal | str, dict[str, str]]:
    """The counted value and group dimensions of one event's ``data``.

    - count: 1 per event;
    - sum: a finite, non-negative number;
    - max, latest: a finite number;
    - unique_count: a string or number, counted by its text.
    Dimensions named in ``group_by`` and missing from ``data`` are left out of that group.
    """
    prop = meter.value_property
    where = f"data.{prop}"
    if meter.aggregation is Aggregation.COUNT:
        value: Decimal | str = Decimal(1)
    elif meter.aggregation is Aggregation.UNIQUE_COUNT:
        raw = data.get(prop)
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)) or raw == "":
            raise ValueError_(where, "must be a non-empty string or a number")
        value = str(raw)
        if len(value) > MAX_DIMENSION_VALUE_LENGTH:
            raise ValueError_(where, f"must be at most {MAX_DIMENSION_VALUE_LENGTH} characters")
    else:
        if prop not in data:
            raise ValueError_(where, "is required")
        value = to_decimal(data[prop], where)
        if meter.aggregation is Aggregation.SUM and value < 0:
            raise ValueError_(where, "must not be negative on a sum meter")
    dims: dict[str, str] = {}
    for dim in meter.group_by:
        raw = data.get(dim)
        if raw is None:
            continue
        if isinstance(raw, (dict, list)):
            raise ValueError_(f"data.{dim}", "a group-by dimension must be a string, number or boolean")
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if len(text) > MAX_DIMENSION_VALUE_LENGTH:
            raise ValueError_(f"data.{dim}", f"must be at most {MAX_DIMENSION_VALUE_LENGTH} characters")
        dims[dim] = text
    return value, dims
