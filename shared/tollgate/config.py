"""Runtime settings, read from the environment that template.yaml gives every function.

The names here are the contract between the template, the local stack and the code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    tenants_table: str
    meters_table: str
    api_keys_table: str
    events_table: str
    counters_table: str
    usage_queue_url: str
    raw_event_retention_days: int
    auth_cache_ttl_seconds: int
    region: str

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            tenants_table=env.get("TENANTS_TABLE", "tollgate-tenants"),
            meters_table=env.get("METERS_TABLE", "tollgate-meters"),
            api_keys_table=env.get("API_KEYS_TABLE", "tollgate-api-keys"),
            events_table=env.get("EVENTS_TABLE", "tollgate-events"),
            counters_table=env.get("COUNTERS_TABLE", "tollgate-counters"),
            usage_queue_url=env.get("USAGE_QUEUE_URL", ""),
            raw_event_retention_days=int(env.get("RAW_EVENT_RETENTION_DAYS", "400")),
            auth_cache_ttl_seconds=int(env.get("AUTH_CACHE_TTL_SECONDS", "60")),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Settings for this process. Tests that change the environment call ``settings.cache_clear()``."""
    return Settings.from_env()
