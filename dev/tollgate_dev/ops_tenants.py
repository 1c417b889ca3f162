"""Operator commands on tenants: list, show, usage, limits, notifications (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO
from urllib.parse import quote

from .api_client import USAGE, ApiClient, CliError
from .tables import pairs, table

Emit = Callable[[Any, str], None]
"""Writes a document: as JSON with --json, else the text given."""


def tenant_path(tenant_id: str, tail: str = "") -> str:
    return f"/v1/tenants/{quote(tenant_id, safe='')}{tail}"


def pages(client: ApiClient, path: str, params: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
    """Up to ``limit`` items, following next_cursor (a filtered page may be short before the end)."""
    cursor, seen = None, 0
    while seen < limit:
        page = client.get(path, {**params, "limit": min(100, limit - seen), "cursor": cursor})
        for item in page["items"][: limit - seen]:
            seen += 1
            yield item
        cursor = page.get("next_cursor")
        if not cursor:
            return


TENANT_COLUMNS = [
    ("id", "ID"),
    ("name", "NAME"),
    ("plan", "PLAN"),
    ("timezone", "TIME ZONE"),
    ("health", "HEALTH"),
    ("overages", "OVERAGES"),
]


def _tenant_row(t: dict[str, Any]) -> dict[str, Any]:
    return {**t, "health": t["health"]["status"], "overages": t["health"]["has_overages"]}


def tenants_list(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    params = {
        "health_status": args.health,
        "plan": args.plan,
        "has_overages": "true" if args.overages else None,
        "q": args.q,
        "sort": args.sort,
    }
    items = list(pages(client, "/v1/tenants", params, args.limit))
    emit(items, table([_tenant_row(t) for t in items], TENANT_COLUMNS, empty="no tenants match"))
    return 0


QUOTA_COLUMNS = [
    ("meter", "METER"),
    ("window", "WINDOW"),
    ("used", "USED"),
    ("limit", "LIMIT"),
    ("percent", "PERCENT"),
    ("status", "STATUS"),
    ("enforcement", "ENFORCEMENT"),
    ("source", "SOURCE"),
    ("resets_at", "RESETS AT"),
]


def tenants_show(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    tenant = client.get(tenant_path(args.tenant_id))
    limits = client.get(tenant_path(args.tenant_id, "/limits"))
    quotas = client.get("/v1/quotas", {"tenant": args.tenant_id})
    source = {(e["meter"], e["window"]): e["source"] for e in limits["effective"]}
    rows = [{**q, "source": source.get((q["meter"], q["window"]))} for q in quotas["quotas"]]
    health = tenant["health"]
    text = "\n".join(
        [
            pairs(
                [
                    ("Tenant", tenant["id"]),
                    ("Name", tenant["name"]),
                    ("Plan", tenant["plan"]),
                    ("Time zone", tenant["timezone"]),
                    ("Currency", tenant["currency"]),
                    ("Health", health["status"] + (" (over a limit)" if health["has_overages"] else "")),
                    ("Billing e-mail", tenant["billing_email"]),
                ]
            ),
            "",
            table(rows, QUOTA_COLUMNS, empty="no limits (no plan and no overrides)"),
        ]
    )
    emit({"tenant": tenant, "limits": limits, "quotas": quotas["quotas"]}, text)
    return 0


def usage(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    params = {
        "tenant": args.tenant,
        "meter": args.meter,
        "window": args.window,
        "from": args.from_,
        "to": args.to,
        "group_by": args.group_by,
    }
    doc = client.get("/v1/usage", params)
    columns = [("start", "START"), ("end", "END"), ("value", "VALUE")]
    if args.group_by:
        columns.insert(2, ("group", args.group_by.upper()))
    rows = [{**p, "group": (p.get("group") or {}).get(args.group_by)} for p in doc["series"]]
    head = f"{doc['tenant']} {doc['meter']} ({doc['aggregation']}) by {doc['window']}, {doc['timezone']}"
    text = "\n".join([head, f"from {doc['from']} to {doc['to']}", "", table(rows, columns, empty="no usage")])
    emit(doc, f"{text}\n\ntotal: {doc['total'] if doc['total'] is not None else '-'}")
    return 0


def _number(text: str) -> int | float:
    """A limit as the API's JSON number: an int when whole (exact), else the shortest float."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise CliError(USAGE, f"--limit must be a number, not {text!r}")
    return int(value) if value == value.to_integral_value() else float(value)


def merged_overrides(current: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The tenant's overrides with the one for (meter, window) set to ``args.limit``. An existing
    override of that meter and window is replaced, keeping its enforcement and thresholds unless
    given; a new one starts from the plan's limit for that meter and window (else the API's
    defaults: hard, [0.8, 1.0])."""
    key = (args.meter, args.window)
    fields = ("meter", "window", "limit", "enforcement", "thresholds")
    overrides = [{f: o[f] for f in fields} for o in current["overrides"]]
    base = next((o for o in overrides if (o["meter"], o["window"]) == key), None)
    if base is None:
        plan = next((e for e in current["effective"] if (e["meter"], e["window"]) == key), None)
        base = {f: plan[f] for f in fields} if plan else {"meter": args.meter, "window": args.window}
        overrides.append(base)
    base["limit"] = _number(args.limit)
    if args.enforcement:
        base["enforcement"] = args.enforcement
    if args.thresholds:
        base["thresholds"] = [_number(t) for t in args.thresholds.split(",")]
    return overrides


LIMIT_COLUMNS = [
    ("meter", "METER"),
    ("window", "WINDOW"),
    ("limit", "LIMIT"),
    ("enforcement", "ENFORCEMENT"),
    ("thresholds", "THRESHOLDS"),
    ("source", "SOURCE"),
]


def limits_set(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    path = tenant_path(args.tenant_id, "/limits")
    overrides = merged_overrides(client.get(path), args)
    updated = client.put(path, {"limits": overrides, "reason": args.reason})
    text = f"{updated['tenant']}: {args.meter} per {args.window} is now {args.limit}\n\n"
    emit(updated, text + table(updated["effective"], LIMIT_COLUMNS))
    return 0


NOTIFICATION_COLUMNS = [
    ("occurred_at", "OCCURRED AT"),
    ("tenant_id", "TENANT"),
    ("type", "TYPE"),
    ("severity", "SEVERITY"),
    ("meter", "METER"),
    ("window", "WINDOW"),
    ("percent", "PERCENT"),
    ("read", "READ"),
    ("id", "ID"),
]


def notifications_list(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    params = {"tenant": args.tenant, "unread": "true" if args.unread else None, "type": args.type}
    items = list(pages(client, "/v1/notifications", params, args.limit))
    rows = [{**n, "read": n.get("read_at") is not None} for n in items]
    emit(items, table(rows, NOTIFICATION_COLUMNS, empty="no notifications"))
    return 0


def notifications_read(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    doc = client.post(f"/v1/notifications/{quote(args.notification_id, safe='')}/read", None, ok=(200,))
    emit(doc, f"{doc['id']} read at {doc['read_at']}")
    return 0


def json_or_text(as_json: bool, out: TextIO) -> Emit:
    def emit(document: Any, text: str) -> None:
        out.write((json.dumps(document, indent=2) if as_json else text) + "\n")

    return emit
