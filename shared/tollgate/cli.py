"""The ``tollgate`` command.

    tollgate local [--port N]              run the whole system locally (moto + gateway)
    tollgate local fire <schedule>         run a schedule now on the running local stack
    tollgate local fire --list             list the local stack's schedules
    tollgate keys create --scope S ...     create an API key in the AWS the environment points to

Imports are lazy so ``tollgate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def _default_port() -> int:
    return int(os.environ.get("TOLLGATE_PORT", "3000"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tollgate", description="Tollgate usage metering.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{local,keys}")

    local = commands.add_parser("local", help="run the local stack (embedded moto server and HTTP gateway)")
    local.add_argument(
        "--port", type=int, default=_default_port(), help="gateway port (default $TOLLGATE_PORT or 3000)"
    )
    local.add_argument("--template", type=Path, help="template.yaml (default ./template.yaml)")
    local_commands = local.add_subparsers(dest="local_command", metavar="{fire}")
    fire = local_commands.add_parser("fire", help="run a schedule now on the running local stack")
    fire.add_argument("schedule", nargs="?", help="event name (Health), Function.Event, or the schedule's Name")
    fire.add_argument("--list", action="store_true", help="list the schedules instead")
    fire.add_argument("--port", type=int, default=argparse.SUPPRESS, help="the local stack's port")

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
    from tollgate.local.stack import serve
    from tollgate.local.template import TemplateError

    try:
        return serve(port=args.port, template_path=args.template, admin_key=os.environ.get("TOLLGATE_ADMIN_KEY"))
    except TemplateError as error:
        print(f"tollgate local: {error}", file=sys.stderr)
        return 1


def _fire(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    if not args.list and not args.schedule:
        print("tollgate local fire: name a schedule, or pass --list", file=sys.stderr)
        return 2
    base = f"http://127.0.0.1:{args.port}/_local/schedules"
    if args.list:
        request = urllib.request.Request(base)
    else:
        request = urllib.request.Request(f"{base}/{quote(args.schedule, safe='')}/fire", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except urllib.error.URLError as error:
        print(f"no local stack on port {args.port}: {error.reason}", file=sys.stderr)
        return 1
    document = json.loads(body or b"null")
    if args.list and status == 200:
        for spec in document["schedules"]:
            state = "enabled" if spec["enabled"] else "disabled"
            print(f"{spec['qualified_name']:<40} {spec['expression']:<24} {state:<9} {spec['name']}")
    else:
        print(json.dumps(document, indent=2))
    return 0 if status == 200 else 1


def _api_keys_table(args: argparse.Namespace) -> str | None:
    if args.table:
        return args.table
    if args.stack_name:
        import boto3

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
    os.environ["API_KEYS_TABLE"] = table  # before the models are imported: they read it then
    from tollgate.domain.errors import TollgateError
    from tollgate.domain.keys import Scope
    from tollgate.usecases.keys import create_key

    try:
        record, key = create_key(scope=Scope(args.scope), tenant_id=args.tenant_id, name=args.name)
    except TollgateError as error:
        fields = "".join(f"\n  {e.field}: {e.message}" for e in error.errors)
        print(f"tollgate keys create: {error.detail}{fields}", file=sys.stderr)
        return 2
    print(f"Created {args.scope} key {record.id} in {table}. It is shown only this once:", file=sys.stderr)
    print(key)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "local":
        return _fire(args) if args.local_command == "fire" else _run_local(args)
    return _create_key(args)


if __name__ == "__main__":
    sys.exit(main())
