"""Pure parsing (tollgate.api.cloudevents) and validation (tollgate.domain.events) of incoming
usage events, their usage message form (tollgate.wire.usage_message) and the packing of
accepted events into SQS message bodies (tollgate.adapters.queue.pack). No AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from tollgate.adapters.queue import MAX_BATCH_ENTRIES, batches
from tollgate.api.cloudevents import CE_BATCH, CE_JSON, JSON, MalformedBody, read_body
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.events import MAX_EVENTS, Accepted, EventValidator, Rejected
from tollgate.domain.meters import Aggregation, MeterSpec, Rounding
from tollgate.domain.usage import UsageMessage
from tollgate.wire import usage_message
from tollgate.wire.usage_message import pack

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
METERS = {
    "api_calls": MeterSpec("api_calls", Aggregation.SUM, "value", ("region",)),
    "requests": MeterSpec("requests", Aggregation.COUNT),
    "temperature": MeterSpec("temperature", Aggregation.MAX),
    "users": MeterSpec("users", Aggregation.UNIQUE_COUNT, "user"),
}
TENANTS = {"acme": "Europe/Paris", "other": "UTC"}


class Catalog:
    """The validator's lookups, counting calls."""

    def __init__(self) -> None:
        self.tenant_calls: list[str] = []
        self.meter_calls: list[str] = []

    def timezone_of(self, tenant_id: str) -> str | None:
        self.tenant_calls.append(tenant_id)
        return TENANTS.get(tenant_id)

    def meter_of(self, key: str) -> MeterSpec | None:
        self.meter_calls.append(key)
        return METERS.get(key)


def validator(own_tenant: str | None = None, catalog: Catalog | None = None, now: datetime = NOW) -> EventValidator:
    catalog = catalog or Catalog()
    return EventValidator(now=now, own_tenant=own_tenant, timezone_of=catalog.timezone_of, meter_of=catalog.meter_of)


