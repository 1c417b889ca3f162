"""Meters: the catalogue of what is counted (the event ``type``) and how."""

from __future__ import annotations

from typing import Any

from tollgate.domain.errors import NotFound
from tollgate.domain.records import Meter

from .catalog import Catalog
from .ports import Clock, MeterRepository


class MeterService:
    def __init__(self, meters: MeterRepository, catalog: Catalog, clock: Clock) -> None:
        self._meters, self._catalog, self._clock = meters, catalog, clock

    def create_meter(self, fields: dict[str, Any]) -> Meter:
        meter = Meter(created_at=self._clock.now(), **fields)
        self._meters.create(meter)
        self._catalog.invalidate_meter(meter.key)
        return meter

    def get_meter(self, key: str) -> Meter:
        meter = self._meters.get(key)
        if meter is None:
            raise NotFound(f"meter {key!r} not found")
        return meter

    def list_meters(self, limit: int, cursor: str | None) -> tuple[list[Meter], str | None]:
        return self._meters.list(limit, cursor)
