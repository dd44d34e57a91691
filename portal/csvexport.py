"""CSV and XLSX downloads: UTF-8 with a byte-order mark (so spreadsheet programs read Chinese),
headers in the reader's language, and cells that a spreadsheet would run as a formula made inert
(in CSV with a leading apostrophe; in XLSX by storing them as text, so nothing is added)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from flask import Response
from flask_babel import pgettext

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def column(name: str) -> str:
    """A column header in the reader's language; in English the machine-friendly name itself."""
    return pgettext("export column", name)


def columns(*names: str) -> list[str]:
    return [column(n) for n in names]


def word(value: str) -> str:
    """A fixed value word in a cell ("yes", "eligible"), in the reader's language."""
    return pgettext("export value", value)


def yes_no(value) -> str:
    return word("yes") if value else word("no")


def place(obj) -> list[str]:
    """A code and its name in the reader's language (two cells; empty when there is none)."""
    return [obj.code, obj.name] if obj is not None else ["", ""]


def inert(value):
    """Numbers stay numbers; a string a spreadsheet would read as a formula gets a leading
    apostrophe. A string that is just a number ("-5", "+3.5") is left alone."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_response(header: list[str], rows, filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([inert(v) for v in row])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(header: list[str], rows, filename: str) -> Response:
    """The same table as an Excel workbook (one sheet, header row bold and frozen). Strings are
    stored as text cells, so "=..." is shown as typed and never run, with no character added."""
    from openpyxl import Workbook  # lazy: openpyxl is heavy and only .xlsx downloads need it
    from openpyxl.styles import Font  # lazy: as above

    book = Workbook()
    sheet = book.active
    sheet.title = "data"
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype=XLSX_MIME,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def table_response(header: list[str], rows, name: str, fmt: str) -> Response:
    """``fmt`` "csv" or "xlsx"; ``name`` without the extension."""
    rows = list(rows)
    if fmt == "xlsx":
        return xlsx_response(header, rows, f"{name}.xlsx")
    return csv_response(header, rows, f"{name}.csv")
