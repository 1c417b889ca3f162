"""The local stack: moto server, resources, functions, gateway, pollers and schedules together.

``LocalStack.start()`` points this process at an embedded moto server (``AWS_ENDPOINT_URL``,
fake credentials, ``AWS_MAX_ATTEMPTS=1`` so a moto 500 is not retried for a minute), creates
the template's resources, applies the union of every function's environment to ``os.environ``
and only then imports the handlers. Because the environment is process-wide, run the stack in
its own process (``tollgate local``) and before anything imports ``tollgate.adapters``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3

from .esm import SqsPoller, sqs_mappings
from .gateway import Gateway, GatewayServer, routes_from_template
from .moto_server import AtomicMotoServer
from .resources import CreatedResources, create_all
from .runtime import FunctionRuntime
from .schedules import Scheduler, ScheduleSpec, find_schedule, schedules_from_template
from .template import REGION, Template, merged_environment

logger = logging.getLogger("tollgate.local.stack")

_STRIPPED = ("AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


def aws_environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """What every AWS client in the process needs to talk to the embedded moto server only."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_MAX_ATTEMPTS": "1",
    }


class LocalStack:
    """Everything ``tollgate local`` runs, in this process."""

    def __init__(
        self,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        template_path: Path | None = None,
        admin_key: str | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.template_path = template_path
        self.admin_key = admin_key
        self.template: Template | None = None
        self.created: CreatedResources | None = None
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.schedules: list[ScheduleSpec] = []
        self._stop = threading.Event()
        self._moto: AtomicMotoServer | None = None
        self._server: GatewayServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bring everything up; returns once the gateway accepts requests."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        self._moto = AtomicMotoServer()  # one request at a time, 38-digit numbers: see moto_server.py
        self._moto.start()
        endpoint = self._moto.endpoint_url
        for name in [*_STRIPPED, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))]:
            os.environ.pop(name, None)
        os.environ.update(aws_environment(endpoint))

        template = Template.load(self.template_path, endpoint_url=endpoint)
        self.template = template
        session = boto3.Session()
        self.created = create_all(template, session)
        logger.info("moto at %s: created %s", endpoint, self.created.summary())

        functions = template.functions()
        os.environ.update(merged_environment(functions))
        self.runtimes = {logical_id: FunctionRuntime(spec) for logical_id, spec in functions.items()}
        for runtime in self.runtimes.values():
            runtime.warm()
        self.admin_key = self._bootstrap_admin_key()
        from tollgate.usecases.plans import seed_default_catalog

        seed_default_catalog()  # free, basic, premium, enterprise; never overwrites

        sqs = session.client("sqs")
        for mapping in sqs_mappings(template):
            if mapping.enabled:
                invoke = self.runtimes[mapping.function_id].invoke
                self._threads.append(SqsPoller(mapping, invoke, sqs, self._stop, region=template.region))
        self.schedules = schedules_from_template(template)
        self._threads.append(Scheduler(self.schedules, self._fire, self._stop))
        for thread in self._threads:
            thread.start()

        routes, api_id = routes_from_template(template)
        gateway = Gateway(
            routes,
            self.runtimes,
            api_id=api_id,
            region=template.region,
            account_id=template.account_id,
            control=self._control,
        )
        self._server = GatewayServer(gateway, self.host, self.port)
        self.port = self._server.port
        server_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway", daemon=True
        )
        server_thread.start()
        self._threads.append(server_thread)

    def stop(self) -> None:
        """Stop the gateway, pollers, scheduler and moto server (idempotent)."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=3)
        self._threads.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def _bootstrap_admin_key(self) -> str:
        from tollgate.domain.keys import Scope
        from tollgate.usecases.keys import create_key

        _, key = create_key(scope=Scope.ADMIN, name="bootstrap", key=self.admin_key)
        return key

    def _fire(self, spec: ScheduleSpec, at: datetime) -> Any:
        assert self.template is not None
        logger.info("firing schedule %s -> %s", spec.qualified_name, spec.function_id)
        return self.runtimes[spec.function_id].invoke(spec.payload(at, self.template))

    def _control(self, method: str, path: str) -> tuple[int, Any]:
        """``GET /schedules`` lists them; ``POST /schedules/<name>/fire`` runs one now."""
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if method == "GET" and parts == ["schedules"]:
            return 200, {"schedules": [spec.describe() for spec in self.schedules]}
        if method == "POST" and len(parts) == 3 and parts[0] == "schedules" and parts[2] == "fire":
            try:
                spec = find_schedule(self.schedules, parts[1])
            except LookupError as error:
                return 404, {"message": str(error)}
            try:
                result = self._fire(spec, datetime.now(UTC))
            except Exception as error:
                logger.exception("schedule %s failed", spec.qualified_name)
                return 500, {"schedule": spec.qualified_name, "message": f"{type(error).__name__}: {error}"}
            return 200, {"schedule": spec.qualified_name, "result": json.loads(json.dumps(result, default=str))}
        return 404, {"message": "Not Found"}


def serve(*, port: int, template_path: Path | None = None, admin_key: str | None = None) -> int:
    """Run the stack until SIGINT or SIGTERM; prints the URLs and the admin key once."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stack = LocalStack(port=port, template_path=template_path, admin_key=admin_key)
    try:
        stack.start()
        print(f"API:       {stack.base_url}", flush=True)
        print(f"Docs:      {stack.base_url}/docs", flush=True)
        print(f"Admin key: {stack.admin_key}", flush=True)
        print("Tollgate local stack ready (Ctrl-C stops it)", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
    print("Tollgate local stack stopped", flush=True)
    return 0
