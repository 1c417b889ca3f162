"""The embedded moto server, made to behave like AWS where Tollgate depends on it.

moto is not safe under concurrent requests: its DynamoDB ``TransactWriteItems`` applies a
transaction item by item and rolls a cancelled one back by restoring a copy of the whole table
taken when it began, so a cancellation can undo another request's committed write, and
iterating a table while another thread adds an item fails with "dictionary changed size during
iteration". DynamoDB isolates transactions (serializably, per item). ``SerializedMotoApp``
gives moto that property the simplest way - one request at a time - while the callers still
interleave their requests arbitrarily.

moto also does its number arithmetic (``ADD``, ``SET a = a + :d``) with ``Decimal`` in the
thread's decimal context, Python's default of 28 significant digits; DynamoDB keeps 38. Each
request runs in a context with 38 digits, so sums stay exact as on AWS. (moto adds two
integers without a decimal point as Python ints, which are exact anyway; any fraction on
either side takes the ``Decimal`` path.)

A long-polling ``ReceiveMessage`` (``WaitTimeSeconds`` > 0, JSON protocol) would hold the lock
for its whole wait, so it is emulated: short polls under the lock, 50 ms apart, until a message
arrives or the wait is over. A ReceiveMessage that omits ``WaitTimeSeconds`` on a queue whose
``ReceiveMessageWaitTimeSeconds`` is set still waits inside moto, holding the lock.

Two costs of moto grow with the data, which matters once the local stack keeps its state across
restarts: each ``TransactWriteItems`` deep-copies every table it touches for its rollback (seconds
per transaction with 50,000 items), and every ``Item`` moto ever creates, copies included, stays
referenced from ``Item.instances_tracked`` (a list only moto's dashboard reads; SQS messages
likewise). ``tune_moto()`` makes the rollback copy only the items the transaction names (their
hash-key partitions; the rest of the table is shared, which is safe because requests are
serialized) and the server empties those tracking lists after each request.

DynamoDB Streams (``tune_moto()`` again): moto writes a stream record for a write that changes
nothing (DynamoDB writes none), two INSERTs for an UpdateItem that creates an item (the first
with the keys only), and keeps the records of a cancelled transaction's writes (so a consumer
would see values that never existed). The tuned server writes none, one and none, as DynamoDB
does. moto also keeps every stream record and every shard iterator forever; the server keeps
the newest ``STREAM_RECORDS_KEPT`` records of each table (DynamoDB keeps 24 hours' worth: a
reader that falls further behind locally skips to the oldest record kept, with a warning) and
the newest ``SHARD_ITERATORS_KEPT`` iterators (an older one fails, as an expired one does).

Injected faults (faults.py): while an SQS fault is active, the action it names is answered 503
``ServiceUnavailable`` without reaching moto, so the stack's functions see real AWS failures
(and their SDK's own retries).

``AtomicMotoServer`` is ``moto.server.ThreadedMotoServer`` with this application; the local stack
and the tests that need moto in server mode use it.
"""

from __future__ import annotations

import copy
import decimal
import io
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .faults import SQS_UNAVAILABLE_BODY, SQS_UNAVAILABLE_HEADERS, FaultRegistry

DYNAMODB_PRECISION = 38  # significant digits of a DynamoDB number
STREAM_RECORDS_KEPT = 20_000  # per table; trimmed in steps of a tenth, after the request that grew it
SHARD_ITERATORS_KEPT = 1_000
_LONG_POLL_STEP_S = 0.05

logger = logging.getLogger("tollgate.local.moto")

StartResponse = Callable[..., Any]


