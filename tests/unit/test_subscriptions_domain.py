"""tollgate.domain.subscriptions: endpoint rules per protocol, types, filter policies and the
tenant's topic name (one per tenant id, within SNS's naming rules)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tollgate.domain.alert_types import ALERT_TYPES, BILLING_OVER_LIMIT
from tollgate.domain.ids import ID_MAX_LENGTH
from tollgate.domain.subscriptions import (
    Protocol,
    endpoint_problem,
    filter_policy,
    topic_name,
    types_problem,
)

SNS_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
tenant_ids = st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=ID_MAX_LENGTH)


@pytest.mark.parametrize(
    "protocol,endpoint",
    [
        (Protocol.EMAIL, "ops@acme.example"),
        (Protocol.EMAIL, "first.last+alerts@mail.acme.co.uk"),
        (Protocol.HTTPS, "https://hooks.acme.example/tollgate?token=abc"),
        (Protocol.HTTPS, "https://user:secret@acme.example:8443/hook"),
        (Protocol.HTTP, "http://127.0.0.1:8080/hook"),
        (Protocol.HTTP, "http://[::1]:8080/hook"),
        (Protocol.HTTP, "HTTP://acme.example/"),
        (Protocol.SQS, "arn:aws:sqs:eu-west-1:123456789012:alerts"),
        (Protocol.SQS, "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:alerts_2-x"),
    ],
)
def test_good_endpoints(protocol, endpoint):
    assert endpoint_problem(protocol, endpoint) is None


@pytest.mark.parametrize(
    "protocol,endpoint",
    [
        (Protocol.EMAIL, "ops"),
        (Protocol.EMAIL, "ops@localhost"),
        (Protocol.EMAIL, "ops@@acme.example"),
        (Protocol.EMAIL, ".ops@acme.example"),
        (Protocol.EMAIL, "ops..x@acme.example"),
        (Protocol.EMAIL, "ops @acme.example"),
        (Protocol.EMAIL, "a" * 65 + "@acme.example"),
        (Protocol.HTTPS, "http://acme.example"),
        (Protocol.HTTPS, "https:/acme.example"),
        (Protocol.HTTPS, "https://"),
        (Protocol.HTTPS, "https://acme.example:0/"),
        (Protocol.HTTPS, "https://acme.example:70000/"),
        (Protocol.HTTPS, "https://acme.example/\nx"),
        (Protocol.HTTPS, "https://-bad-.example/"),
        (Protocol.HTTPS, "https://acme.example/" + "a" * 2048),
        (Protocol.HTTP, "https://acme.example"),
        (Protocol.HTTP, "acme.example/hook"),
        (Protocol.SQS, "alerts"),
        (Protocol.SQS, "arn:aws:sqs:us-east-1:12345678901:alerts"),
        (Protocol.SQS, "arn:aws:sqs:us-east-1:123456789012:alerts.fifo"),
        (Protocol.SQS, "arn:aws:sqs:us-east-1:123456789012:"),
        (Protocol.SQS, "arn:aws:sns:us-east-1:123456789012:alerts"),
        (Protocol.SQS, "https://sqs.us-east-1.amazonaws.com/123456789012/alerts"),
    ],
)
def test_bad_endpoints(protocol, endpoint):
    assert endpoint_problem(protocol, endpoint)


def test_types():
    assert types_problem(list(ALERT_TYPES)) is None
    assert types_problem([]) == (None, "give at least one type, or leave `types` out for every type")
    assert types_problem([BILLING_OVER_LIMIT, "invoice.paid"])[0] == 1
    assert types_problem([BILLING_OVER_LIMIT, BILLING_OVER_LIMIT])[0] == 1


def test_the_filter_policy_names_the_types_and_every_type_has_none():
    assert json.loads(filter_policy([BILLING_OVER_LIMIT])) == {"type": [BILLING_OVER_LIMIT]}
    assert json.loads(filter_policy(list(ALERT_TYPES))) == {"type": list(ALERT_TYPES)}  # named: a filter
    assert filter_policy(None) is None  # every type, those added later too: no filter policy spent


def test_topic_names():
    assert topic_name("tollgate-tenant-alerts", "acme") == "tollgate-tenant-alerts-acme"
    assert topic_name("p", "a.b_c-d") == "p-a_-b__c-d"
    long = topic_name("p" * 200, "x" * 64)
    assert len(long) <= 256 and long.startswith("p" * 200 + "-_h")
    for bad in ("", "a.b", "p" * 222):
        with pytest.raises(ValueError):
            topic_name(bad, "acme")


@given(tenant_ids, tenant_ids)
def test_one_topic_per_tenant_within_sns_rules(a, b):
    for prefix in ("tollgate-tenant-alerts", "s" * 150, "s" * 221):
        name_a, name_b = topic_name(prefix, a), topic_name(prefix, b)
        assert SNS_TOPIC_NAME.fullmatch(name_a), name_a
        assert (name_a == name_b) == (a == b)
