"""Folding small usage messages into large ones (the repack stage's rule). Pure; no AWS.

Counting costs a few write units per *message* (its commit marker, its raw-event log chunk)
and per counter key per transaction, shared by the message's events. A request of one event
makes a message of one event, so counted as it comes it costs ~24 write units an event
(docs/storage.md, "Cost"). The repack function reads those small messages from the pack queue
in large batches and folds them, per tenant, into messages of up to ``FOLD_EVENTS`` events,
which it sends to the usage queue; the consumer counts those.

Folding is safe for exactly-once counting because an event's *claim* decides who counts it,
not the message that carries it: if a folded message is sent and its sources are delivered
again (the repacker died before acknowledging them), the same events travel in two folded
messages, and the first to claim an event counts it while the other sees a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.domain.meters import MeterSpec
from tollgate.domain.usage import UsageMessage

from .usage_message import MAX_MESSAGE_BYTES, event_dict, event_json, pack

FOLD_EVENTS = 1_000
"""Events per folded message: what one full ingest request makes, so the consumer's batch
sizing (``BatchSize`` x events per message) holds whatever the request sizes were."""

DIRECT_EVENTS = 500
"""Ingest sends a message of at least this many events straight to the usage queue: folding
it would save under 0.01 write units an event, and cost a hop of latency."""


def counted_as_is(events: int, size: int) -> bool:
    """Whether a message of ``events`` events and ``size`` bytes goes straight to the usage
    queue: large enough that folding would save little and cost a hop of latency."""
    return events >= DIRECT_EVENTS or size >= MAX_MESSAGE_BYTES // 2


@dataclass(frozen=True, slots=True)
class Folded:
    body: str
    sources: tuple[str, ...]  # ids of the messages whose events it carries, in input order
    events: int


@dataclass
class _Group:
    tenant: str
    timezone: str
    meters: dict[str, MeterSpec]
    items: list[tuple[int, str, str]]  # (position, meter key, encoded event)

    def accepts(self, message: UsageMessage) -> bool:
        """Same tenant and zone, and no meter the two name differently."""
        return (
            self.tenant == message.tenant
            and self.timezone == message.timezone
            and all(self.meters.get(k, spec) == spec for k, spec in message.meters.items())
        )


def fold(
    sources: Sequence[tuple[str, UsageMessage]],
    *,
    max_events: int = FOLD_EVENTS,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[Folded]:
    """Fold ``(message id, message)`` pairs into as few messages as fit ``max_events`` and
    ``max_bytes``, one tenant (and zone, and meter definitions) per message. Each source's
    events are kept together where they fit, and every event appears in exactly one folded
    message; a source whose events span two folded messages is listed by both."""
    groups: list[_Group] = []
    owner: list[str] = []  # position -> source message id
    for message_id, message in sources:
        group = next((g for g in groups if g.accepts(message)), None)
        if group is None:
            group = _Group(message.tenant, message.timezone, {}, [])
            groups.append(group)
        group.meters.update(message.meters)
        for e in message.events:
            group.items.append((len(owner), e.meter, event_json(event_dict(e))))
            owner.append(message_id)
    out: list[Folded] = []
    for g in groups:
        for start in range(0, len(g.items), max_events):
            part = g.items[start : start + max_events]
            for packed in pack(g.tenant, g.timezone, g.meters, part, max_bytes):
                ids = tuple(dict.fromkeys(owner[i] for i in packed.indexes))
                out.append(Folded(packed.body, ids, len(packed.indexes)))
    return out
