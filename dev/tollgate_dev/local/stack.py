"""The local stack: moto server, resources, functions, gateway, pollers and schedules together.

``LocalStack.start()`` points this process at an embedded moto server (``AWS_ENDPOINT_URL``,
fake credentials, ``AWS_MAX_ATTEMPTS=1`` so a moto 500 is not retried for a minute), creates
the template's resources, puts the saved state back into them (``state.py``), applies the
union of every function's environment to ``os.environ`` and only then imports the handlers.
Because the environment is process-wide, run the stack in its own process (``tollgate
local``) and before anything imports ``tollgate.adapters``.

``stop()`` shuts down in the order that loses nothing: the gateway stops accepting requests
and finishes the ones in flight, the SQS pollers drain their queues and then the DynamoDB
stream pollers catch up with their streams (bounded), the pollers and the scheduler stop, and
the state is saved; then moto stops. Whatever an SQS poller had not finished is still in its
queue, and is saved with it; the streams are not saved (the items are), so stream records not
delivered by then are not delivered after the restart. From the snapshot on, the moto server's
lock stays taken, so a request still in flight cannot write anything and answer success
after the state was read: its client gets no answer instead.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import boto3

from tollgate.domain.errors import TollgateError
from tollgate.domain.keys import Scope
from tollgate.wiring import Root

from . import state as local_state
from .esm import SqsPoller, StreamPoller, sqs_mappings, stream_mappings
from .faults import FaultRegistry
from .gateway import Gateway, GatewayServer, HttpRequest, routes_from_template
from .moto_server import AtomicMotoServer
from .resources import CreatedResources, create_all
from .runtime import FunctionRuntime
from .schedules import Scheduler, ScheduleSpec, find_schedule, schedules_from_template
from .sns_delivery import LocalSnsDelivery
from .sns_delivery import install as install_sns_delivery
from .template import REGION, Template, default_template_path, merged_environment

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("tollgate.local.stack")

_STRIPPED = ("AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")

# Shutdown budget (Ctrl-C must end the process within 5 s with a usual amount of data).
IN_FLIGHT_S = 1.5  # requests being handled when the gateway stops accepting
DRAIN_S = 1.5  # the pollers emptying their queues and catching up with their streams
JOIN_S = 1.2  # a poller's long poll is 1 s
LATE_S = 0.3  # requests still in flight after that; later ones block on moto until the process ends


class StackError(Exception):
    """Why the stack cannot start, in one line that says what to do."""


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


def check_port_free(host: str, port: int) -> None:
    """Fail fast, before seconds of start-up, when the gateway's port is taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise StackError(_port_message(host, port, error)) from error


def _port_message(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} is busy (another `tollgate local`?); stop what uses it, "
            f"or choose another port: TOLLGATE_PORT={port + 1} make run"
        )
    if error.errno == errno.EACCES:
        return f"port {port} needs privileges on this system; choose one above 1023: TOLLGATE_PORT=3000 make run"
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


