"""The ``tollgate`` command.

    tollgate local [--port N] [--state-dir DIR] [--fresh]
                                           run the whole system locally (moto + gateway); the
                                           state is kept in .tollgate/ across restarts
    tollgate local fire <schedule>         run a schedule now on the running local stack
    tollgate local fire --list             list the local stack's schedules
    tollgate local outbox [--tenant T]     the e-mails (alerts) the local stack's SNS delivered
    tollgate local fault add|list|clear    inject gateway or SQS failures (fault_cli.py)
    tollgate keys create --scope S ...     create an API key in the AWS the environment points to
    tollgate tenants|usage|limits|notifications|invoices|reports ...
                                           operator commands over the HTTP API (ops.py; docs/cli.md)
    tollgate demo [--start]                seed demo data (make demo: --start runs a stack first)

The local stack (boto3, YAML, moto) is imported only by the commands that run it, so
``tollgate --help``, ``tollgate keys create`` and the operator commands (standard library
only) stay fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tollgate.domain.errors import TollgateError
from tollgate.domain.keys import Scope, split_key
from tollgate_dev import demo_run, fault_cli, ops

KEY_COMMAND = """python3 -c 'import secrets; print(f"tg_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}")'"""


class UsageError(Exception):
    """A setting the user gave cannot work; the message says which and what to do."""


def _port(value: str, source: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(f"{source} must be a port number from 1 to 65535 (0: any free port), not {value!r}")
    return port


def _resolve_port(args: argparse.Namespace) -> int:
    if args.port is not None:
        return _port(args.port, "--port")
    return _port(os.environ.get("TOLLGATE_PORT", "3000"), "TOLLGATE_PORT")


def _check_admin_key(key: str) -> None:
    """The same rule as create_key's for a preset key, before seconds of start-up."""
    parts = split_key(key)
    if parts is None or len(parts[1]) < 22:
        raise UsageError(
            "TOLLGATE_ADMIN_KEY is not a Tollgate key: it must look like tg_<16 hex digits>_<at least 22 "
            f"characters>. Unset it to get a new one, or generate one with: {KEY_COMMAND}"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tollgate", description="Tollgate usage metering.")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{local,keys,demo,tenants,usage,limits,notifications,invoices,reports}"
    )

    local = commands.add_parser("local", help="run the local stack (embedded moto server and HTTP gateway)")
    local.add_argument("--port", help="gateway port (default $TOLLGATE_PORT or 3000)")
    local.add_argument("--template", type=Path, help="template.yaml (default ./template.yaml)")
    local.add_argument(
        "--state-dir",
        type=Path,
        help="where the state is kept across restarts (default $TOLLGATE_STATE_DIR, or .tollgate/ next to template.yaml)",
    )
    local.add_argument(
        "--fresh", action="store_true", help="start empty: delete the saved state first (also $TOLLGATE_FRESH=1)"
    )
    local.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters, as `sam deploy` takes them (e.g. InvoiceNetDays=0)",
    )
    local_commands = local.add_subparsers(dest="local_command", metavar="{fire,outbox,fault}")
    fire = local_commands.add_parser("fire", help="run a schedule now on the running local stack")
    fire.add_argument("schedule", nargs="?", help="event name (Health), Function.Event, or the schedule's Name")
    fire.add_argument("--list", action="store_true", help="list the schedules instead")
    fire.add_argument("--port", default=argparse.SUPPRESS, help="the local stack's port")
    fire.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help="the local stack's state directory")
    fire.add_argument(
        "--key",
        help="an admin key (default $TOLLGATE_ADMIN_KEY, else the one the stack saved in its state directory)",
    )

    outbox = local_commands.add_parser(
        "outbox", help="print the e-mails (alerts) the running local stack's SNS delivered, oldest first"
    )
    outbox.add_argument("--tenant", help="only this tenant's")
    outbox.add_argument("--json", action="store_true", help="print the entries as JSON")
    outbox.add_argument("--port", default=argparse.SUPPRESS, help="the local stack's port")
    outbox.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help="the local stack's state directory")
    outbox.add_argument(
        "--key",
        help="an admin key (default $TOLLGATE_ADMIN_KEY, else the one the stack saved in its state directory)",
    )

    fault_cli.add_parser(local_commands)

    keys = commands.add_parser("keys", help="manage API keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="{create}")
    create = keys_commands.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--scope", required=True, choices=["admin", "ingest", "tenant"])
    create.add_argument("--tenant-id", help="the tenant a tenant-scoped key belongs to")
    create.add_argument("--name", help="a label for the key")
    where = create.add_mutually_exclusive_group()
    where.add_argument("--table", help="the API keys table (default $API_KEYS_TABLE)")
    where.add_argument("--stack-name", help="read the table from this CloudFormation stack's ApiKeysTableName output")
    create.add_argument("--region", help="AWS region (default from the environment)")
    demo_run.add_parser(commands)
    ops.add_parsers(commands)
    return parser


def _run_local(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The functions' Powertools logger owns "tollgate"; the stack's own log stays plain, on stderr.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    local_logger = logging.getLogger("tollgate.local")
    local_logger.addHandler(handler)
    local_logger.setLevel(logging.INFO)
    local_logger.propagate = False
    try:
        port = _resolve_port(args)
        admin_key = os.environ.get("TOLLGATE_ADMIN_KEY") or None
        if admin_key is not None:
            _check_admin_key(admin_key)
    except UsageError as error:
        print(f"tollgate local: {error}", file=sys.stderr)
        return 2
    # The stack's modules load boto3, YAML and the gateway (~0.5 s): not for --help, `keys create`
    # or a usage error found above.
    from tollgate_dev.local.stack import StackError, check_port_free, resolve_state_dir, serve  # noqa: PLC0415 - ~0.5 s
    from tollgate_dev.local.template import TemplateError  # noqa: PLC0415 - ~0.5 s, as above

    fresh = args.fresh or os.environ.get("TOLLGATE_FRESH", "").lower() in ("1", "true", "yes")
    try:
        check_port_free("127.0.0.1", port)
        return serve(
            port=port,
            template_path=args.template,
            admin_key=admin_key,
            state_dir=resolve_state_dir(args.state_dir, args.template),
            fresh=fresh,
            parameters=_overrides(args.parameter_overrides),
        )
    except (TemplateError, StackError) as error:
        print(f"tollgate local: {error}", file=sys.stderr)
        return 1


def _overrides(pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs; a pair without ``=`` is a usage error."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"tollgate local: --parameter-overrides takes NAME=VALUE, not {pair!r}")
        out[name] = value
    return out


def _control_target_or_say(args: argparse.Namespace, command: str) -> tuple[int, str] | None:
    """``_control_target``, or None after printing why not (the command then exits with 2)."""
    try:
        return _control_target(args)
    except UsageError as error:
        print(f"tollgate local {command}: {error}", file=sys.stderr)
        return None


def _control_target(args: argparse.Namespace) -> tuple[int, str]:
    """The running stack's port and an admin key for its control endpoints; UsageError if none."""
    from tollgate_dev.local.stack import resolve_state_dir  # noqa: PLC0415 - ~0.5 s, as in _run_local
    from tollgate_dev.local.state import read_admin_key  # noqa: PLC0415 - ~0.5 s, as in _run_local

    port = _resolve_port(args)
    state_dir = resolve_state_dir(args.state_dir, args.template)
    key = args.key or os.environ.get("TOLLGATE_ADMIN_KEY") or read_admin_key(state_dir)
    if not key:
        raise UsageError(
            f"no admin key: pass --key, set TOLLGATE_ADMIN_KEY, or point --state-dir at the "
            f"stack's state directory (looked in {state_dir})"
        )
    return port, key


def _control_call(command: str, request: urllib.request.Request, port: int, key: str) -> tuple[int, bytes] | None:
    """The control endpoint's answer; None (said on stderr) when there is no stack or it refused the key."""
    try:
        status, body = _send(request)
    except urllib.error.URLError as error:
        print(f"no local stack on port {port}: {error.reason}", file=sys.stderr)
        return None
    if status == 401:
        print(
            f"tollgate local {command}: the stack refused the admin key ({key[:19]}...); pass the one it printed with --key",
            file=sys.stderr,
        )
        return None
    return status, body


def _fire(args: argparse.Namespace) -> int:
    if not args.list and not args.schedule:
        print("tollgate local fire: name a schedule, or pass --list", file=sys.stderr)
        return 2
    if (target := _control_target_or_say(args, "fire")) is None:
        return 2
    port, key = target
    answer = _control_call("fire", _control_request(args, port, key), port, key)
    if answer is None:
        return 1
    status, body = answer
    _print_control_answer(args, status, body)
    return 0 if status == 200 else 1


def _outbox(args: argparse.Namespace) -> int:
    if (target := _control_target_or_say(args, "outbox")) is None:
        return 2
    port, key = target
    url = f"http://127.0.0.1:{port}/_local/outbox"
    if args.tenant:
        url += f"/{quote(args.tenant, safe='')}"
    answer = _control_call("outbox", urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"}), port, key)
    if answer is None:
        return 1
    status, body = answer
    if status != 200:
        print(body.decode(errors="replace"), file=sys.stderr)
        return 1
    items = json.loads(body)["items"]
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("the outbox is empty (e-mail subscriptions' alerts land here)")
    for entry in items:
        print(f"#{entry['number']} {entry['at']}  to {entry['to']}  [{entry['tenant_id']} {entry['type']}]")
        print(f"  Subject: {entry['subject']}")
        print(f"  {entry['message']}")
    return 0


def _fault(args: argparse.Namespace) -> int:
    if (target := _control_target_or_say(args, "fault")) is None:
        return 2
    port, key = target
    answer = _control_call("fault", fault_cli.run(args, port, key), port, key)
    return 1 if answer is None else fault_cli.print_answer(*answer)


def _control_request(args: argparse.Namespace, port: int, key: str) -> urllib.request.Request:
    """``GET /_local/schedules`` for --list, else ``POST /_local/schedules/<name>/fire``."""
    base = f"http://127.0.0.1:{port}/_local/schedules"
    headers = {"Authorization": f"Bearer {key}"}
    if args.list:
        return urllib.request.Request(base, headers=headers)
    url = f"{base}/{quote(args.schedule, safe='')}/fire"
    return urllib.request.Request(url, data=b"", method="POST", headers=headers)


def _send(request: urllib.request.Request) -> tuple[int, bytes]:
    """The answer's status and body, an HTTP error's included; URLError when nothing answers."""
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _print_control_answer(args: argparse.Namespace, status: int, body: bytes) -> None:
    document: Any
    try:
        document = json.loads(body or b"null")
    except ValueError:
        document = body.decode(errors="replace")
    if args.list and status == 200:
        for spec in document["schedules"]:
            state = "enabled" if spec["enabled"] else "disabled"
            print(f"{spec['qualified_name']:<40} {spec['expression']:<24} {state:<9} {spec['name']}")
    else:
        print(json.dumps(document, indent=2))


def _api_keys_table(args: argparse.Namespace) -> str | None:
    if args.table:
        return args.table
    if args.stack_name:
        import boto3  # noqa: PLC0415 - ~0.4 s to import; --help and the local stack's usage errors skip it

        stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return outputs.get("ApiKeysTableName")
    return os.environ.get("API_KEYS_TABLE")


def _create_key(args: argparse.Namespace) -> int:
    if args.region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = args.region
    table = _api_keys_table(args)
    if not table:
        print("tollgate keys create: pass --table or --stack-name, or set API_KEYS_TABLE", file=sys.stderr)
        return 2
    os.environ["API_KEYS_TABLE"] = table
    from tollgate.wiring import Root  # noqa: PLC0415 - boto3 and pynamodb only for this command

    try:
        record, key = Root().keys.create_key(scope=Scope(args.scope), tenant_id=args.tenant_id, name=args.name)
    except TollgateError as error:
        fields = "".join(f"\n  {e.field}: {e.message}" for e in error.errors)
        print(f"tollgate keys create: {error.detail}{fields}", file=sys.stderr)
        return 2
    print(f"Created {args.scope} key {record.id} in {table}. It is shown only this once:", file=sys.stderr)
    print(key)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ops.COMMANDS:
        return ops.run(args)
    if args.command == "demo":
        return demo_run.run(args)
    if args.command == "local":
        if args.local_command == "outbox":
            return _outbox(args)
        if args.local_command == "fault":
            return _fault(args)
        return _fire(args) if args.local_command == "fire" else _run_local(args)
    return _create_key(args)


if __name__ == "__main__":
    sys.exit(main())
