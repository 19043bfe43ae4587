"""Cells a spreadsheet would run as formulas are written as text."""
import csv
import io

import pytest

from fercore.spreadsheet import csv_text, spreadsheet_cell


@pytest.mark.parametrize("typed", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1+1", "\r=1+1"])
def test_text_that_starts_a_formula_gets_a_quote(typed):
    assert spreadsheet_cell(typed) == "'" + typed


@pytest.mark.parametrize("value", ["Tuesday", "a=b", "", -0.5, -3, 0])
def test_other_text_and_numbers_stay_as_they_are(value):
    assert spreadsheet_cell(value) == value


def test_csv_text_guards_every_text_cell_and_keeps_negative_numbers():
    rows = list(csv.reader(io.StringIO(csv_text(["name", "delta"], [["=cmd|' /C calc'!A0", -0.5]]))))
    assert rows == [["name", "delta"], ["'=cmd|' /C calc'!A0", "-0.5"]]