class _StateLock:
    """One stack per state directory: two would overwrite each other's snapshot."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if fcntl is None:  # not POSIX: no lock
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise StackError(
                f"the local state in {self.path.parent} is in use by another `tollgate local` (pid {holder}); "
                "stop that one, or give this one its own: --state-dir DIR or TOLLGATE_STATE_DIR=DIR"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LocalStack:
    """Everything ``tollgate local`` runs, in this process.

    ``state_dir``: where the state is saved at ``stop()`` and restored at ``start()``; None
    keeps nothing. ``fresh``: forget the saved state first."""

    def __init__(
        self,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        template_path: Path | None = None,
        admin_key: str | None = None,
        state_dir: Path | None = None,
        fresh: bool = False,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.template_path = template_path
        self.admin_key = admin_key
        self.state_dir = state_dir
        self.fresh = fresh
        self.parameters = dict(parameters or {})
        self.template: Template | None = None
        self.created: CreatedResources | None = None
        self.restored: local_state.Restored | None = None
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.schedules: list[ScheduleSpec] = []
        self.timings: dict[str, float] = {}
        self._stop = threading.Event()
        self._moto: AtomicMotoServer | None = None
        self.sns_delivery = LocalSnsDelivery()  # e-mail to the local outbox, HTTP(S) POSTs off moto's lock
        self.faults = FaultRegistry()  # injected failures of the gateway and moto's SQS (/_local/faults)
        self._server: GatewayServer | None = None
        self._pollers: list[SqsPoller] = []
        self._stream_pollers: list[StreamPoller] = []
        self._threads: list[threading.Thread] = []
        self._session: boto3.Session | None = None
        self._lock = _StateLock(state_dir) if state_dir is not None else None
        self._started = False
        self._stopped = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def aws_endpoint(self) -> str | None:
        """The embedded moto server's URL (``aws --endpoint-url``), while it runs."""
        return self._moto.endpoint_url if self._moto is not None else None

    def start(self) -> None:
        """Bring everything up; returns once the gateway accepts requests. Raises StackError
        with a one-line reason when it cannot (busy port, unreadable state, bad admin key)."""
        started = time.monotonic()
        check_port_free(self.host, self.port)
        snapshot = self._read_state()
        self.timings["state_read_s"] = time.monotonic() - started
        if snapshot is not None:
            logger.info("read the saved state in %.2f s", self.timings["state_read_s"])

        endpoint = self._start_moto()
        template = Template.load(self.template_path, endpoint_url=endpoint, parameters=self.parameters)
        self.template = template
        session = self._session = boto3.Session()
        self.created = create_all(template, session)
        logger.info("moto at %s: created %s", endpoint, self.created.summary())
        if snapshot is not None:
            self._restore(snapshot, template, session)
            del snapshot

        self._start_functions(template)
        self._start_threads(template, session)
        self._start_gateway(template)
        gc.freeze()  # what start-up built (restored items included) lives on; the collector can skip it
        self._started = True
        self.timings["start_s"] = time.monotonic() - started
        logger.info("started in %.2f s", self.timings["start_s"])

    def _read_state(self) -> local_state.Snapshot | None:
        """Take the state directory's lock and read its snapshot (None: no state kept, or none yet)."""
        if self.state_dir is None:
            return None
        assert self._lock is not None
        self._lock.acquire()
        if self.fresh:
            local_state.clear(self.state_dir)
        try:
            return local_state.load(self.state_dir)
        except local_state.StateError as error:
            raise StackError(
                f"cannot restore the local state: {error}. Start fresh with `tollgate local --fresh` "
                f"(or TOLLGATE_FRESH=1 make run), which deletes it, or move {self.state_dir} aside"
            ) from error

    def _start_moto(self) -> str:
        """Start the embedded moto server and point this process's AWS clients at it only."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        self._moto = AtomicMotoServer(faults=self.faults)  # one request at a time, 38-digit numbers: see moto_server.py
        self._moto.start()
        self.sns_delivery.start()
        install_sns_delivery(self.sns_delivery)  # see sns_delivery.py: what moto's SNS does per protocol
        endpoint = self._moto.endpoint_url
        for name in [*_STRIPPED, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))]:
            os.environ.pop(name, None)
        os.environ.update(aws_environment(endpoint))
        return endpoint

    def _restore(self, snapshot: local_state.Snapshot, template: Template, session: boto3.Session) -> None:
        assert self.state_dir is not None and self.created is not None
        mark = time.monotonic()
        try:
            self.restored = local_state.restore(
                snapshot, self.created, session, account_id=template.account_id, region=template.region
            )
        except Exception as error:
            logger.debug("restoring the local state failed", exc_info=True)
            reason = str(error) if isinstance(error, local_state.StateError) else f"{type(error).__name__}: {error}"
            raise StackError(
                f"cannot restore the local state from {local_state.snapshot_path(self.state_dir)} ({reason}). "
                "Start fresh with `tollgate local --fresh` (or TOLLGATE_FRESH=1 make run), which deletes it"
            ) from error
        self.timings["restore_s"] = time.monotonic() - mark
        for skipped in self.restored.skipped:
            logger.warning("saved state not restored: %s", skipped)
        logger.info(
            "restored %s from %s in %.2f s",
            self.restored.summary(),
            local_state.snapshot_path(self.state_dir),
            self.timings["restore_s"],
        )

    def _start_functions(self, template: Template) -> None:
        """The functions' environment into os.environ, then their handlers imported (warm), the
        admin key and the default plans."""
        functions = template.functions()
        os.environ.update(merged_environment(functions))
        self.runtimes = {logical_id: FunctionRuntime(spec) for logical_id, spec in functions.items()}
        for runtime in self.runtimes.values():
            runtime.warm()
        self.root = Root()  # after os.environ holds the stack's settings; the stack's own environment: bootstrap key, default plans, control auth
        self.admin_key = self._bootstrap_admin_key()
        self.root.plans.seed_default_catalog()  # free, basic, premium, enterprise; never overwrites

    def _start_threads(self, template: Template, session: boto3.Session) -> None:
        """The SQS and DynamoDB stream pollers of the enabled event source mappings, and the
        scheduler. A stream is read from its StartingPosition: it holds only this run's records,
        since restored items go into the tables without stream records."""
        sqs = session.client("sqs")
        for mapping in sqs_mappings(template):
            if mapping.enabled:
                invoke = self.runtimes[mapping.function_id].invoke
                self._pollers.append(SqsPoller(mapping, invoke, sqs, self._stop, region=template.region))
        streams = session.client("dynamodbstreams")
        for stream_mapping in stream_mappings(template):
            if stream_mapping.enabled:
                invoke = self.runtimes[stream_mapping.function_id].invoke
                poller = StreamPoller(stream_mapping, invoke, streams, self._stop, region=template.region)
                self._stream_pollers.append(poller)
        self._threads.extend(self._pollers)
        self._threads.extend(self._stream_pollers)
        self.schedules = schedules_from_template(template)
        self._threads.append(Scheduler(self.schedules, self._fire, self._stop))
        for thread in self._threads:
            thread.start()

    def _start_gateway(self, template: Template) -> None:
        routes, api_id = routes_from_template(template)
        gateway = Gateway(
            routes,
            self.runtimes,
            api_id=api_id,
            region=template.region,
            account_id=template.account_id,
            control=self._control,
            control_auth=self._control_auth,
            faults=self.faults,
        )
        try:
            self._server = GatewayServer(gateway, self.host, self.port)
        except OSError as error:
            raise StackError(_port_message(self.host, self.port, error)) from error
        self.port = self._server.port
        server_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway", daemon=True
        )
        server_thread.start()
        self._threads.append(server_thread)

    def stop(self, *, save: bool = True) -> None:
        """Stop accepting requests, drain the queues, stop the threads, save the state, stop
        moto (idempotent). The state is saved only if the stack had started completely."""
        if self._stopped:
            return
        self._stopped = True
        began = time.monotonic()
        if self._server is not None:
            self._server.stop_accepting()
            if not self._server.wait_idle(IN_FLIGHT_S):
                logger.warning("stopping with requests still in flight")
        if self._started and (self._pollers or self._stream_pollers):
            self._drain(DRAIN_S)
        self._stop.set()
        deadline = time.monotonic() + JOIN_S
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        if self._server is not None:
            self._server.wait_idle(LATE_S)  # a request slower than IN_FLIGHT_S gets a last chance
        if save and self._started and self.state_dir is not None:
            self._save()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self.sns_delivery.stop()
        self._server = None
        if self._lock is not None:
            self._lock.release()
        self.timings["stop_s"] = time.monotonic() - began

    def _drain(self, budget_s: float) -> None:
        """Let the pollers take what their queues hold, then what the streams hold (the queues'
        functions write to the tables), without batching windows, for at most budget_s."""
        pollers: list[SqsPoller | StreamPoller] = [*self._pollers, *self._stream_pollers]
        for poller in pollers:
            poller.draining.set()
        deadline = time.monotonic() + budget_s
        if not self._drain_queues(deadline):
            return
        emptied = time.monotonic()
        while True:
            behind = [p.mapping.name for p in self._stream_pollers if (p.caught_up_at or 0) < emptied]
            if not behind:
                return
            if time.monotonic() >= deadline:
                logger.info("stream records not yet delivered to %s are not kept across the restart", behind)
                return
            time.sleep(0.05)

    def _drain_queues(self, deadline: float) -> bool:
        """Wait until the SQS pollers' queues are empty (False: they are not by the deadline)."""
        if not self._pollers:
            return True
        sqs = self._pollers[0].sqs
        names = (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        while True:
            try:
                left = sum(
                    int(value)
                    for poller in self._pollers
                    for value in sqs.get_queue_attributes(QueueUrl=poller.queue_url, AttributeNames=list(names))[
                        "Attributes"
                    ].values()
                )
            except Exception:
                logger.exception("cannot read the queues while draining")
                return False
            if left == 0:
                return True
            if time.monotonic() >= deadline:
                logger.info("%d messages not yet processed; they are saved and processed after the restart", left)
                return False
            time.sleep(0.05)

    def _save(self) -> None:
        assert self.template is not None and self.created is not None and self.state_dir is not None
        try:
            mark = time.monotonic()
            hold = self._moto.app.lock.acquire if self._moto is not None and self._moto.app is not None else None
            snapshot = local_state.capture(
                self.created,
                self._session,
                account_id=self.template.account_id,
                region=self.template.region,
                hold=hold,  # never released: moto stops next, and nothing may write after the snapshot
            )
            path = local_state.save(self.state_dir, snapshot)
            counts = snapshot.counts()
            self.timings["save_s"] = time.monotonic() - mark
            logger.info(
                "saved %d items, %d messages, %d objects to %s in %.1f s",
                counts["items"],
                counts["messages"],
                counts["objects"],
                path,
                self.timings["save_s"],
            )
        except Exception:
            logger.exception("the local state could not be saved; the previous snapshot is unchanged")

    def _bootstrap_admin_key(self) -> str:
        """``TOLLGATE_ADMIN_KEY`` if set; else the key saved with the state, if it is still an
        active admin key there; else a new one. The key in use is saved with the state, so the
        one printed stays valid across restarts and ``tollgate local fire`` can find it."""

        create_key = self.root.keys.create_key
        preset = self.admin_key
        saved = local_state.read_admin_key(self.state_dir) if self.state_dir and self.restored else None
        key = None
        for candidate in (preset, saved):
            if not candidate:
                continue
            try:
                record, key = create_key(scope=Scope.ADMIN, name="bootstrap", key=candidate)
            except TollgateError as error:
                if candidate is preset:
                    raise StackError(f"TOLLGATE_ADMIN_KEY cannot be used: {error.detail}") from error
                continue
            if record.active and record.scope is Scope.ADMIN:
                break
            if candidate is preset:
                raise StackError(
                    "TOLLGATE_ADMIN_KEY names a key that is revoked or not an admin key in the saved local state; "
                    "unset it to get a new admin key"
                )
            key = None
        if key is None:
            _, key = create_key(scope=Scope.ADMIN, name="bootstrap")
        if self.state_dir is not None:
            local_state.write_admin_key(self.state_dir, key)
        return key

    def _control_auth(self, request: HttpRequest) -> bool:
        """The control endpoints take what the API takes from an admin: an active admin key."""
        headers = {name.lower(): value for name, value in request.headers}
        presented = headers.get("x-api-key")
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            presented = credential.strip()
        try:
            principal = self.root.keys.authenticate(presented).principal
        except Exception:
            logger.exception("control endpoint: key check failed")
            return False
        return principal is not None and principal.is_admin

    def _fire(self, spec: ScheduleSpec, at: datetime) -> Any:
        assert self.template is not None
        logger.info("firing schedule %s -> %s", spec.qualified_name, spec.function_id)
        return self.runtimes[spec.function_id].invoke(spec.payload(at, self.template))

    def _control(self, method: str, path: str, request: HttpRequest) -> tuple[int, Any]:
        """``GET /schedules`` lists them; ``POST /schedules/<name>/fire`` runs one now;
        ``GET /outbox`` (or ``/outbox/<tenant id>``) lists the e-mails SNS delivered;
        ``GET|POST|DELETE /faults`` lists, adds or clears injected faults (faults.py)."""
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts == ["faults"]:
            return self.faults.control(method, request.body)
        if method == "GET" and parts[0] == "outbox" and len(parts) <= 2:
            return 200, {"items": self.sns_delivery.outbox(parts[1] if len(parts) == 2 else None)}
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


def resolve_state_dir(state_dir: Path | None, template_path: Path | None) -> Path:
    """``--state-dir``, else ``$TOLLGATE_STATE_DIR``, else ``.tollgate/`` next to template.yaml."""
    if state_dir is not None:
        return state_dir
    if env := os.environ.get("TOLLGATE_STATE_DIR"):
        return Path(env)
    return local_state.default_state_dir(template_path or default_template_path())


def serve(
    *,
    port: int,
    template_path: Path | None = None,
    admin_key: str | None = None,
    state_dir: Path | None = None,
    fresh: bool = False,
    parameters: dict[str, str] | None = None,
) -> int:
    """Run the stack until SIGINT or SIGTERM; prints the URLs and the admin key once. A second
    signal while stopping quits at once without saving (the previous snapshot stays)."""
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        if stop.is_set():
            print("Tollgate local stack quit without saving its state (the previous snapshot is kept)", flush=True)
            os._exit(130)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    stack = LocalStack(
        port=port,
        template_path=template_path,
        admin_key=admin_key,
        state_dir=state_dir,
        fresh=fresh,
        parameters=parameters,
    )
    try:
        stack.start()
        print(f"API:       {stack.base_url}", flush=True)
        print(f"Docs:      {stack.base_url}/docs", flush=True)
        print(f"Admin key: {stack.admin_key}", flush=True)
        print(f"AWS:       {stack.aws_endpoint} (the embedded moto: aws --endpoint-url)", flush=True)
        print(f"Outbox:    tollgate local outbox (e-mail alerts; GET {stack.base_url}/_local/outbox)", flush=True)
        if stack.state_dir is not None:
            restored = f" (restored {stack.restored.summary()})" if stack.restored else ""
            print(f"State:     {stack.state_dir}{restored}; --fresh starts empty", flush=True)
        print("Tollgate local stack ready (Ctrl-C stops it)", flush=True)
        while not stop.wait(0.5):
            pass
        print("Stopping: draining the queues and saving the state (Ctrl-C again quits without saving)", flush=True)
    finally:
        stack.stop()
        gc.freeze()  # nothing left to collect that matters: skip the collector's pass at exit
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print("Tollgate local stack stopped", flush=True)
    return 0
