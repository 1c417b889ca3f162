"""``tollgate local fault add|list|clear``: the running local stack's fault injection (``/_local/faults``).

    tollgate local fault add gateway /v1/events --status 503 --count 5 [--phase after] [--method POST]
    tollgate local fault add sqs SendMessageBatch --seconds 10 [--queue usage]
    tollgate local fault list
    tollgate local fault clear

Standard library only, like the other control commands (cli.py finds the port and the admin key).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any


def add_parser(local_commands: Any) -> None:
    fault = local_commands.add_parser("fault", help="inject failures into the running local stack (gateway, SQS)")
    actions = fault.add_subparsers(dest="fault_command", required=True, metavar="{add,list,clear}")
    add = actions.add_parser("add", help="add a fault: gateway <path> or sqs <action>")
    add.add_argument("target", choices=["gateway", "sqs"])
    add.add_argument("what", help="gateway: the path (a trailing * matches a prefix); sqs: the action")
    add.add_argument("--status", type=int, help="gateway: the status to answer (default 503)")
    add.add_argument("--phase", choices=["before", "after"], help="gateway: before invoking (default) or after")
    add.add_argument("--method", help="gateway: only this method")
    add.add_argument("--queue", help="sqs: only queues whose URL contains this")
    add.add_argument("--count", type=int, help="for this many matching requests")
    add.add_argument("--seconds", type=float, help="for this long from now")
    actions.add_parser("list", help="the faults, with their hits")
    actions.add_parser("clear", help="remove every fault")
    for parser in actions.choices.values():
        parser.add_argument("--port", default=argparse.SUPPRESS, help="the local stack's port")
        parser.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help="the stack's state directory")
        parser.add_argument("--key", help="an admin key (default as for `local fire`)")


def spec_of(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON body of ``POST /_local/faults`` for ``fault add``."""
    spec: dict[str, Any] = {"target": args.target, "path" if args.target == "gateway" else "action": args.what}
    for name in ("status", "phase", "method", "queue", "count", "seconds"):
        if getattr(args, name) is not None:
            spec[name] = getattr(args, name)
    return spec


def run(args: argparse.Namespace, port: int, key: str) -> urllib.request.Request:
    """The control request for the command (cli.py sends it)."""
    url = f"http://127.0.0.1:{port}/_local/faults"
    headers = {"Authorization": f"Bearer {key}"}
    if args.fault_command == "add":
        body = json.dumps(spec_of(args)).encode()
        return urllib.request.Request(
            url, data=body, method="POST", headers={**headers, "Content-Type": "application/json"}
        )
    if args.fault_command == "clear":
        return urllib.request.Request(url, method="DELETE", headers=headers)
    return urllib.request.Request(url, headers=headers)


def print_answer(status: int, body: bytes) -> int:
    try:
        document = json.loads(body or b"null")
    except ValueError:
        document = body.decode(errors="replace")
    print(json.dumps(document, indent=2), file=sys.stdout if status < 400 else sys.stderr)
    return 0 if status < 400 else 1
