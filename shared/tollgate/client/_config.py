"""The client's settings, checked once and shared by the sync and async clients."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from ._encode import CLOUDEVENTS_BATCH, JSON, MAX_BATCH_EVENTS, MAX_BODY_BYTES
from ._retry import RetryPolicy

Overflow = Literal["block", "drop"]


def _version() -> str:
    try:
        return version("tollgate")
    except PackageNotFoundError:
        return "0"


USER_AGENT = f"tollgate-python/{_version()}"


@dataclass(frozen=True)
class Config:
    base_url: str
    timeout: float = 10.0
    max_retries: int = 5
    batch_size: int = MAX_BATCH_EVENTS
    flush_interval: float = 1.0
    buffer_capacity: int = 10_000
    overflow: Overflow = "block"
    close_timeout: float = 10.0
    cloudevents: bool = False
    source: str = "tollgate-python"
    retry_base: float = 0.5
    retry_cap: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH_EVENTS} (the API's maximum)")
        if self.buffer_capacity < 1:
            raise ValueError("buffer_capacity must be at least 1")
        if self.overflow not in ("block", "drop"):
            raise ValueError("overflow must be 'block' or 'drop'")
        if self.flush_interval <= 0 or self.close_timeout < 0 or self.max_retries < 0:
            raise ValueError("flush_interval must be above 0, close_timeout and max_retries at least 0")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.retry_base, self.retry_cap)

    @property
    def content_type(self) -> str:
        return CLOUDEVENTS_BATCH if self.cloudevents else JSON

    @property
    def event_source(self) -> str | None:
        """The ``source`` each event carries (CloudEvents only)."""
        return self.source if self.cloudevents else None
