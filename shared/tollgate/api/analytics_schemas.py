"""Response schemas of ``GET /v1/analytics/usage`` (docs/analytics.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from tollgate.domain.rollups import Point
from tollgate.services.analytics import Analytics, Group

from .schemas import Number


class AnalyticsPointOut(BaseModel):
    start: datetime = Field(description="Bucket start, with the offset of the response's time zone.")
    end: datetime
    value: Number = Field(description="A quantity, exact, as in /v1/usage.")

    @classmethod
    def of(cls, p: Point) -> AnalyticsPointOut:
        return cls(start=p.start, end=p.end, value=p.value)


class AnalyticsGroupOut(BaseModel):
    key: str = Field(description="A tenant id (group_by=tenant) or a plan id (group_by=plan).")
    total: Number
    series: list[AnalyticsPointOut]

    @classmethod
    def of(cls, g: Group) -> AnalyticsGroupOut:
        return cls(key=g.key, total=g.total, series=[AnalyticsPointOut.of(p) for p in g.series])


class AnalyticsOut(BaseModel):
    meter: str
    interval: str = Field(description="day, week (ISO, from Monday) or month.")
    timezone: str = Field(description="The operator's zone, or with tenant= the tenant's.")
    from_: datetime = Field(
        alias="from", serialization_alias="from", description="The range, snapped out to whole buckets: inclusive."
    )
    to: datetime = Field(description="Exclusive.")
    total: Number
    series: list[AnalyticsPointOut] = Field(description="Every bucket of the range, zeros included.")
    groups: list[AnalyticsGroupOut] | None = Field(
        default=None,
        description="With group_by=tenant or plan: the top `limit` by total, largest first; absent otherwise.",
    )

    # No return annotation: pydantic would take it as the serialized schema (``Any`` erases the
    # OpenAPI document's response shape); without one it keeps the fields' schema.
    @model_serializer(mode="wrap")
    def _without_empty_groups(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        """``groups`` is absent, not null, without group_by (the documented shape)."""
        out = handler(self)
        if isinstance(out, dict) and out.get("groups") is None:
            out.pop("groups", None)
        return out

    @classmethod
    def of(cls, a: Analytics) -> AnalyticsOut:
        return cls.model_validate(
            {
                "meter": a.meter,
                "interval": a.interval.value,
                "timezone": a.timezone,
                "from": a.start,
                "to": a.end,
                "total": a.total,
                "series": [AnalyticsPointOut.of(p) for p in a.series],
                "groups": None if a.groups is None else [AnalyticsGroupOut.of(g) for g in a.groups],
            }
        )
