"""The local stack's pure parts: YAML loader, intrinsics, conditions, routes, events, schedules."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tollgate_dev.local.esm import failed_ids, sqs_mappings
from tollgate_dev.local.gateway import (
    Authorizer,
    Gateway,
    HttpRequest,
    Route,
    RouteTable,
    authorizer_event,
    http_event,
    http_response,
    routes_from_template,
)
from tollgate_dev.local.schedules import (
    Cron,
    Rate,
    ScheduleExpressionError,
    Scheduler,
    find_schedule,
    parse_expression,
    schedules_from_template,
)
from tollgate_dev.local.template import (
    Template,
    TemplateError,
    load_yaml,
    merge_globals,
    merged_environment,
    table_specs,
)

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """
Parameters:
  Env: {Type: String, Default: dev}
  Email: {Type: String, Default: ""}
  Days: {Type: Number, Default: 400}
  Zones: {Type: CommaDelimitedList, Default: "a,b"}
Conditions:
  HasEmail: !Not [!Equals [!Ref Email, ""]]
  IsProd: !Equals [!Ref Env, prod]
  ProdWithEmail: !And [!Condition IsProd, !Condition HasEmail]
  ProdOrEmail: !Or [!Condition IsProd, !Condition HasEmail]
Globals:
  Function:
    Timeout: 10
    Layers: [layer-a]
    Environment:
      Variables:
        TABLE: !Ref Table
        DAYS: !Ref Days
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 5}
  Dlq:
    Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
  Bucket:
    Type: AWS::S3::Bucket
  Named:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-named"
  Subscription:
    Type: AWS::SNS::Subscription
    Condition: HasEmail
    Properties: {TopicArn: !Ref Topic, Protocol: email, Endpoint: !Ref Email}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn/
      Handler: app.lambda_handler
      Timeout: 30
      Layers: [layer-b]
      Environment:
        Variables:
          QUEUE_URL: !Ref Queue
          MODE: !If [IsProd, strict, !Ref AWS::NoValue]
      Events:
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 2 * * ? *)
            ScheduleExpressionTimezone: Asia/Kathmandu
            Input: '{"job": "nightly"}'
        Old:
          Type: Schedule
          Properties: {Schedule: rate(1 hour), Enabled: false}
