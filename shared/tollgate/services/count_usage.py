"""Count a batch of SQS usage messages exactly once (the consumer's use case).

Protocol (docs/storage.md has the full argument):

1. decode every record; a body that does not decode is poison and fails alone (SQS
   dead-letters it after maxReceiveCount). Screen each event: one that no write could store
   (ingest should have rejected it: a bug, or a limit we missed) is quarantined with the
   reason, and the rest of its message is counted;
2. claim each distinct (tenant, event id) of the batch with one conditional PutItem that
   records the claiming SQS message; a claim tells who owns the event. Then claim the values
   of the owned unique_count events (a day and month item per value, and a lifetime item for
   values new in a month): a value claim tells which message adds 1 to which unique counter;
3. write each message's raw-event log chunks (idempotent puts keyed by the message);
4. commit: per transaction, each message's marker (``attribute_not_exists``) together with
   the coalesced ADD of every additive counter key (sum, count, and the unique_count deltas
   of the value claims it owns); messages whose marker already exists were committed by an
   earlier delivery and are skipped;
5. apply max / latest, idempotent conditional updates, for owned events.

A message is reported as failed (and SQS redelivers it) when any of its steps fails, and
each step attributes a failure to the messages that caused it: one bad message never fails
another (docs/storage.md, "Isolation"). Nothing
is marked counted before its counts are durable: the marker and the deltas are one
transaction, and an event claim only says *which message* counts the event, so a redelivery
of that message counts it again if the commit never happened.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from tollgate.adapters import commit_plan, event_log
from tollgate.adapters.commit_plan import CommitUnit
from tollgate.adapters.event_log import LogChunk
from tollgate.domain import counting, unique_values
from tollgate.domain.counting import DECIMAL, CounterKey, CounterUpdates, Delivery, EventRef
from tollgate.domain.retry import backoff_seconds
from tollgate.domain.usage import UsageEvent

from .batch import RecordFailures
from .claim_policy import READ_FIRST_ADAPTIVE, READ_FIRST_ALWAYS, READ_FIRST_POLICIES, DuplicateShare
from .ports import (
    Clock,
    CommitCancelled,
    EventLedger,
    Quarantine,
    QuarantineLog,
    StoreBusy,
    StoreRefused,
)

log = logging.getLogger(__name__)

WAVE_EVENTS = 2_000
"""Events per wave: a batch is counted in waves so that a batch too big for the time left
stops between waves, leaving the rest to a redelivery, instead of timing out mid-way."""

SAFETY_SECONDS = 3.0
COMMIT_ATTEMPTS = 5


@dataclass
class BatchOutcome(RecordFailures):
    """What a batch did. ``record_handler`` reports it to ``process_partial_response``."""

    counted: int = 0  # events counted by messages this invocation committed
    recounted: int = 0  # events of messages an earlier delivery had already committed
    duplicates: int = 0
    poison: int = 0
    quarantined: int = 0


def backoff(attempt: int) -> None:
    time.sleep(backoff_seconds(attempt))


class CountUsage:
    """The consumer's service: count SQS batches of usage messages exactly once."""

    def __init__(
        self, ledger: EventLedger, quarantine: QuarantineLog, clock: Clock, *, read_first: str = READ_FIRST_ALWAYS
    ) -> None:
        """``read_first``: ``always`` reads every event's claim before writing it (a duplicate
        then costs half a read unit, never a write); ``adaptive`` reads only for redeliveries
        and for tenants whose recent duplicate share makes reading cheaper (``DuplicateShare``)."""
        if read_first not in READ_FIRST_POLICIES:
            raise ValueError(f"read_first must be one of {READ_FIRST_POLICIES}")
        self.ledger, self.quarantine, self._clock = ledger, quarantine, clock
        self.duplicates = DuplicateShare()
        self._read_first = read_first

    def count_batch(self, event: dict[str, Any], *, context: Any = None, metrics: Any = None) -> BatchOutcome:
        """Count an SQS event's records. Never raises for a record's failure: the outcome lists
        the failed messages, and its ``record_handler`` raises for them."""
        outcome = BatchOutcome()
        deliveries: list[Delivery] = []
        seen: set[str] = set()
        for record in event.get("Records") or []:
            message_id = record["messageId"]
            if message_id in seen:  # the same message twice in one batch: count it once
                continue
            seen.add(message_id)
            try:
                deliveries.append(Delivery(message_id, counting.decode_message(record["body"]), _attempt(record)))
            except Exception as exc:  # noqa: BLE001 - any undecodable body is poison
                outcome.poison += 1
                outcome.fail(message_id, f"poison message: {type(exc).__name__}: {exc}")
                log.error("poison message", extra={"message_id": message_id, "error": str(exc)})
        now = self._clock.now()
        deliveries = _screen(deliveries, self.quarantine, outcome, now)
        deadline = None
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
        policy = self.duplicates.likely if self._read_first == READ_FIRST_ADAPTIVE else lambda tenant: True
        run = _BatchRun(deliveries, self.ledger, outcome, now, read_first=policy)
        run.run(deadline)
        self.duplicates.observe(run.events_of, run.duplicates_of)
        _emit(metrics, outcome)
        return outcome

    def count_messages(self, messages: Sequence[tuple[str, str]], **kwargs: Any) -> BatchOutcome:
        """Count ``(message id, body)`` pairs as one batch (benchmarks and tools)."""
        return self.count_batch({"Records": [{"messageId": m, "body": b} for m, b in messages]}, **kwargs)


