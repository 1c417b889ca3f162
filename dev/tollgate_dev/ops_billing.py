"""Operator commands on money: invoices list, run (--wait), download, and the monthly report."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from .api_client import REFUSED, ApiClient
from .ops_tenants import Emit, pages
from .tables import Progress, pairs, table

TIMED_OUT = 5  # --wait gave up while the run was still running

INVOICE_COLUMNS = [
    ("id", "ID"),
    ("number", "NUMBER"),
    ("tenant_id", "TENANT"),
    ("status", "STATUS"),
    ("period", "PERIOD"),
    ("total", "TOTAL"),
    ("currency", "CURRENCY"),
    ("due_at", "DUE AT"),
]


def invoices_list(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    params = {"tenant": args.tenant, "status": args.status, "period": args.period}
    items = list(pages(client, "/v1/invoices", params, args.limit))
    rows = [{**i, "period": i["period"]["start"][:7]} for i in items]
    emit(items, table(rows, INVOICE_COLUMNS, empty="no invoices"))
    return 0


def _run_text(run: dict[str, Any]) -> str:
    return pairs(
        [
            ("Run", run["id"]),
            ("Period", run["period"]),
            ("Tenant", run["tenant"] or "every tenant"),
            ("Status", run["status"]),
            ("Tenants", run["expected"]),
            ("Invoices", run["invoices"]),
            ("Skipped", run["skipped"]),
            ("Failed", run["failed"]),
        ]
        + [(f"  {f.get('tenant_id')}", f.get("error")) for f in run["failures"]]
    )


def wait_for_run(
    client: ApiClient,
    run: dict[str, Any],
    timeout: float,
    progress: Progress,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the run until it is done or ``timeout`` seconds pass; the bar shows billed/expected."""
    deadline = clock() + timeout
    path = f"/v1/invoice-runs/{quote(run['id'], safe='')}"
    try:
        while True:
            progress.update(run["invoices"] + run["skipped"] + run["failed"], run["expected"])
            if run["status"] == "done" or clock() >= deadline:
                return run
            sleep(0.5)
            run = client.get(path)
    finally:
        progress.close()


def invoices_run(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    run = client.post("/v1/invoice-runs", {"period": args.period, "tenant": args.tenant})
    if args.wait:
        run = wait_for_run(client, run, args.timeout, Progress(sys.stderr, f"invoicing {args.period}"))
    emit(run, _run_text(run))
    if not args.wait:
        return 0
    if run["status"] != "done":
        print(f"tollgate: the run is still running after {args.timeout:g} s; see it with --json", file=sys.stderr)
        return TIMED_OUT
    return REFUSED if run["failed"] else 0


def _write(data: bytes, output: str | None, stdout: BinaryIO) -> None:
    if output in (None, "-"):
        stdout.write(data)
        stdout.flush()
    else:
        Path(output).write_bytes(data)


def invoices_download(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    answer = client.download(f"/v1/invoices/{quote(args.invoice_id, safe='')}/download", {"format": args.format})
    _write(answer.body, args.output, sys.stdout.buffer)
    if args.output not in (None, "-"):
        print(f"saved {len(answer.body)} bytes to {args.output}", file=sys.stderr)
    return 0


def reports_get(client: ApiClient, args: argparse.Namespace, emit: Emit) -> int:
    answer = client.download(f"/v1/reports/{quote(args.period, safe='')}", {"format": args.format})
    _write(answer.body, args.output, sys.stdout.buffer)
    return 0
