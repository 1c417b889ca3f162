"""The operator CLI against a stub transport: exit codes, problem documents rendered (never a
traceback, never the key), redirects fetched without the key, the limits merge, --wait."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tollgate_dev import cli
from tollgate_dev.api_client import Answer

KEY = "tg_0123456789abcdef_" + "s3cr3t" * 5

Route = Callable[[urllib.request.Request], Answer]


class Stub:
    """Answers by ``METHOD path`` (the query string ignored); records every request."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request, timeout: float) -> Answer:
        self.requests.append(request)
        path = request.full_url.split("?")[0].split("://", 1)[1]
        path = path[path.index("/") :]
        answer = self.routes[f"{request.get_method()} {path}"]
        if callable(answer):
            return answer(request)
        if isinstance(answer, list):  # answered in turn
            answer = answer.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def body(self, n: int) -> Any:
        data = self.requests[n].data
        assert isinstance(data, bytes)
        return json.loads(data)


def ok(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(doc).encode())


def problem(status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> Answer:
    doc = {"type": "/problems/x", "title": title, "status": status, "detail": detail, "errors": errors or []}
    return Answer(status, {"Content-Type": "application/problem+json"}, json.dumps(doc).encode())


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    monkeypatch.setenv("TOLLGATE_URL", "http://api.test")
    monkeypatch.setenv("TOLLGATE_KEY", KEY)

    def run_(stub: Stub, *argv: str) -> int:
        from tollgate_dev import ops

        args = cli._parser().parse_args(list(argv))
        return ops.run(args, transport=stub)

    return run_


TENANT = {
    "id": "acme",
    "name": "Acme",
    "plan": "pro",
    "timezone": "Europe/Paris",
    "currency": "USD",
    "billing_email": None,
    "health": {"status": "critical", "has_overages": True, "updated_at": None},
}


def test_a_table_for_people_and_json_for_scripts(run: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    stub = Stub({"GET /v1/tenants": ok({"items": [TENANT], "next_cursor": None})})
    assert run(stub, "tenants", "list", "--health", "critical", "--q", "ac", "--sort", "usage:api_calls") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["ID", "NAME", "PLAN", "TIME", "ZONE", "HEALTH", "OVERAGES"]
    assert out.splitlines()[2].split() == ["acme", "Acme", "pro", "Europe/Paris", "critical", "yes"]
    query = stub.requests[0].full_url.split("?")[1]
    assert "health_status=critical" in query and "q=ac" in query and "sort=usage%3Aapi_calls" in query
    assert "plan=" not in query and "has_overages" not in query  # unset filters are not sent

    stub = Stub({"GET /v1/tenants": ok({"items": [TENANT], "next_cursor": None})})
    assert run(stub, "tenants", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == [TENANT]


def test_the_list_follows_cursors_up_to_the_limit(run: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    first = ok({"items": [{**TENANT, "id": "a"}], "next_cursor": "c1"})
    second = ok({"items": [{**TENANT, "id": "b"}, {**TENANT, "id": "c"}], "next_cursor": "c2"})
    stub = Stub({"GET /v1/tenants": [first, second]})
    assert run(stub, "tenants", "list", "--limit", "2", "--json") == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == ["a", "b"]
    assert "cursor=c1" in stub.requests[1].full_url and "limit=1" in stub.requests[1].full_url


def test_a_422_prints_the_title_and_each_field_error_and_exits_1(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    errors = [{"field": "from", "message": "Input should be a valid datetime"}]
    stub = Stub(
        {"GET /v1/usage": problem(422, "The request is not valid", "from: Input should be a valid datetime", errors)}
    )
    assert run(stub, "usage", "--tenant", "acme", "--meter", "m", "--from", "yesterday") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "tollgate usage: The request is not valid (422)",
        "  from: Input should be a valid datetime",
    ]


@pytest.mark.parametrize(
    ("answer", "code", "said"),
    [
        (problem(404, "Not found", "tenant 'x' not found"), 4, "Not found (404): tenant 'x' not found"),
        (problem(403, "Forbidden", "this key's scope is tenant"), 1, "Forbidden (403): this key's scope is tenant"),
        (problem(401, "Unauthorized", "unknown API key"), 1, "Unauthorized (401): unknown API key"),
        (problem(503, "Unavailable", "the queue refused"), 3, "Unavailable (503): the queue refused"),
        (Answer(502, {}, b"<html>Bad gateway</html>"), 3, "the API failed (HTTP 502)"),
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), 3, "cannot reach the API"),
        (TimeoutError("timed out"), 3, "cannot reach the API at http://api.test: timed out"),
    ],
)
def test_each_outcome_has_its_exit_code(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str], answer: Any, code: int, said: str
) -> None:
    stub = Stub({"GET /v1/tenants/x": answer})
    assert run(stub, "tenants", "show", "x") == code
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and KEY not in err


def test_no_key_or_a_bad_url_is_a_usage_error(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOLLGATE_KEY")
    assert run(Stub({}), "tenants", "list") == 2
    assert "TOLLGATE_KEY" in capsys.readouterr().err
    assert run(Stub({}), "tenants", "list", "--key", KEY, "--url", "localhost:3000") == 2
    assert "http://host:port" in capsys.readouterr().err


def test_argparse_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["limits", "set", "acme", "--meter", "m"])
    assert exit_.value.code == 2 and "--window" in capsys.readouterr().err


def test_the_key_goes_in_the_header_only(run: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    stub = Stub({"GET /v1/tenants": ok({"items": [], "next_cursor": None})})
    assert run(stub, "tenants", "list", "--key", KEY) == 0
    assert stub.requests[0].get_header("Authorization") == f"Bearer {KEY}"
    assert KEY not in stub.requests[0].full_url and KEY not in capsys.readouterr().out


def test_a_302_is_followed_without_the_key(run: Callable[..., int], capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    link = "http://s3.test/bucket/in_1.html?X-Amz-Signature=abc"
    stub = Stub(
        {
            "GET /v1/invoices/in_1/download": ok({"url": link}, 302, {"Location": link}),
            "GET /bucket/in_1.html": Answer(200, {"Content-Type": "text/html"}, b"<html>TG-000001</html>"),
        }
    )
    assert run(stub, "invoices", "download", "in_1") == 0
    assert capsysbinary.readouterr().out == b"<html>TG-000001</html>"
    assert stub.requests[1].full_url == link and stub.requests[1].get_header("Authorization") is None


def test_a_report_is_streamed_as_the_api_sends_it(
    run: Callable[..., int], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    csv = b"tenant,meter,usage\r\nacme,api_calls,12\r\n"
    stub = Stub({"GET /v1/reports/2026-11": Answer(200, {"Content-Type": "text/csv"}, csv)})
    assert run(stub, "reports", "get", "2026-11", "--format", "csv") == 0
    assert capsysbinary.readouterr().out == csv and "format=csv" in stub.requests[0].full_url


LIMITS = {
    "tenant": "acme",
    "plan": "pro",
    "overrides": [
        {"meter": "api_calls", "window": "month", "limit": 100, "enforcement": "soft", "thresholds": [0.5]},
        {"meter": "storage", "window": "lifetime", "limit": 5, "enforcement": "hard", "thresholds": [0.8, 1]},
    ],
    "effective": [
        {
            "meter": "api_calls",
            "window": "day",
            "limit": 10,
            "enforcement": "soft",
            "thresholds": [0.9],
            "source": "plan",
        }
    ],
    "api_rate_limit": {"per_second": 10, "burst": 20},
}


def _set_limit(run: Callable[..., int], *extra: str) -> Stub:
    stub = Stub({"GET /v1/tenants/acme/limits": ok(LIMITS), "PUT /v1/tenants/acme/limits": ok(LIMITS)})
    assert run(stub, "limits", "set", "acme", "--reason", "upsell", *extra) == 0
    return stub


def test_limits_set_replaces_the_same_meter_and_window_keeping_the_others(run: Callable[..., int]) -> None:
    stub = _set_limit(run, "--meter", "api_calls", "--window", "month", "--limit", "2500")
    assert stub.body(1) == {
        "limits": [
            {"meter": "api_calls", "window": "month", "limit": 2500, "enforcement": "soft", "thresholds": [0.5]},
            LIMITS["overrides"][1],
        ],
        "reason": "upsell",
    }


def test_limits_set_adds_a_new_one_from_the_plans_limit(run: Callable[..., int]) -> None:
    stub = _set_limit(run, "--meter", "api_calls", "--window", "day", "--limit", "12.5", "--enforcement", "hard")
    added = stub.body(1)["limits"][2]
    assert added == {"meter": "api_calls", "window": "day", "limit": 12.5, "enforcement": "hard", "thresholds": [0.9]}
    stub = _set_limit(run, "--meter", "tokens", "--window", "hour", "--limit", "7", "--thresholds", "0.5,1")
    assert stub.body(1)["limits"][2] == {"meter": "tokens", "window": "hour", "limit": 7, "thresholds": [0.5, 1]}


def test_limits_set_refuses_a_limit_that_is_not_a_number(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    stub = Stub({"GET /v1/tenants/acme/limits": ok(LIMITS)})
    assert (
        run(stub, "limits", "set", "acme", "--meter", "m", "--window", "day", "--limit", "lots", "--reason", "r") == 2
    )
    assert "--limit must be a number, not 'lots'" in capsys.readouterr().err
    assert len(stub.requests) == 1  # nothing was PUT


def _run_doc(status: str, done: int, expected: int | None, failed: int = 0) -> dict[str, Any]:
    return {
        "id": "run_1",
        "period": "2026-11",
        "tenant": None,
        "status": status,
        "expected": expected,
        "invoices": done,
        "skipped": 0,
        "failed": failed,
        "failures": [{"tenant_id": "acme", "error": "boom"}] if failed else [],
    }


def test_invoices_run_wait_polls_until_done(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tollgate_dev.ops_billing.time.sleep", lambda _: None)
    polls = [ok(_run_doc("running", 1, 3)), ok(_run_doc("done", 3, 3))]
    stub = Stub({"POST /v1/invoice-runs": ok(_run_doc("running", 0, None), 202), "GET /v1/invoice-runs/run_1": polls})
    assert run(stub, "invoices", "run", "2026-11", "--wait", "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "done" and len(stub.requests) == 3
    assert stub.body(0) == {"period": "2026-11", "tenant": None}


def test_invoices_run_wait_says_failures_and_timeouts(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tollgate_dev.ops_billing.time.sleep", lambda _: None)
    stub = Stub({"POST /v1/invoice-runs": ok(_run_doc("done", 2, 3, failed=1), 202)})
    assert run(stub, "invoices", "run", "2026-11", "--wait") == 1
    assert "acme:" in capsys.readouterr().out
    stub = Stub({"POST /v1/invoice-runs": ok(_run_doc("running", 0, 3), 202)})
    assert run(stub, "invoices", "run", "2026-11", "--wait", "--timeout", "0") == 5
    assert "still running after 0 s" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Answer(200, {"Content-Type": "text/html"}, b"<html>a web server</html>"), "is not JSON: is the URL"),
        (ok({"unexpected": True}), "the API's answer lacks 'items'"),
    ],
)
def test_an_answer_that_is_not_the_apis_exits_3(
    run: Callable[..., int], capsys: pytest.CaptureFixture[str], answer: Answer, said: str
) -> None:
    assert run(Stub({"GET /v1/tenants": answer}), "tenants", "list") == 3
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_a_limit_below_1_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["tenants", "list", "--limit", "0"])
    assert exit_.value.code == 2 and "must be a whole number from 1" in capsys.readouterr().err


def test_the_progress_bar_counts_tenants_with_an_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from tollgate_dev.api_client import ApiClient
    from tollgate_dev.ops_billing import wait_for_run
    from tollgate_dev.tables import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    polls = [ok({**_run_doc("running", 1, 4), "skipped": 1}), ok({**_run_doc("done", 2, 4, failed=1), "skipped": 1})]
    client = ApiClient("http://api.test", KEY, Stub({"GET /v1/invoice-runs/run_1": polls}))
    screen = Tty()
    done = wait_for_run(client, _run_doc("running", 0, None), 60, Progress(screen, "invoicing"), sleep=lambda _: None)
    assert done["status"] == "done"
    frames = [f.removesuffix("\x1b[K").rstrip("\n").removesuffix("\x1b[K") for f in screen.getvalue().split("\r")[1:]]
    assert [f.rsplit(" ", 1)[-1] for f in frames] == ["0/?", "2/4", "4/4"]
    assert screen.getvalue().endswith("\n")  # the shell prompt starts on its own line
