"""CSV files that people open in a spreadsheet, which runs a cell beginning with = + - @ (or a tab or a
carriage return before one) as a formula: =HYPERLINK(...) in a session's name would send the reader's data
away. OWASP's advice, followed here: such a text cell starts with a single quote, so it shows as typed."""
from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value):
    """The value as a spreadsheet should show it: text that would start a formula gets a leading '.
    Numbers the program writes (a negative one included) stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """CSV text with a header row, every cell made safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_cell(cell) for cell in header])
    writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
