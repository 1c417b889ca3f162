"""The local gateway's HTTP edge (tollgate_dev/local/gateway.py), over raw sockets against a real
``GatewayServer`` with stub functions: what never reaches a route is answered as RFC 9457
problem+json, quickly, and a misbehaving client costs one log line, not a thread or a
traceback."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tollgate_dev.local.gateway import MAX_PAYLOAD_BYTES, Gateway, GatewayServer, Route, RouteTable

TIMEOUT_S = 1.0  # the server's socket timeout in these tests (30 s in the stack)


class Runtime:
    def __init__(self, result: Any) -> None:
        self.result = result

    def invoke(self, event: dict[str, Any]) -> Any:
        return self.result(event) if callable(self.result) else self.result


@pytest.fixture
def server() -> Iterator[GatewayServer]:
    echo = Runtime(lambda event: {"statusCode": 200, "body": json.dumps({"size": len(event.get("body") or "")})})
    big = Runtime({"statusCode": 200, "body": "x" * (8 * 1024 * 1024)})
    routes = RouteTable([Route("ANY", "/big", "Big"), Route("ANY", "$default", "Echo")])
    control = lambda method, path, request: (200, {"path": path})  # noqa: E731
    allowed = lambda request: ("authorization", "Bearer admin") in [(k.lower(), v) for k, v in request.headers]  # noqa: E731
    gateway = Gateway(
        routes,
        {"Echo": echo, "Big": big},
        api_id="api",
        region="us-east-1",
        account_id="1",
        control=control,
        control_auth=allowed,
    )
    server = GatewayServer(gateway, "127.0.0.1", 0, request_timeout_s=TIMEOUT_S)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if not server.closing:
            server.stop_accepting()
        thread.join(5)


def _connect(server: GatewayServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _exchange(server: GatewayServer, raw: bytes, *, keep_open: bool = True) -> tuple[int, dict[str, str], bytes, float]:
    """Send raw bytes, read one response; (status, headers, body, seconds)."""
    started = time.monotonic()
    with _connect(server) as sock:
        sock.sendall(raw)
        if not keep_open:
            sock.shutdown(socket.SHUT_WR)
        return (*_read_response(sock), time.monotonic() - started)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed without a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:length]


def _problem(status: int, headers: dict[str, str], body: bytes, expected: int, slug: str) -> dict[str, Any]:
    assert status == expected, body
    assert headers["content-type"] == "application/problem+json"
    document = json.loads(body)
    assert document["type"] == f"/problems/{slug}" and document["status"] == expected
    assert document["title"] and document["detail"]
    return document


def test_a_huge_content_length_is_413_before_reading_anything(server: GatewayServer) -> None:
    status, headers, body, seconds = _exchange(
        server,
        b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{",
    )
    document = _problem(status, headers, body, 413, "payload-too-large")
    assert "1000000000000" in document["detail"] and document["errors"][0]["field"] == "body"
    assert headers["connection"] == "close" and seconds < TIMEOUT_S


def test_expect_100_continue_with_a_huge_body_gets_413_not_continue(server: GatewayServer) -> None:
    status, headers, body, _ = _exchange(
        server,
        f"PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {MAX_PAYLOAD_BYTES + 1}\r\n\r\n".encode(),
    )
    _problem(status, headers, body, 413, "payload-too-large")


def test_a_chunked_body_over_the_limit_is_413(server: GatewayServer) -> None:
    raw = f"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{MAX_PAYLOAD_BYTES + 1:x}\r\n".encode()
    status, headers, body, _ = _exchange(server, raw)
    _problem(status, headers, body, 413, "payload-too-large")


def test_a_body_shorter_than_its_content_length_times_out_with_408(server: GatewayServer) -> None:
    """The client announces 100 bytes, sends 10 and waits: the thread is freed after the timeout."""
    status, headers, body, seconds = _exchange(
        server, b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    _problem(status, headers, body, 408, "request-timeout")
    assert TIMEOUT_S <= seconds < TIMEOUT_S + 3


def test_a_body_cut_short_by_the_client_is_400(server: GatewayServer) -> None:
    status, headers, body, _ = _exchange(
        server, b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789", keep_open=False
    )
    _problem(status, headers, body, 400, "bad-request")


@pytest.mark.parametrize(
    "raw, status, slug",
    [
        (b"GARBAGE\r\n\r\n", 400, "bad-request"),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400, "bad-request"),
        (b"GET / HTTP/x.y\r\nHost: t\r\n\r\n", 400, "bad-request"),
        (b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400, "bad-request"),
        (b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "bad-request"),
        (b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad-request"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "uri-too-long"),
        (b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431, "header-fields-too-large"),
        (
            b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n",
            431,
            "header-fields-too-large",
        ),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, "http-version-not-supported"),
    ],
    ids=[
        "one-word",
        "four-words",
        "bad-version",
        "content-length-text",
        "content-length-twice",
        "bad-chunk",
        "uri-too-long",
        "header-too-long",
        "too-many-headers",
        "http2",
    ],
)
def test_what_http_server_rejects_is_problem_json(server: GatewayServer, raw: bytes, status: int, slug: str) -> None:
    got, headers, body, _ = _exchange(server, raw)
    _problem(got, headers, body, status, slug)
    assert b"<html" not in body.lower()


def test_a_valid_request_still_works_after_the_bad_ones(server: GatewayServer) -> None:
    status, _, body, _ = _exchange(
        server, b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    assert status == 200 and json.loads(body) == {"size": 2}


def test_control_endpoints_need_the_credential(server: GatewayServer) -> None:
    status, headers, body, _ = _exchange(
        server,
        b"POST /_local/schedules/Health/fire HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    document = _problem(status, headers, body, 401, "unauthenticated")
    assert "admin key" in document["detail"] and headers["www-authenticate"] == "Bearer"
    status, _, body, _ = _exchange(
        server,
        b"POST /_local/schedules/Health/fire HTTP/1.1\r\nHost: t\r\n"
        b"Authorization: Bearer admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    assert status == 200 and json.loads(body) == {"path": "/schedules/Health/fire"}


def test_a_client_hanging_up_mid_response_is_one_log_line(server: GatewayServer, capfd, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tollgate.local.gateway")
    with _connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.recv(1024)  # the response has started
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    deadline = time.monotonic() + 5
    while not any("went away" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the server did not notice the reset"
        time.sleep(0.05)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err
    assert not [r for r in caplog.records if r.exc_info], "logged with a traceback"


def test_once_stopping_a_kept_alive_connection_gets_503(server: GatewayServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _read_response(sock)[0] == 200
        server.stop_accepting()
        assert server.wait_idle(1)
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body = _read_response(sock)
    _problem(status, headers, body, 503, "stopping")