def event(**fields):
    base = {
        "id": "e1",
        "type": "api_calls",
        "subject": "acme",
        "time": "2026-11-20T09:00:00Z",
        "data": {"value": 2, "region": "eu"},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def one(raw, **kw) -> Accepted | Rejected:
    return validator(**kw).validate_one(0, raw)


def message(accepted: Accepted) -> dict:
    return json.loads(accepted.encoded)


def errors_of(result) -> dict[str, str]:
    assert isinstance(result, Rejected), result
    return {e.field: e.message for e in result.errors}


# ------------------------------------------------------------------ the four body modes
def test_json_object_and_array():
    assert read_body(JSON, {}, json.dumps(event())) == [event()]
    assert read_body(JSON, {}, json.dumps([event(), event(id="e2")]).encode()) == [event(), event(id="e2")]


def test_structured_mode_from_the_sdk():
    ce = CloudEvent(
        attributes={
            "type": "api_calls",
            "source": "/svc",
            "subject": "acme",
            "id": "e1",
            "time": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        },
        data={"value": 3},
    )
    msg = to_structured_event(ce)
    assert msg.headers["content-type"] == CE_JSON
    [raw] = read_body(CE_JSON, msg.headers, msg.body)
    accepted = one(raw)
    assert isinstance(accepted, Accepted)
    assert message(accepted) == {
        "id": "e1",
        "type": "api_calls",
        "time": "2026-11-20T09:00:00.000000Z",
        "value": "3",
        "data": {"value": 3},
        "source": "/svc",
    }


def test_structured_mode_is_one_object():
    with pytest.raises(ValidationFailed) as exc:
        read_body(CE_JSON, {}, json.dumps([event()]))
    assert exc.value.errors[0].field == "body" and CE_BATCH in exc.value.errors[0].message


def test_batch_mode_is_an_array():
    bodies = [
        json.loads(
            to_structured_event(
                CloudEvent(attributes={"type": "requests", "source": "/s", "id": f"b{i}", "subject": "acme"})
            ).body
        )
        for i in range(3)
    ]
    raws = read_body(CE_BATCH, {}, json.dumps(bodies))
    assert [r["id"] for r in raws] == ["b0", "b1", "b2"]
    batch = validator(now=datetime.now(UTC)).validate(raws)  # the SDK stamps the current time
    assert len(batch.accepted) == 3 and not batch.rejected
    with pytest.raises(ValidationFailed):
        read_body(CE_BATCH, {}, json.dumps(event()))


def test_binary_mode_from_the_sdk_percent_decodes_headers():
    ce = CloudEvent(
        attributes={
            "type": "api_calls",
            "source": "/my service",
            "subject": "acme",
            "id": "id with spaces",
            "time": datetime(2026, 11, 20, 10, 30, tzinfo=UTC) + timedelta(hours=-2),
            "datacontenttype": "application/json",
            "traceparent": "00-abc",
        },
        data={"value": 1.5, "region": "us"},
    )
    msg = to_binary_event(ce)
    assert msg.headers["ce-id"] == "id%20with%20spaces"  # the SDK percent-encodes, as the spec says
    [raw] = read_body(JSON, msg.headers, msg.body)
    assert raw["id"] == "id with spaces" and raw["source"] == "/my service"
    accepted = one(raw)
    assert message(accepted) == {
        "id": "id with spaces",
        "type": "api_calls",
        "time": "2026-11-20T08:30:00.000000Z",
        "value": "1.5",
        "dims": {"region": "us"},
        "data": {"value": 1.5, "region": "us"},
        "source": "/my service",
    }  # the extension (traceparent) is not stored


def test_binary_mode_without_body_has_no_data():
    [raw] = read_body(JSON, {"ce-id": "x", "ce-type": "requests", "ce-subject": "acme", "ce-specversion": "1.0"}, b"")
    assert raw == {"id": "x", "type": "requests", "subject": "acme", "specversion": "1.0"}
    assert message(one(raw))["value"] == "1"


def test_binary_mode_offset_plus_sign_survives():
    headers = {"ce-id": "x", "ce-type": "requests", "ce-subject": "acme", "ce-time": "2026-11-20T11:00:00+02:00"}
    [raw] = read_body(JSON, headers, b"")
    assert message(one(raw))["time"] == "2026-11-20T09:00:00.000000Z"


@pytest.mark.parametrize(
    "media_type, body, exc_type, field",
    [
        (JSON, b"", MalformedBody, None),
        (JSON, b"{", MalformedBody, None),
        (JSON, b'{"id": NaN}', MalformedBody, None),
        (JSON, b"[Infinity]", MalformedBody, None),
        (JSON, b"\xff\xfe", MalformedBody, None),
        (JSON, b"[" * 100_000 + b"]" * 100_000, MalformedBody, None),
        (JSON, b"42", ValidationFailed, "body"),
        (JSON, b'"event"', ValidationFailed, "body"),
        (JSON, b"[]", ValidationFailed, "body"),
        (CE_BATCH, b"[]", ValidationFailed, "body"),
        (JSON, json.dumps([event(id=str(i)) for i in range(MAX_EVENTS + 1)]).encode(), ValidationFailed, "body"),
    ],
)
def test_request_level_errors(media_type, body, exc_type, field):
    with pytest.raises(exc_type) as exc:
        read_body(media_type, {}, body)
    if field:
        assert exc.value.errors[0].field == field


def test_thousand_events_is_the_limit():
    assert len(read_body(JSON, {}, json.dumps([event(id=str(i)) for i in range(MAX_EVENTS)]))) == MAX_EVENTS


# ------------------------------------------------------------------ time
@pytest.mark.parametrize(
    "text, utc",
    [
        ("2026-11-20T09:00:00Z", "2026-11-20T09:00:00.000000Z"),
        ("2026-11-20t09:00:00z", "2026-11-20T09:00:00.000000Z"),
        ("2026-11-20T09:00:00.123456789Z", "2026-11-20T09:00:00.123456Z"),
        ("2026-11-20T10:00:00.5+01:00", "2026-11-20T09:00:00.500000Z"),
        ("2026-11-20T04:15:00-04:45", "2026-11-20T09:00:00.000000Z"),
        ("2026-11-20 09:00:00-00:00", "2026-11-20T09:00:00.000000Z"),
        # Around the Paris DST changes the offset says which instant is meant; UTC is unambiguous.
        ("2026-10-25T02:30:00+02:00", "2026-10-25T00:30:00.000000Z"),
        ("2026-10-25T02:30:00+01:00", "2026-10-25T01:30:00.000000Z"),
        ("2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00.000000Z"),
        ("2026-11-01T01:30:00-05:00", "2026-11-01T06:30:00.000000Z"),
    ],
)
def test_time_is_normalised_to_utc(text, utc):
    assert message(one(event(time=text)))["time"] == utc


@pytest.mark.parametrize(
    "text, says",
    [
        ("2026-11-20T10:00:00", "no UTC offset"),
        ("2026-11-20T10:00:00.123", "no UTC offset"),
        ("2026-11-20T10:00:00+25:00", "between -23:59 and +23:59"),
        ("2026-11-20T10:00:00+05:75", "between -23:59 and +23:59"),
        ("2026-11-20T10:00:00+0100", "RFC 3339"),
        ("2026-11-20", "RFC 3339"),
        ("20261120T100000Z", "RFC 3339"),
        ("yesterday", "RFC 3339"),
        ("2026-02-30T10:00:00Z", "not a valid date-time"),
        ("2026-11-20T24:00:00Z", "not a valid date-time"),
        (1795168800, "string"),
        ({"at": "now"}, "string"),
    ],
)
def test_bad_times(text, says):
    errors = errors_of(one(event(time=text)))
    assert says in errors["[0].time"]


def test_time_window_is_35_days_back_and_5_minutes_ahead():
    oldest = NOW - timedelta(days=35)
    latest = NOW + timedelta(minutes=5)
    assert isinstance(one(event(time=oldest.isoformat())), Accepted)
    assert isinstance(one(event(time=latest.isoformat())), Accepted)
    assert "35 days" in errors_of(one(event(time=(oldest - timedelta(seconds=1)).isoformat())))["[0].time"]
    assert "5 minutes" in errors_of(one(event(time=(latest + timedelta(seconds=1)).isoformat())))["[0].time"]
    # The window is about instants: +14:00 local that is still within 5 minutes of now is fine.
    assert isinstance(one(event(time="2026-11-21T00:04:00+14:00")), Accepted)


def test_time_defaults_to_now():
    assert message(one(event(time=...)))["time"] == "2026-11-20T10:00:00.000000Z"


# ------------------------------------------------------------------ values
@pytest.mark.parametrize(
    "value, says",
    [
        ("NaN", "plain decimal"),
        ("nan", "plain decimal"),
        ("Infinity", "plain decimal"),
        ("-Infinity", "plain decimal"),
        ("sNaN", "plain decimal"),
        (float("inf"), "finite"),  # what JSON 1e999 parses to
        ("1_000", "plain decimal"),  # Decimal() would read 1000
        (" 5 ", "plain decimal"),  # Decimal() would strip the spaces
        ("+5", "plain decimal"),
        ("1e30", "magnitude"),  # below DynamoDB's limit, but 10^16 of them would not fit a counter
        ("1e-131", "decimal places"),  # DynamoDB's smallest magnitude is 1e-130
        (1e-131, "decimal places"),
        ("0.0000000001", "decimal places"),  # 10 places; the default scale is 9
        ("abc", "number"),
        (True, "number"),
        (None, "number"),
        ([1], "number"),
        (-1, "negative"),
        ("-0.5", "negative"),
        (10**31, "magnitude"),
    ],
)
def test_bad_values_on_a_sum_meter(value, says):
    assert says in errors_of(one(event(data={"value": value})))["[0].data.value"]


def test_value_required_on_sum():
    assert errors_of(one(event(data={"region": "eu"}))) == {"[0].data.value": "is required"}
    assert errors_of(one(event(data=...))) == {"[0].data.value": "is required"}


@pytest.mark.parametrize(
    "raw, text",
    [
        (2, "2"),
        (0.1, "0.1"),
        ("2.50", "2.5"),
        (100, "100"),
        (1e12, "1000000000000"),
        ("1e6", "1000000"),
        ("0.000000001", "0.000000001"),
        (0, "0"),
        ("-0", "0"),
    ],
)
def test_good_values_are_plain_decimal_text(raw, text):
    assert message(one(event(data={"value": raw})))["value"] == text


def test_other_aggregations():
    assert message(one(event(type="temperature", data={"value": -4.5})))["value"] == "-4.5"
    assert message(one(event(type="requests", data=...)))["value"] == "1"
    assert message(one(event(type="users", data={"user": "u-42"})))["value"] == "u-42"
    assert "[0].data.user" in errors_of(one(event(type="users", data={"user": ""})))


def test_non_finite_number_anywhere_in_data_is_rejected():
    assert errors_of(one(event(data={"value": 1, "extra": {"x": float("inf")}}))) == {
        "[0].data": "numbers must be finite"
    }


def test_dimensions_and_data_are_kept():
    m = message(one(event(data={"value": 1, "region": "eu", "note": "x", "flag": True})))
    assert m["dims"] == {"region": "eu"} and m["data"] == {"value": 1, "region": "eu", "note": "x", "flag": True}
    assert "[0].data.region" in errors_of(one(event(data={"value": 1, "region": {"a": 1}})))


def test_data_must_be_an_object():
    for bad in ([1], "value=1", 3):
        assert "[0].data" in errors_of(one(event(data=bad)))


def test_encoded_event_is_the_usage_message_form():
    accepted = one(event(source="/svc"))
    as_dict = message(accepted)
    assert usage_message.event_dict(usage_message.event_of(as_dict)) == as_dict
    assert accepted.encoded == json.dumps(as_dict, separators=(",", ":"))


def test_too_large_event_is_rejected():
    assert "limit" in errors_of(one(event(data={"value": 1, "blob": "x" * 40_000})))["[0].data"]


# ------------------------------------------------------------------ attributes
@pytest.mark.parametrize(
    "fields, field",
    [
        ({"id": ...}, "[0].id"),
        ({"id": ""}, "[0].id"),
        ({"id": "x" * 257}, "[0].id"),
        ({"id": 7}, "[0].id"),
        ({"type": ...}, "[0].type"),
        ({"type": ["api_calls"]}, "[0].type"),
        ({"type": {"a": 1}}, "[0].type"),
        ({"type": "no such meter"}, "[0].type"),
        ({"type": "ghost"}, "[0].type"),
        ({"subject": "ghost"}, "[0].subject"),
        ({"subject": 5}, "[0].subject"),
        ({"subject": ""}, "[0].subject"),
        ({"subject": "x" * 1000}, "[0].subject"),
        ({"subject": ...}, "[0].subject"),
        ({"specversion": "0.3"}, "[0].specversion"),
        ({"specversion": 1.0}, "[0].specversion"),
        ({"source": ""}, "[0].source"),
        ({"source": 5}, "[0].source"),
        ({"data_base64": "AAEC"}, "[0].data_base64"),
        ({"Subject": "acme"}, "[0].Subject"),
        ({"tenant_id": "acme"}, "[0].tenant_id"),
        ({"datacontenttype": "text/plain"}, "[0].datacontenttype"),
    ],
)
def test_attribute_errors(fields, field):
    assert field in errors_of(one(event(**fields)))


def test_id_of_256_characters_is_fine():
    assert one(event(id="x" * 256)).id == "x" * 256


def test_extensions_and_known_optional_attributes_are_ignored_not_stored():
    accepted = one(
        event(
            specversion="1.0",
            traceparent="00-ab",
            partitionkey="p1",
            dataschema="https://x/s",
            datacontenttype="application/json; charset=utf-8",
        )
    )
    assert set(message(accepted)) == {"id", "type", "time", "value", "dims", "data"}


def test_all_errors_of_an_event_are_reported():
    errors = errors_of(
        one(
            {
                "id": 5,
                "type": "ghost",
                "subject": "ghost",
                "time": "2026-11-20T10:00:00",
                "data": [],
                "specversion": "2.0",
            }
        )
    )
    assert set(errors) == {"[0].id", "[0].type", "[0].subject", "[0].time", "[0].data", "[0].specversion"}


def test_non_object_event():
    assert errors_of(validator().validate_one(3, [1, 2])) == {"[3]": "must be an event object"}
    assert validator().validate([event(), "x"]).rejected[0].index == 1


# ------------------------------------------------------------------ scope
def test_tenant_key_may_omit_subject_and_may_not_name_another_tenant():
    accepted = one(event(subject=...), own_tenant="acme")
    assert accepted.tenant == "acme"
    assert isinstance(one(event(subject="acme"), own_tenant="acme"), Accepted)
    other = errors_of(one(event(subject="other"), own_tenant="acme"))["[0].subject"]
    unknown = errors_of(one(event(subject="ghost"), own_tenant="acme"))["[0].subject"]
    # the same message as for a tenant that does not exist: nothing leaks
    assert other == "tenant 'other' not found" and unknown == "tenant 'ghost' not found"
    assert other.replace("other", "ghost") == unknown
    assert errors_of(one(event(subject="ghost")))["[0].subject"] == unknown


def test_another_tenant_is_not_even_looked_up_for_a_tenant_key():
    catalog = Catalog()
    validator(own_tenant="acme", catalog=catalog).validate([event(subject="other")])
    assert catalog.tenant_calls == []


def test_admin_and_ingest_keys_must_name_the_tenant():
    assert "required" in errors_of(one(event(subject=...)))["[0].subject"]


# ------------------------------------------------------------------ a request
def test_duplicates_within_a_request_are_counted_and_sent_once():
    batch = validator().validate(
        [
            event(id="a"),
            event(id="a"),
            event(id="b"),
            event(id="a", subject="other"),
            event(id="a", data={"value": 9, "region": "eu"}),
        ]
    )
    assert [(a.tenant, a.id) for a in batch.accepted] == [("acme", "a"), ("acme", "b"), ("other", "a")]
    assert batch.duplicates == 2 and not batch.rejected


def test_a_rejected_event_does_not_claim_its_id():
    batch = validator().validate([event(id="a", time="bad"), event(id="a")])
    assert [a.index for a in batch.accepted] == [1] and batch.duplicates == 0 and batch.rejected[0].index == 0


def test_each_tenant_and_meter_is_looked_up_once_per_request_misses_included():
    catalog = Catalog()
    raws = [
        event(id=str(i), type="ghost" if i % 2 else "api_calls", subject="ghost" if i % 3 == 0 else "acme")
        for i in range(1000)
    ]
    batch = validator(catalog=catalog).validate(raws)
    assert sorted(catalog.tenant_calls) == ["acme", "ghost"]
    assert sorted(catalog.meter_calls) == ["api_calls", "ghost"]
    assert len(batch.accepted) + len(batch.rejected) == 1000
    assert batch.timezones == {"acme": "Europe/Paris"} and set(batch.meters) == {"api_calls"}


def test_rejected_carries_index_id_and_fields():
    batch = validator().validate([event(), event(id="e2", time="2026-11-20T10:00:00")])
    assert [r.as_dict() for r in batch.rejected] == [
        {
            "index": 1,
            "id": "e2",
            "errors": [{"field": "[1].time", "message": batch.rejected[0].errors[0].message}],
            "retryable": False,  # a validation error: sending it again as is cannot succeed
        }
    ]


# ------------------------------------------------------------------ packing
def _accepted(n: int, pad: int = 0) -> list[tuple[int, str, str]]:
    v = validator()
    out = []
    for i in range(n):
        a = v.validate_one(i, event(id=f"e{i}", data={"value": i, "region": "eu", "pad": "p" * pad}))
        out.append((a.index, a.meter, a.encoded))
    return out


def test_pack_one_message_decodes_to_the_events():
    events = _accepted(5)
    [packed] = pack("acme", "Europe/Paris", METERS, events)
    decoded = usage_message.decode(packed.body)
    assert decoded.tenant == "acme" and decoded.timezone == "Europe/Paris"
    assert list(decoded.meters) == ["api_calls"]  # only the meters its events use
    assert [e.id for e in decoded.events] == [f"e{i}" for i in range(5)]
    assert packed.indexes == (0, 1, 2, 3, 4)
    expected = usage_message.encode(
        UsageMessage("acme", "Europe/Paris", {"api_calls": METERS["api_calls"]}, decoded.events)
    )
    assert packed.body == expected  # byte for byte what usage_message.encode makes


def test_the_message_is_byte_for_byte_the_version_1_form():
    """The consumer of an older or newer deployment reads these bytes: they do not change."""
    v = validator()
    raws = [
        event(
            time="2026-11-20T10:00:00+01:00",
            data={"value": "1.50", "region": "eu", "note": "caf\u00e9 \U0001f600"},
            source="/svc",
        ),
        event(id="e2", type="users", time=..., data={"user": 42}),
    ]
    batch = v.validate(raws)
    [packed] = pack("acme", "Europe/Paris", batch.meters, [(a.index, a.meter, a.encoded) for a in batch.accepted])
    assert packed.body == (
        '{"v":1,"tenant":"acme","tz":"Europe/Paris","meters":{"api_calls":{"aggregation":"sum",'
        '"value_property":"value","group_by":["region"],"scale":9},"users":{"aggregation":"unique_count",'
        '"value_property":"user","group_by":[],"scale":9}},"events":[{"id":"e1","type":"api_calls",'
        '"time":"2026-11-20T09:00:00.000000Z","value":"1.5","dims":{"region":"eu"},'
        '"data":{"value":"1.50","region":"eu","note":"caf\\u00e9 \\ud83d\\ude00"},"source":"/svc"},'
        '{"id":"e2","type":"users","time":"2026-11-20T10:00:00.000000Z","value":"42","data":{"user":42}}]}'
    )
    assert usage_message.encode(usage_message.decode(packed.body)) == packed.body


def test_pack_splits_by_size():
    events = _accepted(300, pad=900)
    limit = 64 * 1024
    packed = pack("acme", "UTC", METERS, events, max_bytes=limit)
    assert len(packed) > 1 and all(p.size <= limit for p in packed)
    assert [i for p in packed for i in p.indexes] == list(range(300))
    assert [e.id for p in packed for e in usage_message.decode(p.body).events] == [f"e{i}" for i in range(300)]
    # greedy: every message but the last is nearly full (within one ~1.1 KB event, plus the
    # specs of the tenant's meters that this message does not use: the header is sized for all)
    assert all(p.size > limit - 1300 for p in packed[:-1])


def test_pack_refuses_an_event_that_fits_no_message():
    with pytest.raises(ValueError):
        pack("acme", "UTC", METERS, _accepted(1, pad=5000), max_bytes=2000)


def test_batches_respect_entries_and_bytes():
    assert batches([1] * 25) == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
    assert batches([100, 100, 100], max_bytes=250) == [[0, 1], [2]]
    assert batches([300, 10], max_bytes=250) == [[0], [1]]  # a lone oversize entry still gets a batch
    assert all(len(b) <= MAX_BATCH_ENTRIES for b in batches([1] * 95))


# ------------------------------------------------------------------ scale, ceiling, text (reliability)
def scaled(scale: int, rounding: Rounding = Rounding.REJECT, aggregation: Aggregation = Aggregation.SUM) -> Catalog:
    catalog = Catalog()
    catalog.meter_of = lambda key: MeterSpec(key, aggregation, scale=scale, rounding=rounding)
    return catalog


@pytest.mark.parametrize(
    "rounding, raw, text",
    [
        (Rounding.HALF_UP, "1.005", "1.01"),
        (Rounding.HALF_EVEN, "1.005", "1"),
        (Rounding.HALF_EVEN, "1.015", "1.02"),
        (Rounding.DOWN, "1.019", "1.01"),
        (Rounding.UP, "1.001", "1.01"),
        (Rounding.HALF_UP, "1e-131", "0"),
        (Rounding.HALF_UP, 2.5, "2.5"),
    ],
)
def test_a_meter_that_asks_for_rounding_rounds_to_its_scale(rounding, raw, text):
    assert message(one(event(data={"value": raw}), catalog=scaled(2, rounding)))["value"] == text


def test_the_ceiling_follows_the_scale():
    assert message(one(event(data={"value": "9999999999999999999999"}), catalog=scaled(0)))["value"] == "9" * 22
    assert "less than" in errors_of(one(event(data={"value": "1e22"}), catalog=scaled(0)))["[0].data.value"]
    assert message(one(event(data={"value": "9999.999999999999999999"}), catalog=scaled(18)))["value"]
    assert "less than" in errors_of(one(event(data={"value": "10000"}), catalog=scaled(18)))["[0].data.value"]
    # max and latest are stored, not summed: 38 - scale integer digits
    peak = scaled(9, aggregation=Aggregation.MAX)
    assert message(one(event(data={"value": "-" + "9" * 29}), catalog=peak))["value"] == "-" + "9" * 29
    assert "less than" in errors_of(one(event(data={"value": "1e29"}), catalog=peak))["[0].data.value"]


@pytest.mark.parametrize(
    "fields, where",
    [
        ({"data": {"value": 1, "note": "\udfff"}}, "[0].data.note"),
        ({"data": {"value": 1, "deep": [{"x": "a\ud800"}]}}, "[0].data.deep[0].x"),
        ({"data": {"value": 1, "k\udc00": 1}}, "[0].data"),
        ({"id": "p\udfff"}, "[0].id"),
        ({"source": "\udbff"}, "[0].source"),
    ],
)
def test_a_lone_surrogate_anywhere_is_named(fields, where):
    assert "surrogate" in errors_of(one(event(**fields)))[where]


def test_lone_surrogates_in_subject_and_type_are_simply_not_found():
    assert "not found" in errors_of(one(event(subject="ac\udfffme")))["[0].subject"]
    assert "not found" in errors_of(one(event(type="api\udfff")))["[0].type"]


def test_text_outside_the_bmp_is_fine():
    accepted = one(event(id="e-😀", data={"value": 1, "note": "𝄞 ok"}))
    assert message(accepted)["data"]["note"] == "𝄞 ok" and accepted.id == "e-😀"


def test_data_nests_at_most_32_levels():
    def nest(depth: int):
        inner: dict = {}
        for _ in range(depth - 1):
            inner = {"x": inner}
        return {"value": 1, "n": inner}  # data is level 1, so this is depth + 1 levels

    assert isinstance(one(event(data=nest(31))), Accepted)
    assert "32 levels" in errors_of(one(event(data=nest(32))))["[0].data"]
    assert "32 levels" in errors_of(one(event(data={"value": 1, "l": json.loads("[" * 900 + "]" * 900)})))["[0].data"]
