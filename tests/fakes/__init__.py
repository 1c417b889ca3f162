"""In-memory fakes of the ports (tollgate.services.ports), one per port, for the services'
unit tests; ``tests.fakes.world.World`` wires the services on them."""

from .clock import FakeClock
from .counter_store import FakeCounterStore
from .counters import FakeCounterReader
from .event_ledger import FakeEventLedger
from .logs import FakeQuarantineLog, FakeRawEventLog
from .queues import FakeQueueMonitor, FakeUsageQueue
from .ratelimit import FakeBucketStore
from .repos import (
    ConditionFailed,
    FakeApiKeyRepository,
    FakeAuditLog,
    FakeMeterRepository,
    FakeOverridesRepository,
    FakePlanRepository,
    FakeTenantRepository,
)

__all__ = [
    "ConditionFailed",
    "FakeApiKeyRepository",
    "FakeAuditLog",
    "FakeBucketStore",
    "FakeClock",
    "FakeCounterReader",
    "FakeCounterStore",
    "FakeEventLedger",
    "FakeMeterRepository",
    "FakeOverridesRepository",
    "FakePlanRepository",
    "FakeQuarantineLog",
    "FakeQueueMonitor",
    "FakeRawEventLog",
    "FakeTenantRepository",
    "FakeUsageQueue",
]
