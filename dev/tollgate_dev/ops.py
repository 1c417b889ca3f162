"""The operator commands' command line: tenants, usage, limits, notifications, invoices, reports.

Each talks to the API at ``--url`` (default ``$TOLLGATE_URL``, else the local stack at
``http://127.0.0.1:$TOLLGATE_PORT``, port 3000) with the admin key ``--key`` (default
``$TOLLGATE_KEY``). Only the standard library is imported: no boto3, no pydantic."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from . import ops_billing, ops_tenants
from .api_client import UNREACHABLE, ApiClient, CliError, Transport, urllib_transport

Handler = Callable[[ApiClient, argparse.Namespace, ops_tenants.Emit], int]
COMMANDS = ("tenants", "usage", "limits", "notifications", "invoices", "reports")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, not {text!r}")
    return value


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the API (default $TOLLGATE_URL, else http://127.0.0.1:$TOLLGATE_PORT or 3000)")
    common.add_argument("--key", help="an admin key (default $TOLLGATE_KEY; prefer the variable: flags show in ps)")
    common.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    return common


def _leaf(group: Any, name: str, handler: Handler, common: argparse.ArgumentParser, help_: str) -> Any:
    parser = group.add_parser(name, parents=[common], help=help_, description=help_)
    parser.set_defaults(handler=handler)
    return parser


def _tenants(commands: Any, common: argparse.ArgumentParser) -> None:
    tenants = commands.add_parser("tenants", help="list tenants, or show one with its limits and usage")
    group = tenants.add_subparsers(dest="tenants_command", required=True, metavar="{list,show}")
    listing = _leaf(group, "list", ops_tenants.tenants_list, common, "list tenants with their health")
    listing.add_argument("--health", choices=["healthy", "caution", "warning", "critical"])
    listing.add_argument("--plan", help="only tenants on this plan")
    listing.add_argument("--overages", action="store_true", help="only tenants over a limit")
    listing.add_argument("--q", help="id or name prefix, case-insensitive")
    listing.add_argument("--sort", metavar="usage:METER", help="most usage of METER this month first")
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    show = _leaf(group, "show", ops_tenants.tenants_show, common, "a tenant, its health and limits with usage")
    show.add_argument("tenant_id", metavar="ID")


def _usage(commands: Any, common: argparse.ArgumentParser) -> None:
    usage = _leaf(commands, "usage", ops_tenants.usage, common, "a tenant's usage series of a meter")
    usage.add_argument("--tenant", required=True)
    usage.add_argument("--meter", required=True)
    usage.add_argument("--window", choices=["hour", "day", "month"], default="day")
    usage.add_argument("--from", dest="from_", metavar="ISO", help="RFC 3339 (default: this month, tenant's zone)")
    usage.add_argument("--to", metavar="ISO", help="RFC 3339, exclusive")
    usage.add_argument("--group-by", help="one of the meter's group_by dimensions")


def _limits(commands: Any, common: argparse.ArgumentParser) -> None:
    limits = commands.add_parser("limits", help="set a tenant's limit override")
    group = limits.add_subparsers(dest="limits_command", required=True, metavar="{set}")
    set_ = _leaf(
        group,
        "set",
        ops_tenants.limits_set,
        common,
        "set one override (meter, window), keeping the others; an existing one is replaced",
    )
    set_.add_argument("tenant_id", metavar="ID")
    set_.add_argument("--meter", required=True)
    set_.add_argument("--window", required=True, choices=["minute", "hour", "day", "month", "lifetime"])
    set_.add_argument("--limit", required=True, help="in the meter's unit; 0 allows nothing")
    set_.add_argument("--reason", required=True, help="kept in the audit trail")
    set_.add_argument("--enforcement", choices=["hard", "soft"], help="default: as before, else the plan's, else hard")
    set_.add_argument("--thresholds", metavar="0.8,1.0", help="alert fractions (default: as before, else the plan's)")


def _notifications(commands: Any, common: argparse.ArgumentParser) -> None:
    notifications = commands.add_parser("notifications", help="the in-app notifications (alerts)")
    group = notifications.add_subparsers(dest="notifications_command", required=True, metavar="{list,read}")
    listing = _leaf(group, "list", ops_tenants.notifications_list, common, "notifications, newest first")
    listing.add_argument("--unread", action="store_true", help="only unread ones")
    listing.add_argument("--tenant", help="only this tenant's")
    listing.add_argument("--type", help="only this alert type (e.g. quota.threshold)")
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    read = _leaf(group, "read", ops_tenants.notifications_read, common, "mark a notification read")
    read.add_argument("notification_id", metavar="ID")


def _invoices(commands: Any, common: argparse.ArgumentParser) -> None:
    invoices = commands.add_parser("invoices", help="list, run and download invoices")
    group = invoices.add_subparsers(dest="invoices_command", required=True, metavar="{list,run,download}")
    listing = _leaf(group, "list", ops_billing.invoices_list, common, "invoices, newest period first")
    listing.add_argument("--tenant")
    listing.add_argument("--status", choices=["draft", "issued", "overdue", "paid", "void"])
    listing.add_argument("--period", metavar="YYYY-MM")
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    run = _leaf(group, "run", ops_billing.invoices_run, common, "bill an ended month (every tenant, or one)")
    run.add_argument("period", metavar="YYYY-MM")
    run.add_argument("--tenant", help="only this tenant")
    run.add_argument("--wait", action="store_true", help="wait until done (a progress bar on a terminal)")
    run.add_argument("--timeout", type=float, default=600, help="seconds --wait waits (default 600)")
    download = _leaf(group, "download", ops_billing.invoices_download, common, "an issued invoice's document")
    download.add_argument("invoice_id", metavar="ID")
    download.add_argument("--format", choices=["html", "json"], default="html")
    download.add_argument("--output", "-o", metavar="FILE", help="save it here (default: stdout)")


def _reports(commands: Any, common: argparse.ArgumentParser) -> None:
    reports = commands.add_parser("reports", help="monthly reports")
    group = reports.add_subparsers(dest="reports_command", required=True, metavar="{get}")
    get = _leaf(group, "get", ops_billing.reports_get, common, "a month's report, to stdout")
    get.add_argument("period", metavar="YYYY-MM")
    get.add_argument("--format", choices=["json", "csv"], default="json")
    get.add_argument("--output", "-o", metavar="FILE", help="save it here (default: stdout)")


def add_parsers(commands: Any) -> None:
    common = _common()
    for add in (_tenants, _usage, _limits, _notifications, _invoices, _reports):
        add(commands, common)


def base_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if os.environ.get("TOLLGATE_URL"):
        return os.environ["TOLLGATE_URL"]
    return f"http://127.0.0.1:{os.environ.get('TOLLGATE_PORT') or 3000}"


def run(args: argparse.Namespace, transport: Transport = urllib_transport) -> int:
    """Run an operator command; a failure is said on stderr (no traceback) and sets the exit code."""
    try:
        client = ApiClient(base_url(args), args.key or os.environ.get("TOLLGATE_KEY", ""), transport)
        code: int = args.handler(client, args, ops_tenants.json_or_text(args.json, sys.stdout))
        return code
    except CliError as error:
        print(f"tollgate {args.command}: {error.message}", file=sys.stderr)
        return error.code
    except (KeyError, TypeError, AttributeError) as error:  # JSON without the fields this CLI reads
        print(
            f"tollgate {args.command}: the API's answer lacks {error} (a different Tollgate version?)", file=sys.stderr
        )
        return UNREACHABLE
    except KeyboardInterrupt:
        print(f"tollgate {args.command}: interrupted", file=sys.stderr)
        return 130
