"""``services.ports.InvoiceStore`` on the invoices table (the low-level client).

Items share the table by key prefix (``pk``, no sort key):

- ``I#<invoice id>``: an invoice. ``doc`` is its JSON as text (money already decimal strings,
  and ``domain.invoices.doc_text`` refuses a float, so none ever touches it), with
  ``tenant_id``, ``period``, ``status``, ``currency``, ``created_at``, ``updated_at``,
  ``number``, ``issued_at``, ``run_id``, ``version``, ``delivered``, ``feed = "invoices"``
  and ``lk`` = ``<period>#<tenant>#<id>``, the listing key: newest period first. Times are
  UTC ISO-8601 text (it sorts as time does).
  - ``due = "D"`` and ``finalize_after`` while a draft (the sparse index ``drafts_due``);
  - ``undelivered = "U"`` from the issue until ``mark_delivered`` (the sparse index
    ``undelivered``: issued invoices whose documents or invoice.ready a crash left undone);
  - ``open = "O"`` and ``due_at`` while issued or overdue (the sparse index ``open``: what
    the daily job marks overdue and reminds of).
- ``P#<invoice id>#<reference>``: a payment's reference, used once (idempotent payments).
- ``L#<invoice id>``: that invoice's late fee was charged, by ``charged_by`` (put in the
  charging invoice's issue transaction, once).
- ``SEQ#<prefix>``: the number sequence, ``n`` = the last number issued (absent: 0).
- ``R#<run id>``: a run: ``id``, ``period``, ``created_at``, ``tenant_id`` (a one-tenant
  run), ``expected``, the counters ``invoices``, ``skipped``, ``failed``, and ``failures``, a
  map of tenant to error of at most ``MAX_FAILURES`` entries.
- ``O#<run id>#<tenant>``: ``outcome``, one tenant's result in a run.

Indexes (all projecting every attribute): ``by_tenant`` (tenant_id, lk), ``by_status``
(status, lk), ``all`` (feed, lk; the admin's unfiltered list, and a period's with
``begins_with``), ``drafts_due`` (due, finalize_after), ``undelivered`` (undelivered,
issued_at), ``open`` (open, due_at). Every filter combination of ``list`` is one Query, never a Scan: the tenant's
index when a tenant is named (a status then filters it: a tenant has a few invoices a year),
else the status's, else ``all``; a period narrows the sort key (``begins_with(lk,
"<period>#")``). Run, outcome and sequence items have no ``lk``, so no index holds them. The
``all`` and ``by_status`` keys take every invoice write: a few per tenant per month, far
under a partition's 1,000 writes a second at the run's pace. A cursor holds the list's
filters and the last ``lk``; the start key is rebuilt from them, so no crafted cursor
reaches DynamoDB.

**Numbering** (``issue``): read the draft and the sequence (consistent), make the final
document, then one transaction: the sequence moves from n to n+1 on the condition that it is
still n (or absent, for 0), and the invoice from draft to issued on the condition that it is
still a draft. Nothing else ever moves the sequence, so a number is used exactly when an
invoice is issued with it: a crash before the commit takes nothing, a crash after it left an
issued invoice. A lost race re-reads and retries with jittered backoff (``ISSUE_ATTEMPTS``,
then IssueContended); a lost response (no answer, committed or not) is retried too, and the
re-read finds the invoice issued when it was. Cancellation reasons are read per item
(sequence first, invoice second); one that no retry can cure (a ValidationError) raises.

**Run outcomes** (``record_outcome``): the outcome item and the run's counters (and its
``failures``) change in one transaction, conditional on the outcome item's previous state, so
a redelivery or a race counts nothing twice, and a success replaces a failure (the failed
count moves to the success's) but never the reverse.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tollgate.domain.audit import AuditEntry
from tollgate.domain.ids import ID_PATTERN
from tollgate.domain.invoices import (
    PERIOD_PATTERN,
    InvoiceRun,
    InvoiceStatus,
    StoredInvoice,
    TransitionResult,
    doc_text,
    format_number,
)
from tollgate.services.ports import IssueContended, StoreBusy

from . import cursors
from .entitlements import _audit_model
from .ledger import num, s

__all__ = ["DynamoInvoiceStore", "IssueContended"]

FEED = "invoices"
MAX_FAILURES = 10
MAX_ERROR = 300
ISSUE_ATTEMPTS = 60
OUTCOME_ATTEMPTS = 20
OUTCOMES = {"invoiced": "invoices", "skipped": "skipped", "failed": "failed"}  # outcome: the run's counter
_BY_TENANT, _BY_STATUS, _ALL, _DUE, _UNDELIVERED = "by_tenant", "by_status", "all", "drafts_due", "undelivered"
_OPEN = "open"


def _audit_put(entry: AuditEntry) -> dict[str, Any]:
    """The audit entry as a transaction's Put on the audit table (its pynamodb model's form)."""
    model = _audit_model(entry)
    return {
        "TableName": model.Meta.table_name,
        "Item": model.serialize(),
        "ConditionExpression": "attribute_not_exists(subject)",
    }


_RETRYABLE = {"None", "ConditionalCheckFailed", "TransactionConflict", "ThrottlingError"}
"""Cancellation reasons a retry may cure: a condition (re-read), a conflict or throttling
(wait). Any other (ValidationError, ItemCollectionSizeLimitExceeded) would fail again."""
_LK = re.compile(rf"{PERIOD_PATTERN[1:-1]}#{ID_PATTERN[1:-1]}#in_[0-9a-f]{{1,64}}")
NOT_A_CURSOR = "not a cursor of this list"


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _when(item: dict[str, Any], name: str) -> datetime | None:
    return datetime.fromisoformat(item[name]["S"]) if name in item else None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _reasons(exc: ClientError) -> list[str]:
    """A cancelled transaction's reasons, one per item in the order sent ("None": that item's
    part was fine); [] for any other error."""
    return [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons") or []]


def _retryable(exc: ClientError) -> bool:
    code = _code(exc)
    if code == "TransactionConflictException":
        return True
    return code == "TransactionCanceledException" and all(r in _RETRYABLE for r in _reasons(exc))


def _pause(attempt: int) -> float:
    """Full jitter from 10 ms, doubling to at most 0.5 s: racers spread out, and 60 attempts
    stay within a queue-driven function's minute."""
    return random.uniform(0, min(0.5, 0.01 * 2 ** min(attempt, 6)))  # noqa: S311 - jitter, not a secret