"""


def sample(**parameters: str) -> Template:
    return Template(
        load_yaml(SAMPLE), base_dir=Path("/repo"), endpoint_url="http://127.0.0.1:5000", parameters=parameters
    )


# ------------------------------------------------------------------ loader and intrinsics
def test_short_tags_load_as_their_long_form() -> None:
    doc = load_yaml(
        "a: !Ref X\nb: !GetAtt Y.Arn\nc: !GetAtt [Y, QueueName]\nd: !Sub '${X}'\n"
        "e: !If [C, 1, 2]\nf: !Select [0, [p, q]]\ng: !Join ['-', [p, q]]\nh: !Condition C\n"
    )
    assert doc == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["Y", "Arn"]},
        "c": {"Fn::GetAtt": ["Y", "QueueName"]},
        "d": {"Fn::Sub": "${X}"},
        "e": {"Fn::If": ["C", 1, 2]},
        "f": {"Fn::Select": [0, ["p", "q"]]},
        "g": {"Fn::Join": ["-", ["p", "q"]]},
        "h": {"Condition": "C"},
    }


def test_refs_and_attributes_follow_the_physical_naming_rule() -> None:
    t = sample()
    assert t.resolve({"Ref": "Table"}) == "tollgate-local-table"
    assert t.resolve({"Ref": "Queue"}) == "http://127.0.0.1:5000/123456789012/tollgate-local-queue"
    assert t.resolve({"Ref": "Topic"}) == "arn:aws:sns:us-east-1:123456789012:tollgate-local-topic"
    assert t.resolve({"Ref": "Bucket"}) == "tollgate-local-bucket"
    assert t.resolve({"Ref": "Named"}).endswith("/tollgate-local-named")
    assert t.resolve({"Fn::GetAtt": ["Queue", "QueueName"]}) == "tollgate-local-queue"
    assert (
        t.resolve({"Fn::GetAtt": ["Table", "Arn"]})
        == "arn:aws:dynamodb:us-east-1:123456789012:table/tollgate-local-table"
    )
    assert t.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::tollgate-local-bucket"
    assert (
        t.properties("Queue")["RedrivePolicy"]["deadLetterTargetArn"]
        == "arn:aws:sqs:us-east-1:123456789012:tollgate-local-dlq"
    )
    with pytest.raises(TemplateError):
        t.resolve({"Fn::GetAtt": ["Table", "NoSuchAttribute"]})


def test_sub_join_select_split() -> None:
    t = sample()
    assert t.resolve({"Fn::Sub": "${AWS::StackName}/${AWS::Region}/${Bucket.Arn}/${!Literal}"}) == (
        "tollgate-local/us-east-1/arn:aws:s3:::tollgate-local-bucket/${Literal}"
    )
    assert t.resolve({"Fn::Sub": ["${A}-${Env}", {"A": {"Ref": "Days"}}]}) == "400-dev"
    assert t.resolve({"Fn::Join": [",", [{"Ref": "Env"}, "x"]]}) == "dev,x"
    assert t.resolve({"Fn::Select": [1, {"Ref": "Zones"}]}) == "b"
    assert t.resolve({"Fn::Split": ["/", "a/b"]}) == ["a", "b"]


def test_conditions_and_parameters() -> None:
    default, prod = sample(), sample(Env="prod", Email="ops@example.com")
    assert [default.condition(c) for c in ("HasEmail", "IsProd", "ProdWithEmail", "ProdOrEmail")] == [False] * 4
    assert [prod.condition(c) for c in ("HasEmail", "IsProd", "ProdWithEmail", "ProdOrEmail")] == [True] * 4
    assert [i for i, _ in default.resources_of_type("AWS::SNS::Subscription")] == []
    assert [i for i, _ in prod.resources_of_type("AWS::SNS::Subscription")] == ["Subscription"]
    with pytest.raises(TemplateError):
        default.condition("Nope")


def test_functions_merge_globals_and_drop_no_value() -> None:
    fn = sample().functions()["Fn"]
    assert fn.timeout_s == 30 and fn.memory_mb == 128
    assert fn.code_dir == Path("/repo/functions/fn")
    assert fn.environment == {
        "TABLE": "tollgate-local-table",
        "DAYS": "400",
        "QUEUE_URL": "http://127.0.0.1:5000/123456789012/tollgate-local-queue",
    }
    assert sample(Env="prod").functions()["Fn"].environment["MODE"] == "strict"
    assert merge_globals({"L": [1], "M": {"a": 1, "b": 1}, "S": 1}, {"L": [2], "M": {"b": 2}, "S": 2}) == {
        "L": [1, 2],
        "M": {"a": 1, "b": 2},
        "S": 2,
    }


def test_merged_environment_rejects_conflicting_values() -> None:
    fn = sample().functions()["Fn"]
    prod = sample(Env="prod").functions()["Fn"]  # adds MODE, agrees on the rest
    assert merged_environment({"A": fn, "B": prod}) == {**fn.environment, "MODE": "strict"}
    clash = dataclasses.replace(fn, environment={"TABLE": "another"})
    with pytest.raises(TemplateError, match="A and B give TABLE different values"):
        merged_environment({"A": fn, "B": clash})


def test_table_specs() -> None:
    (spec,) = sample().table_specs().values()
    assert spec.name == "tollgate-local-table"
    assert spec.key_schema == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert spec.ttl_attribute == "expires_at" and spec.billing_mode == "PAY_PER_REQUEST"


# ------------------------------------------------------------------ the real template
def test_the_real_template_gives_tables_routes_mappings_and_schedules() -> None:
    real = Template.load(ROOT / "template.yaml")
    assert {s.ttl_attribute for s in table_specs(real).values()} == {None, "expires_at"}
    routes, api_id = routes_from_template(real)
    by_key = {r.route_key: r for r in routes.routes}
    assert by_key["GET /health"].authorizer is None
    assert by_key["$default"].authorizer and by_key["$default"].authorizer.function_id == "AuthorizerFunction"
    assert api_id == "tollgate-local-httpapi"
    mappings = {m.name: m for m in sqs_mappings(real)}
    assert set(mappings) == {"ConsumerFunction.Usage", "RepackFunction.Pack", "InvoicesFunction.Work"}
    usage, pack = mappings["ConsumerFunction.Usage"], mappings["RepackFunction.Pack"]
    assert (usage.batch_size, usage.window_s, usage.report_batch_item_failures) == (10, 0.0, True)
    assert (pack.batch_size, pack.window_s, pack.report_batch_item_failures) == (1000, 1.0, True)
    assert usage.queue_arn != pack.queue_arn
    work = mappings["InvoicesFunction.Work"]
    assert (work.batch_size, work.report_batch_item_failures) == (10, True) and work.queue_arn != usage.queue_arn
    schedules = {s.event_id: s for s in schedules_from_template(real)}
    assert set(schedules) == {
        "Health",
        "AlertSweep",
        "Reconcile",
        "InvoiceRun",
        "InvoiceDaily",
        "AnalyticsRollup",
        "MonthlyReport",
    }
    assert schedules["InvoiceRun"].name == "tollgate-local-invoice-run"
    report = schedules["MonthlyReport"]
    assert (report.function_id, report.name, report.enabled) == (
        "ReportsFunction",
        "tollgate-local-monthly-report",
        True,
    )
    assert report.next_after(datetime(2026, 11, 20, tzinfo=UTC)) == datetime(2026, 12, 1, 13, tzinfo=UTC)
    health, sweep, reconcile = schedules["Health"], schedules["AlertSweep"], schedules["Reconcile"]
    assert (health.event_id, health.name, health.enabled) == ("Health", "tollgate-local-queue-health", True)
    assert (sweep.name, sweep.enabled) == ("tollgate-local-alert-sweep", True)
    assert (reconcile.event_id, reconcile.name, reconcile.enabled) == ("Reconcile", "tollgate-local-reconcile", True)
    assert (schedules["AnalyticsRollup"].name, schedules["AnalyticsRollup"].enabled) == (
        "tollgate-local-analytics-rollup",
        True,
    )


# ------------------------------------------------------------------ routes
def test_route_priority_exact_then_parameter_then_greedy_then_default() -> None:
    table = RouteTable(
        [
            Route("ANY", "$default", "Default"),
            Route("ANY", "/pets/{proxy+}", "Greedy"),
            Route("GET", "/pets/{id}", "Param"),
            Route("GET", "/pets/dog", "Exact"),
            Route("ANY", "/pets/dog", "AnyExact"),
        ]
    )

    def target(method: str, path: str) -> tuple[str, dict[str, str]]:
        route, params = table.match(method, path)  # type: ignore[misc]
        return route.function_id, params

    assert target("GET", "/pets/dog") == ("Exact", {})
    assert target("DELETE", "/pets/dog") == ("AnyExact", {})
    assert target("GET", "/pets/cat%20s") == ("Param", {"id": "cat s"})
    assert target("POST", "/pets/cat") == ("Greedy", {"proxy": "cat"})
    assert target("GET", "/pets/a/b") == ("Greedy", {"proxy": "a/b"})
    assert target("GET", "/pets") == ("Default", {})
    assert target("GET", "/pets/") == ("Default", {})
    assert RouteTable([Route("GET", "/a", "A")]).match("POST", "/a") is None


# ------------------------------------------------------------------ events and responses
def _request(**overrides: Any) -> HttpRequest:
    fields = {
        "method": "POST",
        "path": "/v1/things/42",
        "query": "a=1&a=2&b=",
        "headers": [
            ("Host", "127.0.0.1:3000"),
            ("X-Dup", "1"),
            ("x-dup", "2"),
            ("Cookie", "c1=1; c2=2"),
            ("User-Agent", "ua"),
        ],
        "body": b'{"x": 1}',
    }
    return HttpRequest(**{**fields, **overrides})


def test_http_event_is_payload_format_2() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    route = Route("POST", "/v1/things/{id}", "Fn")
    event = http_event(_request(), route, {"id": "42"}, api_id="api", account_id="123", request_id="r1", now=now)
    assert event["version"] == "2.0" and event["routeKey"] == "POST /v1/things/{id}"
    assert event["rawPath"] == "/v1/things/42" and event["rawQueryString"] == "a=1&a=2&b="
    assert event["headers"] == {"host": "127.0.0.1:3000", "x-dup": "1,2", "user-agent": "ua"}
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"id": "42"}
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/v1/things/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "ua",
    }
    assert (context["stage"], context["apiId"], context["accountId"], context["requestId"]) == (
        "$default",
        "api",
        "123",
        "r1",
    )
    assert context["time"] == "02/Jan/2026:03:04:05 +0000" and context["timeEpoch"] == int(now.timestamp() * 1000)

    binary = http_event(
        _request(body=b"\xff\x00", query=""), route, {}, api_id="a", account_id="1", request_id="r", now=now
    )
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\xff\x00"
    assert "queryStringParameters" not in binary and "pathParameters" not in binary


def test_authorizer_event_is_a_v2_request_event() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    http = http_event(
        _request(), Route("ANY", "$default", "Fn"), {}, api_id="api", account_id="123", request_id="r", now=now
    )
    authorizer = Authorizer("Keys", "AuthFn", identity_headers=("x-dup",))
    event = authorizer_event(http, authorizer, region="us-east-1")
    assert event["type"] == "REQUEST" and event["version"] == "2.0"
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123:api/$default/POST/v1/things/42"
    assert event["identitySource"] == ["1,2"]
    assert "body" not in event and event["headers"] == http["headers"]


def test_http_response_follows_the_v2_rules() -> None:
    plain = http_response({"hello": "world"})
    assert (plain.status, plain.body) == (200, b'{"hello": "world"}')
    assert ("content-type", "application/json") in plain.headers
    assert http_response("text").body == b'"text"'
    full = http_response(
        {
            "statusCode": 201,
            "headers": {"x-a": 1},
            "multiValueHeaders": {"x-b": ["1", "2"]},
            "cookies": ["s=1"],
            "body": base64.b64encode(b"\x00").decode(),
            "isBase64Encoded": True,
        }
    )
    assert full.status == 201 and full.body == b"\x00"
    assert full.headers == [("x-a", "1"), ("x-b", "1"), ("x-b", "2"), ("set-cookie", "s=1")]


class FakeRuntime:
    def __init__(self, result: Any) -> None:
        self.result = result
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _gateway(authorized: bool, handler_result: Any, ttl_s: int = 0) -> tuple[Gateway, dict[str, FakeRuntime]]:
    authorizer = Authorizer("Keys", "Auth", identity_headers=("x-api-key",) if ttl_s else (), ttl_s=ttl_s)
    runtimes = {
        "Auth": FakeRuntime({"isAuthorized": authorized, "context": {"scope": "admin"}}),
        "Fn": FakeRuntime(handler_result),
    }
    routes = RouteTable([Route("GET", "/open", "Fn"), Route("ANY", "$default", "Fn", authorizer)])
    control = lambda method, path, request: (200, {"method": method, "path": path})  # noqa: E731
    gateway = Gateway(routes, runtimes, api_id="api", region="us-east-1", account_id="1", control=control)
    return gateway, runtimes  # type: ignore[return-value]


def test_gateway_authorizes_then_invokes() -> None:
    gateway, runtimes = _gateway(True, {"statusCode": 204})
    assert gateway.handle(_request(method="GET", path="/x", headers=[])).status == 204
    assert runtimes["Fn"].events[0]["requestContext"]["authorizer"] == {"lambda": {"scope": "admin"}}
    assert gateway.handle(_request(method="GET", path="/open", headers=[])).status == 204
    assert len(runtimes["Auth"].events) == 1  # the open route skips the authorizer


def test_gateway_denies_fails_and_guards_its_control_endpoints() -> None:
    denied, _ = _gateway(False, {"statusCode": 200})
    response = denied.handle(_request(method="GET", path="/x"))
    assert (response.status, response.body) == (403, b'{"message": "Forbidden"}')
    broken, _ = _gateway(True, RuntimeError("boom"))
    response = broken.handle(_request(method="GET", path="/x"))
    assert (response.status, response.body) == (500, b'{"message": "Internal Server Error"}')
    control = broken.handle(_request(method="POST", path="/_local/schedules/Health/fire"))
    assert control.status == 200 and b'"/schedules/Health/fire"' in control.body
    assert broken.handle(_request(method="POST", path="/_local/x", source_ip="10.0.0.1")).status == 403


def test_gateway_caches_authorizer_results_only_with_a_ttl() -> None:
    uncached, runtimes = _gateway(True, {"statusCode": 200})
    for _ in range(2):
        uncached.handle(_request(method="GET", path="/x"))
    assert len(runtimes["Auth"].events) == 2
    cached, runtimes = _gateway(True, {"statusCode": 200}, ttl_s=300)
    assert cached.handle(_request(method="GET", path="/x", headers=[])).status == 401  # identity source missing
    for key in ("k1", "k1", "k2"):
        cached.handle(_request(method="GET", path="/x", headers=[("X-Api-Key", key)]))
    assert [e["identitySource"] for e in runtimes["Auth"].events] == [["k1"], ["k2"]]


def test_failed_ids_follow_lambda_partial_batch_rules() -> None:
    ids = ["a", "b"]
    assert failed_ids(None, ids) == set()
    assert failed_ids({"batchItemFailures": []}, ids) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids) == {"a", "b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) == {"a", "b"}
    assert failed_ids("nonsense", ids) == {"a", "b"}


# ------------------------------------------------------------------ schedules
def test_rate_expressions() -> None:
    assert parse_expression("rate(5 minutes)") == Rate(timedelta(minutes=5))
    assert parse_expression("rate(1 hour)") == Rate(timedelta(hours=1))
    assert parse_expression("rate(2 days)") == Rate(timedelta(days=2))
    for bad in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(5 weeks)", "every 5 minutes"):
        with pytest.raises(ScheduleExpressionError):
            parse_expression(bad)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 12 * * ? *)", "2026-03-01T12:00", "2026-03-02T12:00"),
        ("cron(0/15 * * * ? *)", "2026-03-01T10:07", "2026-03-01T10:15"),
        ("cron(5,35 14 * * ? *)", "2026-03-01T14:05", "2026-03-01T14:35"),
        ("cron(0 8 1 * ? *)", "2026-03-01T09:00", "2026-04-01T08:00"),
        ("cron(0 9 ? * MON-FRI *)", "2026-03-06T09:00", "2026-03-09T09:00"),  # Fri -> Mon
        ("cron(0 0 L * ? *)", "2026-02-01T00:00", "2026-02-28T00:00"),
        ("cron(0 10 ? * 6L *)", "2026-03-01T00:00", "2026-03-27T10:00"),  # last Friday
        ("cron(0 10 ? * 2#1 *)", "2026-03-01T00:00", "2026-03-02T10:00"),  # first Monday
        ("cron(0 9 15W * ? *)", "2026-03-01T00:00", "2026-03-16T09:00"),  # 15th is a Sunday
        ("cron(0 0 1 JAN ? 2027)", "2026-03-01T00:00", "2027-01-01T00:00"),
        ("cron(30 1 29 FEB ? 2030)", "2026-03-01T00:00", None),
    ],
)
def test_cron_next_after(expression: str, after: str, expected: str | None) -> None:
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    result = parse_expression(expression).next_after(moment)
    assert result == (datetime.fromisoformat(expected).replace(tzinfo=UTC) if expected else None)


@pytest.mark.parametrize(
    "bad",
    ["cron(0 12 * * *)", "cron(0 12 * * MON *)", "cron(0 12 ? * ? *)", "cron(60 * * * ? *)", "cron(0 0 32 * ? *)"],
)
def test_invalid_cron_is_rejected(bad: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        parse_expression(bad)


def test_at_expression_fires_once() -> None:
    at = parse_expression("at(2026-05-01T10:00:00)")
    before = datetime(2026, 5, 1, 9, tzinfo=UTC)
    assert at.next_after(before) == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert at.next_after(datetime(2026, 5, 1, 10, tzinfo=UTC)) is None


def test_schedule_specs_from_a_template() -> None:
    t = sample()
    nightly, old = schedules_from_template(t)
    assert isinstance(nightly.expression, Cron) and nightly.zone == ZoneInfo("Asia/Kathmandu")
    # 02:00 in Kathmandu (+05:45) is 20:15 UTC the day before
    assert nightly.next_after(datetime(2026, 3, 1, tzinfo=UTC)) == datetime(2026, 3, 1, 20, 15, tzinfo=UTC)
    assert nightly.payload(datetime.now(UTC), t) == {"job": "nightly"}
    assert (old.enabled, old.name) == (False, "FnOld")
    scheduled = old.payload(datetime(2026, 3, 1, tzinfo=UTC), t)
    assert scheduled["detail-type"] == "Scheduled Event" and scheduled["time"] == "2026-03-01T00:00:00Z"
    assert find_schedule([nightly, old], "Nightly") is nightly
    assert find_schedule([nightly, old], "Fn.Old") is old
    assert find_schedule([nightly, old], "FnOld") is old
    with pytest.raises(LookupError):
        find_schedule([nightly, old], "Missing")
    with pytest.raises(LookupError, match="ambiguous"):
        find_schedule([nightly, nightly], "Nightly")


def test_a_scheduler_input_gets_its_context_attributes() -> None:
    """EventBridge Scheduler replaces <aws.scheduler.*> in a ScheduleV2 Input; the local stack too
    (the reconciliation reads its day from the scheduled time). A rule's Input is left as it is."""
    t = sample()
    nightly, old = schedules_from_template(t)
    text = '{"job": "x", "as_of": "<aws.scheduler.scheduled-time>", "more": ["<aws.scheduler.attempt-number>"], "arn": "<aws.scheduler.schedule-arn>"}'
    at = datetime(2026, 11, 21, 5, 30, tzinfo=ZoneInfo("Asia/Kathmandu"))
    payload = dataclasses.replace(nightly, input=json.loads(text)).payload(at, t)
    assert payload["as_of"] == "2026-11-20T23:45:00Z" and payload["more"] == ["1"] and payload["job"] == "x"
    assert payload["arn"] == f"arn:aws:scheduler:{t.region}:{t.account_id}:schedule/default/{nightly.name}"
    assert dataclasses.replace(old, input=json.loads(text)).payload(at, t) == json.loads(text)