def _attempt(record: dict[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    except (TypeError, ValueError):
        return 1


def _screen(deliveries: list[Delivery], store: QuarantineLog, outcome: BatchOutcome, now: datetime) -> list[Delivery]:
    """Each message without its uncountable events, which are quarantined first: a message
    whose quarantine could not be stored fails (alone) and is retried."""
    out: list[Delivery] = []
    for d in deliveries:
        kept, bad = counting.screen(d.message)
        if bad:
            entries = [Quarantine(d.message.tenant, d.message_id, e, reason) for e, reason in bad]
            errors = [e for e in store.put(entries, now) if e is not None]
            if errors:
                outcome.fail(d.message_id, f"quarantine write failed: {errors[0]}")
                continue
            outcome.quarantined += len(bad)
            log.error(
                "events quarantined: not countable",
                extra={"message_id": d.message_id, "tenant": d.message.tenant, "events": len(bad), "reason": bad[0][1]},
            )
            d = Delivery(d.message_id, replace(d.message, events=kept))
        out.append(d)
    return out


def _emit(metrics: Any, outcome: BatchOutcome) -> None:
    if metrics is None:
        return

    for name, value in (
        ("EventsCounted", outcome.counted),
        ("EventsRecounted", outcome.recounted),
        ("DuplicateEvents", outcome.duplicates),
        ("PoisonMessages", outcome.poison),
        ("FailedMessages", len(outcome.failed) - outcome.poison),
        ("EventsQuarantined", outcome.quarantined),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@dataclass
class _WavePlan:
    """What each message of a wave writes, planned from its claims (pure)."""

    claimed: dict[str, list[UsageEvent]] = field(default_factory=dict)
    chunks: dict[str, list[LogChunk]] = field(default_factory=dict)
    updates: dict[str, CounterUpdates] = field(default_factory=dict)
    scopes: dict[str, list[unique_values.ValueScope]] = field(default_factory=dict)
    units: dict[str, list[CommitUnit]] = field(default_factory=dict)

    def message(self, d: Delivery, owners: dict[EventRef, str | None]) -> None:
        """The message's owned events, log chunks, counter updates and value claim scopes."""
        mine = counting.claimed_events(d, owners)
        chunks = event_log.log_chunks(d.message.tenant, d.message_id, mine)
        updates = counting.updates_for(d.message, mine)
        scopes = counting.value_scopes_for(d.message, mine)
        self.chunks[d.message_id], self.updates[d.message_id], self.scopes[d.message_id] = chunks, updates, scopes
        self.claimed[d.message_id] = mine

    def commit_units(self, d: Delivery) -> None:
        """Once the value claims added their deltas: the message's commit units."""
        mine, updates = self.claimed[d.message_id], self.updates[d.message_id]
        self.units[d.message_id] = commit_plan.commit_units(d.message_id, len(mine), updates)


@dataclass
class _CommitAttempt:
    recounted: set[str]  # messages found already committed
    alone: set[str] = field(default_factory=set)  # markers to retry in a transaction of their own
    retry: list[CommitUnit] = field(default_factory=list)


class _BatchRun:
    def __init__(
        self,
        deliveries: list[Delivery],
        ledger: EventLedger,
        outcome: BatchOutcome,
        now: datetime,
        *,
        read_first: Callable[[str], bool] = lambda tenant: False,
    ):
        self.deliveries = deliveries
        self.ledger = ledger
        self.outcome = outcome
        self.now = now
        self.holders = counting.batch_candidates(deliveries)
        self.owners: dict[EventRef, str | None] = {}
        self.read_first = read_first
        self.redelivered = {d.message_id for d in deliveries if d.attempt > 1}
        self.events_of: Counter[str] = Counter()  # per tenant, distinct events of counted messages
        self.duplicates_of: Counter[str] = Counter()

    def failed(self, d: Delivery) -> bool:
        return d.message_id in self.outcome.failed

    def run(self, deadline: float | None) -> None:
        waves: list[list[Delivery]] = []
        size = 0
        for d in self.deliveries:
            if not waves or size >= WAVE_EVENTS:
                waves.append([])
                size = 0
            waves[-1].append(d)
            size += len(d.message.events)
        per_event = 0.0
        for i, wave in enumerate(waves):
            n = sum(len(d.message.events) for d in wave)
            if i and deadline is not None and time.monotonic() + 1.5 * per_event * n > deadline:
                for d in (d for w in waves[i:] for d in w):
                    self.outcome.fail(d.message_id, "deferred: not enough time left in this invocation")
                log.warning("batch deferred", extra={"messages": sum(len(w) for w in waves[i:])})
                return
            began = time.monotonic()
            self.wave(wave)
            per_event = max(per_event, (time.monotonic() - began) / max(1, n))

    # -------------------------------------------------------------- one wave
    def wave(self, wave: list[Delivery]) -> None:
        members = {d.message_id for d in wave}
        self.claim(members)
        plan = _WavePlan()
        for d in wave:
            if not self.failed(d):
                self.planned(d, lambda d: plan.message(d, self.owners))
        live = [d for d in wave if not self.failed(d)]
        for d in live:
            duplicates = len(d.message.events) - len(plan.claimed[d.message_id])
            self.outcome.duplicates += duplicates
            self.events_of[d.message.tenant] += len(d.message.events)
            self.duplicates_of[d.message.tenant] += duplicates
        self.claim_values(live, plan.scopes, plan.updates)
        live = [d for d in live if not self.failed(d)]
        for d in live:
            self.planned(d, plan.commit_units)
        live = [d for d in live if not self.failed(d)]
        self.write_log(live, plan.chunks)
        recounted = self.commit([d for d in live if not self.failed(d)], plan.units)
        self.apply_idempotent([d for d in live if not self.failed(d)], plan.updates)
        for d in live:
            if not self.failed(d):
                n = len(plan.claimed[d.message_id])
                if d.message_id in recounted:
                    self.outcome.recounted += n
                else:
                    self.outcome.counted += n

    def planned(self, d: Delivery, step: Callable[[Delivery], None]) -> None:
        """Run a pure planning step for one message: a failure here is a bug, and it is this
        message's alone."""
        try:
            step(d)
        except Exception as exc:
            self.outcome.fail(d.message_id, f"planning failed: {type(exc).__name__}: {exc}")
            log.exception("planning a message's writes failed", extra={"message_id": d.message_id})

    def claim(self, members: set[str]) -> None:
        todo = [
            (ref, holders[0], tuple(holders))
            for ref, holders in self.holders.items()
            if holders[0] in members and ref not in self.owners
        ]
        todo = self.known_owners(todo)
        for (ref, _, holders), result in zip(todo, self.ledger.claim(todo, self.now), strict=True):
            if isinstance(result, Exception):
                # Unknown owner: no message holding this event may commit in this invocation.
                for message_id in holders:
                    self.outcome.fail(message_id, f"claim failed: {result}")
                log.warning("claim failed", extra={"error": str(result)})
            else:
                self.owners[ref] = result

    def known_owners(
        self, todo: list[tuple[EventRef, str, tuple[str, ...]]]
    ) -> list[tuple[EventRef, str, tuple[str, ...]]]:
        """Reads the owners of events likely claimed already (a redelivered message's, or a
        tenant's that sends many duplicates) and records them; returns the claims still to
        write. A read that fails only means those events are claimed by writing."""
        ask = [ref for ref, _, holders in todo if self.read_first(ref.tenant) or self.redelivered.intersection(holders)]
        if not ask:
            return todo
        try:
            found = self.ledger.owners(ask)
        except Exception as exc:  # noqa: BLE001 - the claims decide anyway
            log.warning("reading claims first failed; claiming by writes", extra={"error": str(exc)})
            return todo
        rest = []
        for ref, me, holders in todo:
            owner = found.get(ref)
            if owner is None:
                rest.append((ref, me, holders))
            else:
                self.owners[ref] = owner if owner in holders else None
        return rest

    def claim_values(
        self,
        live: list[Delivery],
        scopes: dict[str, list[unique_values.ValueScope]],
        updates: dict[str, CounterUpdates],
    ) -> None:
        """Claim the values of the wave's owned unique_count events (day and month items, then
        the lifetime items of values new in a month), and add each message's unique deltas to
        its updates. A claim whose outcome is unknown fails every message holding it."""
        owned = [(d.message_id, scopes[d.message_id]) for d in live if scopes[d.message_id]]
        if not owned:
            return
        plan = unique_values.ValuePlan()
        days = unique_values.day_claims(owned)
        lifetimes = unique_values.settle_days(days, self.ledger.claim_days(days, self.now), plan)
        if lifetimes:
            unique_values.settle_lifetimes(lifetimes, self.ledger.claim_lifetimes(lifetimes, self.now), plan)
        for message_id, error in plan.failed.items():
            self.outcome.fail(message_id, f"value claim failed: {error}")
        if plan.failed:
            log.warning("value claim failed", extra={"messages": len(plan.failed)})
        for message_id, adds in plan.adds.items():
            add = updates[message_id].add
            for key, n in adds.items():
                add[key] = DECIMAL.add(add.get(key, Decimal(0)), Decimal(n))

    def write_log(self, live: list[Delivery], chunks_of: dict[str, list[LogChunk]]) -> None:
        """One BatchWriteItem per 25 chunks of any messages. A request that fails fails every
        message in it, so the messages that failed are written again one by one: only a
        message whose own chunks fail is reported."""
        chunks, owners = [], []
        for d in live:
            chunks += chunks_of[d.message_id]
            owners += [d.message_id] * len(chunks_of[d.message_id])
        if not chunks:
            return
        failed: dict[str, Exception] = {}
        for message_id, error in zip(owners, self.ledger.write_log(chunks, self.now), strict=True):
            if error is not None:
                failed.setdefault(message_id, error)
        if len(failed) > 1:
            for message_id in list(failed):
                errors = [e for e in self.ledger.write_log(chunks_of[message_id], self.now) if e is not None]
                if errors:
                    failed[message_id] = errors[0]
                else:
                    del failed[message_id]
        for message_id, error in failed.items():
            self.outcome.fail(message_id, f"raw-event log write failed: {error}")

    def commit(self, live: list[Delivery], units: dict[str, list[CommitUnit]]) -> set[str]:
        """Commit every unit not yet committed; returns the messages found already committed."""
        pending: list[CommitUnit] = [u for d in live for u in units[d.message_id]]
        if not pending:
            return set()
        try:
            done = self.ledger.committed_markers([u.marker_pk for u in pending])
        except Exception as exc:  # noqa: BLE001
            for u in pending:
                self.outcome.fail(u.message_id, f"marker check failed: {exc}")
            return set()
        attempt = _CommitAttempt({u.message_id for u in pending if u.marker_pk in done})
        pending = [u for u in pending if u.marker_pk not in done]
        for n in range(COMMIT_ATTEMPTS):
            if not pending:
                break
            if n:
                backoff(n)
            txs = commit_plan.pack_units([u for u in pending if u.marker_pk not in attempt.alone])
            txs += [[u] for u in pending if u.marker_pk in attempt.alone]
            attempt.retry = []
            for tx in txs:
                self._commit_one(tx, attempt)
            pending = [u for u in attempt.retry if u.message_id not in self.outcome.failed]
        for u in pending:
            self.outcome.fail(u.message_id, "commit not done after retries")
        return attempt.recounted

    def _commit_one(self, tx: list[CommitUnit], attempt: _CommitAttempt) -> None:
        """One transaction; what it leaves to retry goes to ``attempt.retry``. A transaction
        refused for one unit is split, each unit retried alone, to find the unit at fault."""
        try:
            self.ledger.commit(tx, self.now)
        except CommitCancelled as exc:
            rest = [u for u in tx if u.marker_pk not in exc.committed]
            attempt.recounted |= {u.message_id for u in tx if u.marker_pk in exc.committed}
            if exc.retryable or len(rest) > 1:
                if not exc.retryable:
                    attempt.alone |= {u.marker_pk for u in rest}
                attempt.retry += rest
            else:
                for u in rest:
                    self.outcome.fail(u.message_id, f"commit rejected: {exc.codes}")
        except StoreBusy:
            attempt.retry += tx
        except StoreRefused as exc:  # nothing was written
            if len(tx) > 1:
                attempt.alone |= {u.marker_pk for u in tx}
                attempt.retry += tx
            else:
                self.outcome.fail(tx[0].message_id, f"commit failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - the outcome is unknown (a lost response?): SQS redelivers
            for u in tx:
                self.outcome.fail(u.message_id, f"commit failed: {exc}")

    def apply_idempotent(self, live: list[Delivery], updates: dict[str, CounterUpdates]) -> None:
        merged = CounterUpdates()
        contributors: dict[CounterKey, set[str]] = {}
        for d in live:
            u = updates[d.message_id]
            if not u.idempotent():
                continue
            merged.merge(CounterUpdates(max=u.max, latest=u.latest, expires=u.expires))
            for key in (*u.max, *u.latest):
                contributors.setdefault(key, set()).add(d.message_id)
        if not contributors:
            return
        for key, error in self.ledger.apply_idempotent(merged).items():
            for message_id in contributors[key]:
                self.outcome.fail(message_id, f"counter update failed: {error}")