def _lk(inv: StoredInvoice) -> str:
    return f"{inv.period}#{inv.tenant_id}#{inv.id}"


def _invoice_item(inv: StoredInvoice) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": s(f"I#{inv.id}"),
        "id": s(inv.id),
        "tenant_id": s(inv.tenant_id),
        "period": s(inv.period),
        "status": s(inv.status.value),
        "currency": s(inv.currency),
        "doc": s(doc_text(inv.doc)),
        "created_at": s(_at(inv.created_at)),
        "updated_at": s(_at(inv.updated_at)),
        "version": num(inv.version),
        "delivered": {"BOOL": inv.delivered},
        "generation": num(inv.generation),
        "feed": s(FEED),
        "lk": s(_lk(inv)),
    }
    if inv.run_id:
        item["run_id"] = s(inv.run_id)
    if inv.status is InvoiceStatus.DRAFT and inv.finalize_after is not None:
        item["due"], item["finalize_after"] = s("D"), s(_at(inv.finalize_after))
    if inv.number:
        item["number"] = s(inv.number)
    if inv.issued_at:
        item["issued_at"] = s(_at(inv.issued_at))
        if inv.status is InvoiceStatus.ISSUED and not inv.delivered:
            item["undelivered"] = s("U")
    return item


def _invoice(item: dict[str, Any]) -> StoredInvoice:
    created, updated = _when(item, "created_at"), _when(item, "updated_at")
    assert created is not None and updated is not None
    return StoredInvoice(
        id=item["id"]["S"],
        tenant_id=item["tenant_id"]["S"],
        period=item["period"]["S"],
        status=InvoiceStatus(item["status"]["S"]),
        currency=item["currency"]["S"],
        doc=json.loads(item["doc"]["S"]),
        created_at=created,
        updated_at=updated,
        finalize_after=_when(item, "finalize_after"),
        number=item["number"]["S"] if "number" in item else None,
        issued_at=_when(item, "issued_at"),
        run_id=item["run_id"]["S"] if "run_id" in item else None,
        version=int(item["version"]["N"]),
        delivered=item.get("delivered", {}).get("BOOL", False),
        generation=int(item.get("generation", {"N": "0"})["N"]),
    )