def test_the_template_s_reconcile_schedule_passes_its_scheduled_time() -> None:
    t = Template.load(ROOT / "template.yaml")
    spec = find_schedule(schedules_from_template(t), "Reconcile")
    assert (spec.function_id, spec.expression_text, spec.enabled) == ("AggregatorFunction", "cron(15 0 * * ? *)", True)
    fired = spec.payload(datetime(2026, 11, 21, 0, 15, tzinfo=UTC), t)
    assert fired == {"job": "reconcile", "as_of": "2026-11-21T00:15:00Z"}
    assert spec.next_after(datetime(2026, 11, 20, 23, 0, tzinfo=UTC)) == datetime(2026, 11, 21, 0, 15, tzinfo=UTC)
    assert find_schedule(schedules_from_template(t), "Health").payload(datetime.now(UTC), t) == {}


def test_scheduler_fires_due_schedules_and_skips_disabled_ones() -> None:
    nightly, old = schedules_from_template(sample())
    start = datetime(2026, 3, 1, tzinfo=UTC)
    times = iter([start] + [start + timedelta(days=1)] * 10)
    fired: list[tuple[str, datetime]] = []
    stop = threading.Event()

    def fire(spec: Any, at: datetime) -> None:
        fired.append((spec.qualified_name, at))
        stop.set()

    scheduler = Scheduler([nightly, old], fire, stop, clock=lambda: next(times))
    scheduler.start()
    assert stop.wait(5)
    scheduler.join(5)
    assert fired == [("Fn.Nightly", datetime(2026, 3, 1, 20, 15, tzinfo=UTC))]
