"""GET /v1/reports/{period} through the API function on moto: inline JSON and CSV, a big
report as a 302 to its presigned object (the URL in the body too), 422 naming the period."""

from __future__ import annotations

import csv
import io

from tollgate.services import reports as reports_module


def test_small_reports_are_inline_and_big_ones_a_302_to_the_stored_object(api, admin_key, monkeypatch):
    assert api.call("POST", "/v1/tenants", key=admin_key, body={"id": "acme", "name": "@acme"}).status == 201
    json_reply = api.call("GET", "/v1/reports/2026-10", key=admin_key)
    assert json_reply.status == 200 and json_reply.headers["Content-Type"] == "application/json"
    assert json_reply.body["summary"]["tenants"] == 0  # acme was made after October
    csv_reply = api.call("GET", "/v1/reports/2026-10", key=admin_key, query={"format": "csv"})
    assert csv_reply.status == 200 and csv_reply.headers["Content-Type"].startswith("text/csv")
    assert next(csv.reader(io.StringIO(csv_reply.body)))[:2] == ["period", "tenant"]

    monkeypatch.setattr(reports_module, "INLINE_BYTES", 10)
    big = api.call("GET", "/v1/reports/2026-10", key=admin_key, query={"format": "csv"})
    assert big.status == 302
    assert big.headers["Location"] == big.body["url"] and "reports/2026-10.csv" in big.body["url"]
    root = api.root_of("ApiFunction")
    assert root.blob_store.get("reports/2026-10.csv").decode() == csv_reply.body


def test_a_period_not_ended_everywhere_or_malformed_is_a_422_naming_it(api, admin_key):
    for period in ("2999-12", "2026-13", "26-11"):
        reply = api.call("GET", f"/v1/reports/{period}", key=admin_key)
        assert reply.status == 422, (period, reply.body)
        assert [e["field"] for e in reply.problem["errors"]] == ["period"], reply.body
    bad = api.call("GET", "/v1/reports/2026-10", key=admin_key, query={"format": "xlsx"})
    assert bad.status == 422 and [e["field"] for e in bad.problem["errors"]] == ["format"]