class SerializedMotoApp:
    """WSGI middleware: one request at a time, in a 38-digit decimal context."""

    def __init__(
        self, app: Callable[[dict, StartResponse], Iterable[bytes]], faults: FaultRegistry | None = None
    ) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.faults = faults

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET") or ""
        if self.faults is not None and target.startswith("AmazonSQS.") and self.faults.has_sqs_faults():
            environ, failed = self._sqs_fault(environ, target.removeprefix("AmazonSQS."))
            if failed:
                start_response("503 Service Unavailable", list(SQS_UNAVAILABLE_HEADERS))
                return [SQS_UNAVAILABLE_BODY]
        if target == "AmazonSQS.ReceiveMessage":
            return self._receive(environ, start_response)
        return self._call(environ, start_response)

    def _sqs_fault(self, environ: dict[str, Any], action: str) -> tuple[dict[str, Any], bool]:
        """(the environ, with its body re-readable; whether an SQS fault takes this request)."""
        assert self.faults is not None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            queue_url = json.loads(raw or b"{}").get("QueueUrl")
        except (ValueError, AttributeError):
            queue_url = None
        fault = self.faults.sqs_hit(action, queue_url if isinstance(queue_url, str) else None)
        if fault is not None:
            logger.info("injected fault #%d: SQS %s answered 503", fault.id, action)
        return _with_body(environ, raw), fault is not None

    def _call(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        with self.lock, decimal.localcontext(prec=DYNAMODB_PRECISION):
            try:
                return list(self.app(environ, start_response))
            finally:
                _forget_tracked_instances()
                _trim_streams()

    def _receive(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            request = json.loads(raw or b"{}")
            wait = float(request.get("WaitTimeSeconds") or 0)
        except (ValueError, TypeError, AttributeError):
            request, wait = None, 0.0
        if request is None or not 0 < wait <= 20:
            return self._call(_with_body(environ, raw), start_response)
        body = json.dumps({**request, "WaitTimeSeconds": 0}).encode()
        deadline = time.monotonic() + wait
        while True:
            captured: list[Any] = []

            def capture(status: str, headers: list, exc_info: Any = None, captured: list = captured) -> Any:
                captured[:] = [status, headers, exc_info]
                return lambda data: None

            chunks = self._call(_with_body(environ, body), capture)
            status, headers, exc_info = captured
            if not status.startswith("200") or b'"Messages"' in b"".join(chunks) or time.monotonic() >= deadline:
                start_response(status, headers, exc_info)
                return chunks
            time.sleep(min(_LONG_POLL_STEP_S, max(0.0, deadline - time.monotonic())))


def _with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


# ------------------------------------------------------------------ moto tuning
# moto and werkzeug are imported where they are used, not at the top: they take ~0.5 s to
# import, and `tollgate local fire` imports the stack (hence this module) without running moto.
_transaction = threading.local()  # .touched: {table name: {hash key}} while a transaction runs
_written_streams: set[Any] = set()  # the stream shards written by the request being served
_tuned = False


def tune_moto() -> None:
    """Install the cheap transaction rollback (idempotent). Only for a serialized server."""
    global _tuned
    if _tuned:
        return
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - see "moto tuning"
    from moto.dynamodb.models.table import Table  # noqa: PLC0415 - see "moto tuning"

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _transaction.touched = _touched_partitions(self, transact_items)
        stream_lengths = _stream_lengths(self, transact_items)
        try:
            return original(self, transact_items)
        except Exception:
            for shard, length in stream_lengths:  # the records of writes the rollback undid
                del shard.items[length:]
            raise
        finally:
            _transaction.touched = None

    DynamoDBBackend.transact_write_items = transact_write_items
    Table.__deepcopy__ = _table_deepcopy
    _tune_streams()
    _tuned = True


def _tune_streams() -> None:
    """Stream records as DynamoDB writes them, and bounded stream state (see the module docstring)."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - see "moto tuning"
    from moto.dynamodb.models.table import StreamShard  # noqa: PLC0415 - see "moto tuning"
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend  # noqa: PLC0415 - see "moto tuning"

    add, get, update_item = StreamShard.add, StreamShard.get, DynamoDBBackend.update_item
    get_records = DynamoDBStreamsBackend.get_records

    def shard_add(self: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and old.to_json() == new.to_json():
            return  # DynamoDB writes no stream record for a write that changes nothing
        add(self, old, new)
        _written_streams.add(self)

    def shard_get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        if start < self.starting_sequence_number:
            logger.warning(
                "a reader of %s's stream is %d records behind the oldest one kept; it skips them",
                self.table.name,
                self.starting_sequence_number - start,
            )
            start = self.starting_sequence_number
        return get(self, start, quantity)

    def backend_update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        shard = getattr(self.tables.get(table_name), "stream_shard", None)
        before = len(shard.items) if shard is not None else 0
        item = update_item(self, table_name, key, *args, **kwargs)
        if shard is not None and len(shard.items) == before + 2:  # moto put the keys first, then the item
            del shard.items[before:]
            add(shard, None, item)
        return item

    def streams_get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        result = get_records(self, iterator_arn, limit)
        iterators = self.shard_iterators
        if len(iterators) > SHARD_ITERATORS_KEPT + SHARD_ITERATORS_KEPT // 10:
            for stale in list(iterators)[: len(iterators) - SHARD_ITERATORS_KEPT]:
                del iterators[stale]
        return result

    StreamShard.add = shard_add  # type: ignore[method-assign]
    StreamShard.get = shard_get  # type: ignore[method-assign]
    DynamoDBBackend.update_item = backend_update_item  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = streams_get_records  # type: ignore[method-assign]


def _stream_lengths(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, int]]:
    """(stream shard, record count) of each table the transaction names that has a stream."""
    shards = {}
    for entry in transact_items:
        for operation in entry.values():
            shard = getattr(backend.tables.get(operation.get("TableName")), "stream_shard", None)
            if shard is not None:
                shards[id(shard)] = (shard, len(shard.items))
    return list(shards.values())


def _trim_streams() -> None:
    """Drop the oldest records of the streams the request wrote, beyond STREAM_RECORDS_KEPT."""
    while _written_streams:
        shard = _written_streams.pop()
        excess = len(shard.items) - STREAM_RECORDS_KEPT
        if excess >= STREAM_RECORDS_KEPT // 10:
            del shard.items[:excess]
            shard.starting_sequence_number += excess  # keeps every record's sequence number


def _touched_partitions(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, set[Any]] | None:
    """The hash keys each table's items in the transaction have; None when unsure (full copy)."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415 - see "moto tuning"

    touched: dict[str, set[Any]] = {}
    try:
        for entry in transact_items:
            for kind, operation in entry.items():
                table = backend.tables.get(operation.get("TableName"))
                if table is None:
                    continue
                key = operation.get("Item") if kind == "Put" else operation.get("Key")
                touched.setdefault(table.name, set()).add(DynamoType(key[table.hash_key_attr]))
    except Exception:  # noqa: BLE001 - anything unexpected: moto's own full copy
        return None
    return touched


def _table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    """A rollback copy of a table for the running transaction: the touched partitions copied,
    the others shared. Any other deepcopy of a table copies everything, as before."""
    touched = getattr(_transaction, "touched", None)
    items = getattr(self, "items", None)
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    if touched is None or self.name not in touched or not isinstance(items, dict):
        for name, value in vars(self).items():
            setattr(clone, name, copy.deepcopy(value, memo))
        return clone
    vars(clone).update(vars(self))
    shared = copy.copy(items)  # same class (defaultdict), same partitions
    for hash_key in touched[self.name]:
        if hash_key in items:
            shared[hash_key] = copy.deepcopy(items[hash_key])
    clone.items = shared
    return clone


def _forget_tracked_instances() -> None:
    """moto keeps every model instance it ever created for its dashboard; drop DynamoDB's items
    and tables and SQS's messages (each usage message is up to 256 KB, and every receive copies it)."""
    for module_name, class_name in (
        ("moto.dynamodb.models.dynamo_type", "Item"),
        ("moto.dynamodb.models.table", "Table"),
        ("moto.sqs.models", "Message"),
    ):
        model = getattr(sys.modules.get(module_name), class_name, None)
        tracked = getattr(model, "instances_tracked", None)
        if tracked:
            tracked.clear()


class AtomicMotoServer:
    """A moto server on a thread, serving ``SerializedMotoApp`` (the ``ThreadedMotoServer`` API)."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0, *, faults: FaultRegistry | None = None) -> None:
        self._address = (ip_address, port)
        self.faults = faults
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: SerializedMotoApp | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - see "moto tuning"
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415 - see "moto tuning"

        tune_moto()
        self.app = SerializedMotoApp(DomainDispatcherApplication(create_backend_app), self.faults)
        self._server = make_server(*self._address, self.app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="moto", daemon=True
        )
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._server is not None, "call start() first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint_url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
