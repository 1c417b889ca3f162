"""Meters: the catalogue of what is counted (the event ``type``) and how."""

from __future__ import annotations

from typing import Any

from tollgate.adapters.repos import MeterRepo
from tollgate.domain.errors import NotFound
from tollgate.domain.records import Meter

from . import clock

repo = MeterRepo()


def create_meter(fields: dict[str, Any]) -> Meter:
    meter = Meter(created_at=clock.now(), **fields)
    repo.create(meter)
    return meter


def get_meter(key: str) -> Meter:
    meter = repo.get(key)
    if meter is None:
        raise NotFound(f"meter {key!r} not found")
    return meter


def list_meters(limit: int, cursor: str | None) -> tuple[list[Meter], str | None]:
    return repo.list(limit, cursor)
