"""The operator CLI's text output: tables, label/value pairs and the progress bar."""

from __future__ import annotations

import io

from tollgate_dev.tables import Progress, cell, pairs, table


def test_numbers_align_right_and_text_left() -> None:
    rows = [{"id": "acme", "used": 5, "pct": "12.5"}, {"id": "globex-eu", "used": 12000, "pct": None}]
    out = table(rows, [("id", "ID"), ("used", "USED"), ("pct", "PERCENT")])
    assert out.splitlines() == [
        "ID          USED  PERCENT",
        "---------  -----  -------",
        "acme           5     12.5",
        "globex-eu  12000        -",
    ]


def test_a_column_with_any_text_aligns_left() -> None:
    out = table([{"v": "10"}, {"v": "ten"}], [("v", "V")])
    assert out.splitlines()[2:] == ["10", "ten"]


def test_no_rows_says_so() -> None:
    assert table([], [("id", "ID")], empty="no tenants match") == "no tenants match"


def test_cells_stay_on_one_line() -> None:
    assert cell("Acme\nInc\tLtd") == "Acme Inc Ltd"
    assert (cell(None), cell(True), cell(False), cell([0.8, 1.0]), cell(2.0), cell("")) == (
        "-",
        "yes",
        "no",
        "0.8, 1",
        "2",
        "-",
    )


def test_pairs_align_the_values() -> None:
    assert pairs([("Plan", "pro"), ("Time zone", None)]) == "Plan:      pro\nTime zone: -"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_in_place_on_a_terminal() -> None:
    out = Tty()
    bar = Progress(out, "invoicing")
    bar.update(0, None)
    bar.update(5, 10)
    bar.update(10, 10)
    bar.close()
    frames = out.getvalue().split("\r")[1:]
    assert frames[0].startswith("invoicing 0/?")
    assert frames[1].startswith("invoicing [" + "#" * 15 + "." * 15 + "] 5/10")
    assert frames[2].startswith("invoicing [" + "#" * 30 + "] 10/10") and frames[2].endswith("\n")


def test_progress_is_silent_in_a_pipe() -> None:
    out = io.StringIO()
    bar = Progress(out, "invoicing")
    bar.update(3, 10)
    bar.close()
    assert out.getvalue() == ""
