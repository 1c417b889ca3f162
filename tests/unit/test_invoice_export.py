"""Invoice exports (domain.invoice_export and services.invoice_export on the fakes): RFC 4180
CSV whose formula-looking cells read as text while numbers stay numbers, one row per invoice
or per line, the issue-date range, drafts left out, and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from tests.fakes.world import World
from tests.unit.services.test_invoice_lifecycle import issued_world
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.invoice_export import safe_cell
from tollgate.domain.invoices import InvoiceStatus
from tollgate.services.invoice_export import ExportRequest


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-6.75", "-6.75"),  # a number, not a formula
        ("Acme", "Acme"),
        (None, ""),
    ],
)
def test_formula_cells_read_as_text_and_numbers_stay_numbers(cell, expected):
    assert safe_cell(cell) == expected


def _export(world: World, **fields) -> bytes:
    req = ExportRequest(
        **{"start": None, "end": None, "status": None, "tenant_id": None, "fmt": "csv", "lines": False, **fields}
    )
    url = world.invoice_exporter.export(req)
    key = url.split("https://blobs.invalid/", 1)[1].split("?", 1)[0]
    return world.stores.blobs.objects[key.replace("%2F", "/")][0]


def test_a_hostile_tenant_name_exports_as_inert_text_one_row_per_invoice():
    world, ids = issued_world("acme", "beta")
    for inv_id in ids:  # the tenant's name as billed: attacker-controlled
        inv = world.stores.invoice_store.invoices[inv_id]
        doc = {**inv.doc, "bill_to": {**inv.doc["bill_to"], "name": '=HYPERLINK("http://x")'}}
        world.stores.invoice_store.invoices[inv_id] = inv.replaced(doc=doc)
    world.invoice_lifecycle.pay(ids[0], amount=None, reference="r", paid_at=None, actor="k")
    table = list(csv.reader(io.StringIO(_export(world).decode("utf-8"), newline="")))
    header, body = table[0], table[1:]
    assert header[:3] == ["number", "tenant_id", "tenant_name"] and header[-1] == "link"
    assert sorted(r[0] for r in body) == ["TG-000001", "TG-000002"]
    assert {r[2] for r in body} == {'\'=HYPERLINK("http://x")'}
    paid = next(r for r in body if r[1] == "acme")
    row = dict(zip(header, paid, strict=True))
    assert (row["status"], row["total"], row["paid"], row["due"]) == ("paid", "14.60", "14.60", "0.00")
    assert row["link"].endswith("TG-000001.html?expires_in=604800")


def test_lines_ranges_statuses_drafts_and_json():
    world, ids = issued_world("acme")
    world.invoices.bill("acme", "2026-11")  # nothing new: the issued one stays
    by_line = list(csv.DictReader(io.StringIO(_export(world, lines=True).decode("utf-8"), newline="")))
    assert [(r["line"], r["line_type"], r["amount"]) for r in by_line] == [
        ("1", "base_fee", "10.00"),
        ("2", "charge", "4.00"),
        ("3", "charge", "0.60"),
    ]
    issued_at = world.stores.invoice_store.invoices[ids[0]].issued_at
    later = _export(world, start=issued_at + timedelta(seconds=1)).decode("utf-8")
    assert later.splitlines()[1:] == []
    assert json.loads(_export(world, fmt="json", status=InvoiceStatus.PAID)) == []
    (row,) = json.loads(_export(world, fmt="json", status=InvoiceStatus.ISSUED))
    assert (row["number"], row["total"], row["due"]) == ("TG-000001", "14.60", "14.60")
    with pytest.raises(ValidationFailed):
        _export(world, status=InvoiceStatus.DRAFT)
    with pytest.raises(ValidationFailed):
        _export(world, start=issued_at, end=issued_at)
