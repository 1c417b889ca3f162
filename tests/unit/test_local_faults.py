"""The local stack's fault injection (tollgate_dev/local/faults.py): the registry on a fake clock,
the gateway's two phases with stub functions, and the moto server's SQS faults with a stub WSGI app."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest

from tollgate_dev.local.faults import MAX_FAULTS, FaultRegistry, FaultSpecError
from tollgate_dev.local.gateway import Gateway, HttpRequest, Route, RouteTable
from tollgate_dev.local.moto_server import SerializedMotoApp


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> FaultRegistry:
    return FaultRegistry(clock)


# ------------------------------------------------------------------ the registry
def test_a_count_fault_takes_exactly_count_matching_requests(registry: FaultRegistry) -> None:
    registry.add({"target": "gateway", "path": "/v1/events", "count": 2})
    assert registry.gateway_hit("GET", "/v1/usage", "before") is None  # another path: no hit
    assert registry.gateway_hit("POST", "/v1/events", "after") is None  # another phase: no hit
    assert [registry.gateway_hit("POST", "/v1/events", "before") is not None for _ in range(3)] == [True, True, False]
    [listed] = registry.describe()
    assert (listed["hits"], listed["active"], listed["remaining"]) == (2, False, {"count": 0})


def test_a_seconds_fault_ends_on_the_clock(registry: FaultRegistry, clock: Clock) -> None:
    registry.add({"target": "gateway", "path": "/v1/*", "seconds": 5})
    clock.now += 4.5
    assert registry.gateway_hit("POST", "/v1/consume", "before") is not None  # prefix match
    assert registry.describe()[0]["remaining"] == {"seconds": 0.5}
    clock.now += 0.5
    assert registry.gateway_hit("POST", "/v1/consume", "before") is None
    assert registry.describe()[0]["hits"] == 1


def test_count_and_seconds_whichever_ends_first(registry: FaultRegistry, clock: Clock) -> None:
    registry.add({"target": "sqs", "action": "SendMessageBatch", "count": 10, "seconds": 1})
    assert registry.sqs_hit("SendMessageBatch", None) is not None
    clock.now += 1
    assert registry.sqs_hit("SendMessageBatch", None) is None


def test_method_and_queue_filters(registry: FaultRegistry) -> None:
    registry.add({"target": "gateway", "path": "/v1/events", "method": "post", "count": 5})
    registry.add({"target": "sqs", "action": "SendMessageBatch", "queue": "pack", "count": 5})
    assert registry.gateway_hit("GET", "/v1/events", "before") is None
    assert registry.gateway_hit("POST", "/v1/events", "before") is not None
    assert registry.sqs_hit("SendMessageBatch", "http://moto/1/tollgate-usage") is None
    assert registry.sqs_hit("SendMessage", "http://moto/1/tollgate-pack") is None
    assert registry.sqs_hit("SendMessageBatch", "http://moto/1/tollgate-pack") is not None
    assert [f["hits"] for f in registry.describe()] == [1, 1]


def test_concurrent_hits_are_counted_once_each(registry: FaultRegistry) -> None:
    registry.add({"target": "gateway", "path": "/v1/events", "count": 500})
    hits: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            hit = registry.gateway_hit("POST", "/v1/events", "before") is not None
            with lock:
                hits.append(hit)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hits.count(True) == 500 and registry.describe()[0]["hits"] == 500


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"target": "disk", "count": 1}, "target"),
        ({"target": "gateway", "path": "/x"}, "count"),
        ({"target": "gateway", "path": "x", "count": 1}, "path"),
        ({"target": "gateway", "path": "/x", "count": 0}, "count"),
        ({"target": "gateway", "path": "/x", "count": True}, "count"),
        ({"target": "gateway", "path": "/x", "seconds": -1}, "seconds"),
        ({"target": "gateway", "path": "/x", "count": 1, "status": 200}, "status"),
        ({"target": "gateway", "path": "/x", "count": 1, "phase": "during"}, "phase"),
        ({"target": "gateway", "path": "/x", "count": 1, "action": "SendMessage"}, "action"),
        ({"target": "sqs", "count": 1}, "action"),
    ],
)
def test_bad_specs_name_the_field(registry: FaultRegistry, spec: dict[str, Any], field: str) -> None:
    with pytest.raises(FaultSpecError) as error:
        registry.add(spec)
    assert error.value.field == field
    status, document = registry.control("POST", json.dumps(spec).encode())
    assert status == 422 and document["errors"][0]["field"] == field
    assert registry.describe() == []


def test_the_control_endpoint_adds_lists_and_clears(registry: FaultRegistry) -> None:
    status, added = registry.control("POST", b'{"target": "gateway", "path": "/v1/events", "count": 3}')
    assert status == 201 and added["status"] == 503 and added["phase"] == "before" and added["hits"] == 0
    assert registry.control("POST", b"[1]")[0] == 422
    assert registry.control("GET", b"") == (200, {"faults": registry.describe()})
    assert registry.control("DELETE", b"") == (200, {"cleared": 1})
    assert registry.control("GET", b"") == (200, {"faults": []})
    assert registry.control("PUT", b"")[0] == 405


# ------------------------------------------------------------------ the gateway
class Runtime:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return {"statusCode": 202, "body": "{}"}


def _gateway(registry: FaultRegistry) -> tuple[Gateway, Runtime]:
    runtime = Runtime()
    routes = RouteTable([Route("ANY", "$default", "Fn")])
    gateway = Gateway(routes, {"Fn": runtime}, api_id="api", region="us-east-1", account_id="1", faults=registry)
    return gateway, runtime


def _post(path: str = "/v1/events") -> HttpRequest:
    return HttpRequest(method="POST", path=path, query="", headers=[], body=b"{}")


def test_phase_before_answers_without_invoking(registry: FaultRegistry) -> None:
    gateway, runtime = _gateway(registry)
    registry.add({"target": "gateway", "path": "/v1/events", "count": 2})
    statuses = [gateway.handle(_post()).status for _ in range(3)]
    assert statuses == [503, 503, 202] and len(runtime.events) == 1
    registry.add({"target": "gateway", "path": "/v1/events", "count": 1, "status": 429})
    response = gateway.handle(_post())
    headers = dict(response.headers)
    assert response.status == 429 and headers["retry-after"] == "1"
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(response.body)["type"] == "/problems/rate-limited"


def test_phase_after_invokes_and_loses_the_answer(registry: FaultRegistry) -> None:
    gateway, runtime = _gateway(registry)
    registry.add({"target": "gateway", "path": "/v1/events", "count": 1, "phase": "after", "status": 502})
    first, second = gateway.handle(_post()), gateway.handle(_post())
    assert (first.status, second.status) == (502, 202)
    assert len(runtime.events) == 2  # the function ran both times
    assert "retry-after" not in dict(first.headers)


def test_control_paths_are_never_faulted(registry: FaultRegistry) -> None:
    runtime = Runtime()
    control = lambda method, path, request: (200, {"body": request.body.decode()})  # noqa: E731
    gateway = Gateway(
        RouteTable([]), {"Fn": runtime}, api_id="a", region="r", account_id="1", control=control, faults=registry
    )
    registry.add({"target": "gateway", "path": "/*", "count": 5})
    response = gateway.handle(HttpRequest("POST", "/_local/faults", "", [], b'{"x": 1}'))
    assert response.status == 200 and json.loads(response.body) == {"body": '{"x": 1}'}
    assert registry.describe()[0]["hits"] == 0


# ------------------------------------------------------------------ moto's SQS
def _sqs_environ(action: str, queue_url: str) -> dict[str, Any]:
    body = json.dumps({"QueueUrl": queue_url, "Entries": []}).encode()
    return {
        "HTTP_X_AMZ_TARGET": f"AmazonSQS.{action}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }


def test_sqs_faults_answer_503_without_reaching_moto(registry: FaultRegistry) -> None:
    seen: list[bytes] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("200 OK", [])
        return [b"{}"]

    app = SerializedMotoApp(moto, registry)
    registry.add({"target": "sqs", "action": "SendMessageBatch", "count": 1})
    statuses: list[str] = []
    start = lambda status, headers, exc_info=None: statuses.append(status)  # noqa: E731
    body = b"".join(app(_sqs_environ("SendMessageBatch", "http://m/q"), start))
    assert statuses == ["503 Service Unavailable"] and seen == []
    assert json.loads(body)["__type"].endswith("#ServiceUnavailable")
    app(_sqs_environ("SendMessageBatch", "http://m/q"), start)  # the fault is spent: moto answers
    assert statuses[-1] == "200 OK" and json.loads(seen[0])["QueueUrl"] == "http://m/q"  # body intact


def test_the_registry_is_bounded(registry: FaultRegistry) -> None:
    for _ in range(MAX_FAULTS):
        registry.add({"target": "sqs", "action": "SendMessageBatch", "count": 1})
    status, document = registry.control("POST", b'{"target": "sqs", "action": "SendMessageBatch", "count": 1}')
    assert status == 422 and "clear" in document["message"]
    registry.clear()
    assert registry.control("POST", b'{"target": "sqs", "action": "SendMessageBatch", "count": 1}')[0] == 201
