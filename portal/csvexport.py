"""CSV downloads: UTF-8 with a byte-order mark (so spreadsheet programs read Chinese), and
cells that a spreadsheet would run as a formula made inert."""

from __future__ import annotations

import csv
import io

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


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
    """The same table as an Excel workbook (one sheet, header row bold and frozen)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "data"
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append([inert(v) if isinstance(v, str) else v for v in row])
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