def _run(item: dict[str, Any]) -> InvoiceRun:
    created = _when(item, "created_at")
    assert created is not None
    failures = item.get("failures", {}).get("M", {})
    return InvoiceRun(
        id=item["id"]["S"],
        period=item["period"]["S"],
        created_at=created,
        tenant_id=item["tenant_id"]["S"] if "tenant_id" in item else None,
        expected=int(item["expected"]["N"]) if "expected" in item else None,
        invoices=int(item.get("invoices", {"N": "0"})["N"]),
        skipped=int(item.get("skipped", {"N": "0"})["N"]),
        failed=int(item.get("failed", {"N": "0"})["N"]),
        failures=[{"tenant_id": t, "error": e["S"]} for t, e in sorted(failures.items())],
    )


class DynamoInvoiceStore:
    def __init__(self, client: Any, table: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.table, self._sleep = client, table, sleep

    # ---------------------------------------------------------------- invoices
    def get(self, invoice_id: str, consistent: bool = False) -> StoredInvoice | None:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": s(f"I#{invoice_id}")}, ConsistentRead=consistent
        ).get("Item")
        return _invoice(item) if item else None

    def create_draft(self, inv: StoredInvoice) -> bool:
        try:
            self.client.put_item(
                TableName=self.table, Item=_invoice_item(inv), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def replace_draft(self, inv: StoredInvoice, expected_version: int) -> bool:
        item = _invoice_item(inv.replaced(version=expected_version + 1, status=InvoiceStatus.DRAFT))
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="#st = :draft AND version = :v",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":draft": s(InvoiceStatus.DRAFT.value), ":v": num(expected_version)},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def issue(
        self,
        invoice_id: str,
        prefix: str,
        make: Callable[[str, datetime], dict[str, Any]],
        now: Callable[[], datetime],
        audit: Callable[[str, datetime], AuditEntry] | None = None,
    ) -> StoredInvoice:
        for attempt in range(ISSUE_ATTEMPTS):
            inv = self.get(invoice_id, consistent=True)
            if inv is None:
                raise LookupError(f"invoice {invoice_id!r} does not exist")
            if inv.status is not InvoiceStatus.DRAFT:
                return inv  # issued already (and maybe paid, overdue or void since)
            seq = self._sequence(prefix)
            number, at = format_number(prefix, seq + 1), now()
            doc = make(number, at)
            try:
                items = self._issue_items(inv, prefix, seq, number, at, doc)
                if audit is not None:
                    items.append({"Put": _audit_put(audit(number, at))})
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                reasons = _reasons(exc)
                if len(reasons) == 2 and reasons[1] == "ConditionalCheckFailed":
                    continue  # no longer a draft: issued by another caller (or by us, answer lost); re-read
                if not _retryable(exc):
                    raise
            except BotoCoreError:
                pass  # no answer: committed or not, the re-read tells
            else:
                return inv.replaced(
                    status=InvoiceStatus.ISSUED,
                    number=number,
                    issued_at=at,
                    doc=doc,
                    finalize_after=None,
                    updated_at=at,
                    delivered=False,
                )
            self._sleep(_pause(attempt))
        raise IssueContended(f"invoice {invoice_id!r}: the number sequence {prefix!r} stayed contended")

    def _sequence(self, prefix: str) -> int:
        item = self.client.get_item(TableName=self.table, Key={"pk": s(f"SEQ#{prefix}")}, ConsistentRead=True).get(
            "Item"
        )
        return int(item["n"]["N"]) if item else 0

    def _issue_items(
        self, inv: StoredInvoice, prefix: str, seq: int, number: str, at: datetime, doc: dict[str, Any]
    ) -> list[dict[str, Any]]:
        step: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": s(f"SEQ#{prefix}")},
            "UpdateExpression": "SET n = :next",
            "ExpressionAttributeValues": {":next": num(seq + 1)},
        }
        if seq == 0:
            step["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            step["ConditionExpression"] = "n = :n"
            step["ExpressionAttributeValues"][":n"] = num(seq)
        issue = {
            "TableName": self.table,
            "Key": {"pk": s(f"I#{inv.id}")},
            "UpdateExpression": (
                "SET #st = :issued, #num = :number, issued_at = :at, doc = :doc, updated_at = :at, "
                "delivered = :false, undelivered = :u, #open = :o, due_at = :due REMOVE due, finalize_after"
            ),
            "ConditionExpression": "#st = :draft",
            "ExpressionAttributeNames": {"#st": "status", "#num": "number", "#open": "open"},
            "ExpressionAttributeValues": {
                ":o": s("O"),
                ":due": s(_at(datetime.fromisoformat(doc["due_at"])) if doc.get("due_at") else _at(at)),
                ":issued": s(InvoiceStatus.ISSUED.value),
                ":draft": s(InvoiceStatus.DRAFT.value),
                ":number": s(number),
                ":at": s(_at(at)),
                ":doc": s(doc_text(doc)),
                ":false": {"BOOL": False},
                ":u": s("U"),
            },
        }
        charged = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {"pk": s(f"L#{line['invoice_id']}"), "charged_by": s(number)},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for line in doc.get("lines") or []
            if line.get("type") == "late_fee"
        ]
        # the reasons' order: sequence, invoice, then each late fee charged (once: its marker)
        return [{"Update": step}, {"Update": issue}, *charged]

    def late_fees_charged(self, invoice_ids: Sequence[str]) -> set[str]:
        """Which of these invoices' late fees a later invoice has charged (their markers)."""
        found: set[str] = set()
        ids = sorted(set(invoice_ids))
        for i in range(0, len(ids), 100):
            keys = [{"pk": s(f"L#{x}")} for x in ids[i : i + 100]]
            request = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                resp = self.client.batch_get_item(RequestItems=request)
                found |= {item["pk"]["S"][2:] for item in resp.get("Responses", {}).get(self.table, [])}
                request = resp.get("UnprocessedKeys") or {}
        return found

    def mark_delivered(self, invoice_id: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": s(f"I#{invoice_id}")},
                UpdateExpression="SET delivered = :true REMOVE undelivered",
                ConditionExpression="attribute_exists(#num)",  # issued (and maybe paid or void since)
                ExpressionAttributeNames={"#num": "number"},
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise LookupError(f"no issued invoice {invoice_id!r}") from None
            raise

    def undelivered(self, limit: int) -> list[StoredInvoice]:
        return self._query_all(_UNDELIVERED, "undelivered = :u", {":u": s("U")}, limit)

    def drafts_due(self, now: datetime, limit: int) -> list[StoredInvoice]:
        return self._query_all(_DUE, "due = :d AND finalize_after <= :now", {":d": s("D"), ":now": s(_at(now))}, limit)

    def _query_all(
        self, index: str, condition: str, values: dict[str, Any], limit: int, *, names: dict[str, str] | None = None
    ) -> list[StoredInvoice]:
        """Up to ``limit`` items of a sparse index, oldest first, following its pages."""
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": True,
            **({"ExpressionAttributeNames": names} if names else {}),
        }
        items: list[StoredInvoice] = []
        while len(items) < limit:
            page = self.client.query(**query, Limit=min(1000, limit - len(items)))
            items += [_invoice(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items

    def transition(
        self,
        inv: StoredInvoice,
        doc: dict[str, Any],
        status: InvoiceStatus,
        entry: AuditEntry,
        *,
        marker: str | None = None,
    ) -> TransitionResult:
        """Move ``inv`` (as read) to ``status`` with ``doc``, on the condition that it is still
        at the version read; the audit entry, and ``marker`` (a payment's reference, used once)
        in the same transaction. An invoice leaving the open states leaves the ``open`` index."""
        still_open = status in (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE)
        update = {
            "TableName": self.table,
            "Key": {"pk": s(f"I#{inv.id}")},
            "UpdateExpression": "SET #st = :st, doc = :doc, version = :next, updated_at = :at"
            + ("" if still_open else " REMOVE #open"),
            "ConditionExpression": "version = :v AND #st = :was",
            "ExpressionAttributeNames": {"#st": "status", **({} if still_open else {"#open": "open"})},
            "ExpressionAttributeValues": {
                ":st": s(status.value),
                ":doc": s(doc_text(doc)),
                ":next": num(inv.version + 1),
                ":v": num(inv.version),
                ":was": s(inv.status.value),
                ":at": s(_at(entry.at)),
            },
        }
        items: list[dict[str, Any]] = [{"Update": update}, {"Put": _audit_put(entry)}]
        if marker is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {"pk": s(f"P#{inv.id}#{marker}")},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            reasons = _reasons(exc)
            if marker is not None and len(reasons) == 3 and reasons[2] == "ConditionalCheckFailed":
                return TransitionResult.REPEATED
            if _code(exc) in ("TransactionCanceledException", "TransactionConflictException"):
                return TransitionResult.STALE
            raise
        return TransitionResult.DONE

    def open_due(self, before: datetime, limit: int) -> list[StoredInvoice]:
        """Issued and overdue invoices (unpaid, not void) due before ``before``."""
        return self._query_all(
            _OPEN,
            "#open = :o AND due_at <= :before",
            {":o": s("O"), ":before": s(_at(before))},
            limit,
            names={"#open": "open"},
        )

    def list(
        self,
        *,
        tenant_id: str | None,
        status: InvoiceStatus | None,
        period: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[StoredInvoice], str | None]:
        scope = [tenant_id, status.value if status else None, period]
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if tenant_id is not None:
            index, hash_name, hash_value = _BY_TENANT, "tenant_id", tenant_id
            condition = "tenant_id = :h"
        elif status is not None:
            index, hash_name, hash_value = _BY_STATUS, "status", status.value
            condition, names["#st"] = "#st = :h", "status"
        else:
            index, hash_name, hash_value = _ALL, "feed", FEED
            condition = "feed = :h"
        values[":h"] = s(hash_value)
        if period is not None:
            condition += " AND begins_with(lk, :p)"
            values[":p"] = s(f"{period}#")
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if tenant_id is not None and status is not None:
            query["FilterExpression"] = "#st = :st"
            names["#st"], values[":st"] = "status", s(status.value)
        if names:
            query["ExpressionAttributeNames"] = names
        start = self._start_key(cursor, scope, hash_name, hash_value)
        limit = max(1, limit)
        items: list[StoredInvoice] = []
        while len(items) < limit:
            page = self.client.query(
                **query, Limit=limit - len(items), **({"ExclusiveStartKey": start} if start else {})
            )
            items += [_invoice(i) for i in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return items, cursors.encode({"f": scope, "lk": start["lk"]["S"]}) if start else None

    @staticmethod
    def _start_key(cursor: str | None, scope: list[Any], hash_name: str, hash_value: str) -> dict[str, Any] | None:
        """The ExclusiveStartKey a cursor of this list (these filters) stands for, rebuilt from
        its ``lk``; ValueError for any other cursor."""
        if not cursor:
            return None
        value = cursors.decode(cursor)
        if not isinstance(value, dict) or sorted(value) != ["f", "lk"] or value["f"] != scope:
            raise ValueError(NOT_A_CURSOR)
        lk = value["lk"]
        if not isinstance(lk, str) or not _LK.fullmatch(lk):
            raise ValueError(NOT_A_CURSOR)
        period, tenant, inv_id = lk.split("#")
        if (scope[2] is not None and period != scope[2]) or (scope[0] is not None and tenant != scope[0]):
            raise ValueError(NOT_A_CURSOR)  # outside the query's key range
        return {"pk": s(f"I#{inv_id}"), "lk": s(lk), hash_name: s(hash_value)}

    # ---------------------------------------------------------------- runs
    def create_run(self, run: InvoiceRun) -> bool:
        item = {
            "pk": s(f"R#{run.id}"),
            "id": s(run.id),
            "period": s(run.period),
            "created_at": s(_at(run.created_at)),
            "invoices": num(run.invoices),
            "skipped": num(run.skipped),
            "failed": num(run.failed),
            "failures": {"M": {f["tenant_id"]: s(f["error"][:MAX_ERROR]) for f in run.failures[:MAX_FAILURES]}},
        }
        if run.tenant_id:
            item["tenant_id"] = s(run.tenant_id)
        if run.expected is not None:
            item["expected"] = num(run.expected)
        try:
            self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_run(self, run_id: str, consistent: bool = False) -> InvoiceRun | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": s(f"R#{run_id}")}, ConsistentRead=consistent).get(
            "Item"
        )
        return _run(item) if item else None

    def set_run_expected(self, run_id: str, expected: int) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": s(f"R#{run_id}")},
                UpdateExpression="SET expected = :e",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":e": num(expected)},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise LookupError(f"no invoice run {run_id!r}") from None
            raise

    def record_outcome(self, run_id: str, tenant_id: str, outcome: str, error: str | None = None) -> None:
        """The outcome item and the run's counters (and, for a failure while the run shows
        fewer than ``MAX_FAILURES``, its error) change in one transaction, conditional on the
        outcome item's previous state: a redelivery, or a race, changes nothing twice. A lost
        answer is retried: the re-read finds the outcome when it was recorded."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: one of {sorted(OUTCOMES)}")
        key = {"pk": s(f"O#{run_id}#{tenant_id}")}
        note = outcome == "failed"  # keep the error on the run, while it has room
        last: Exception | None = None
        for attempt in range(OUTCOME_ATTEMPTS):
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            before = item["outcome"]["S"] if item else None
            if before == outcome or (before is not None and before != "failed"):
                return  # the same outcome again, or a success, which is final
            try:
                self.client.transact_write_items(
                    TransactItems=self._outcome_items(run_id, tenant_id, outcome, before, error, note)
                )
                return
            except ClientError as exc:
                reasons = _reasons(exc)
                if len(reasons) == 2 and reasons[1] == "ConditionalCheckFailed":
                    if self.get_run(run_id, consistent=True) is None:
                        raise LookupError(f"no invoice run {run_id!r}") from None
                    note = False  # the run exists, so its failures are full: count only
                elif not _retryable(exc):
                    raise
                last = exc
            except BotoCoreError as exc:
                last = exc  # no answer: the re-read tells whether it was recorded
            self._sleep(_pause(attempt))
        raise StoreBusy(f"run {run_id!r}: the outcome of {tenant_id!r} stayed contended") from last

    def _outcome_items(
        self, run_id: str, tenant_id: str, outcome: str, before: str | None, error: str | None, note: bool
    ) -> list[dict[str, Any]]:
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {"pk": s(f"O#{run_id}#{tenant_id}"), "outcome": s(outcome)},
        }
        if before is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "outcome = :before"
            put["ExpressionAttributeValues"] = {":before": s(before)}
        names = {"#c": OUTCOMES[outcome]}
        values: dict[str, Any] = {":one": num(1)}
        update, condition = "ADD #c :one", "attribute_exists(pk)"
        if before == "failed":  # a success replaces the failure: move the count, drop the error
            update = "ADD #c :one, failed :minus REMOVE failures.#t"
            values[":minus"], names["#t"] = num(-1), tenant_id
        elif note:
            update += " SET failures.#t = :e"
            condition += " AND size(failures) < :max"
            names["#t"] = tenant_id
            values[":e"], values[":max"] = s((error or "")[:MAX_ERROR]), num(MAX_FAILURES)
        bump = {
            "TableName": self.table,
            "Key": {"pk": s(f"R#{run_id}")},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        return [{"Put": put}, {"Update": bump}]  # the reasons' order: outcome, run
