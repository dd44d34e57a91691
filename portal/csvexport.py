"""CSV and XLSX downloads: UTF-8 with a byte-order mark (so spreadsheet programs read Chinese),
headers in the reader's language, and cells that a spreadsheet would run as a formula made inert
(in CSV with a leading apostrophe; in XLSX by storing them as text, so nothing is added)."""

from __future__ import annotations

import contextvars
import csv
import io
import re
import tempfile
from collections.abc import Iterator
from decimal import Decimal

from flask import Response, current_app
from flask_babel import force_locale, get_locale, pgettext
from sqlalchemy.orm import Session

from .extensions import db

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


CHUNK = 64 * 1024  # characters gathered before a piece of the CSV is sent
XLSX_PIECE = 256 * 1024  # bytes read from the finished workbook per piece sent


def _attachment(filename: str) -> dict:
    return {"Content-Disposition": f"attachment; filename={filename}"}


def csv_lines(header: list[str], rows) -> Iterator[str]:
    """The CSV text in pieces: BOM and header first, then the rows as they come, so a
    30,000-row download never holds more than one piece (``rows`` should be a streamed query)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    yield "\ufeff" + out.getvalue()
    out.seek(0)
    out.truncate()
    for row in rows:
        writer.writerow([inert(v) for v in row])
        if out.tell() >= CHUNK:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue()


def _after_the_view(pieces: Iterator[str]) -> Iterator[str]:
    """Run a body generator once the view has returned, in an application context of its own and
    the reader's language. Every step runs in one private ``contextvars`` context copied here,
    so the context pushed at the first step is popped in the same one whichever thread or
    context the server iterates from (``flask.stream_with_context`` breaks when that differs).
    The request's database session is closed by then: ``streamed`` brings its own."""
    app = current_app._get_current_object()
    locale = str(get_locale() or app.config.get("BABEL_DEFAULT_LOCALE", "en"))
    private = contextvars.copy_context()

    def inner():
        with app.app_context(), force_locale(locale):
            yield from pieces

    def outer():
        steps = inner()
        try:
            while True:
                try:
                    piece = private.run(next, steps)
                except StopIteration:
                    return
                yield piece
        finally:
            private.run(steps.close)

    return outer()


def csv_response(header: list[str], rows, filename: str) -> Response:
    """A streamed CSV download: the body is a generator, fed by ``rows`` while it is sent."""
    return Response(_after_the_view(csv_lines(header, rows)), mimetype="text/csv",
                    headers=_attachment(filename))


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def write_xlsx(header: list[str], rows, target) -> None:
    """Write the table as an Excel workbook to ``target`` (a path or binary file): one sheet,
    header row bold and frozen. Write-only mode keeps one row in memory at a time. Strings are
    stored as text cells, so "=..." is shown as typed and never run, with no character added."""
    from openpyxl import Workbook  # lazy: openpyxl is heavy and only .xlsx downloads need it
    from openpyxl.cell import WriteOnlyCell  # lazy: as above
    from openpyxl.styles import Font  # lazy: as above

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value, font=None):
        out = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            out.data_type = "s"
        if font is not None:
            out.font = font
        return out

    def plain(value):
        """Only a string openpyxl would take for a formula needs a cell of its own (cheaper)."""
        return cell(value) if isinstance(value, str) and value.startswith("=") else value

    sheet.append([cell(str(h), bold) for h in header])
    for row in rows:
        sheet.append([plain(v) for v in row])
    book.save(target)


def _file_pieces(handle) -> Iterator[bytes]:
    try:
        while piece := handle.read(XLSX_PIECE):
            yield piece
    finally:
        handle.close()  # a temporary file: closing it removes it


def xlsx_response(header: list[str], rows, filename: str) -> Response:
    """The same table as an Excel workbook. A zip cannot be sent before it is finished, so the
    workbook is written to a temporary file (constant memory) and then streamed from it."""
    handle = tempfile.TemporaryFile()
    try:
        write_xlsx(header, rows, handle)
        size = handle.tell()
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return Response(_file_pieces(handle), mimetype=XLSX_MIME,
                    headers={**_attachment(filename), "Content-Length": str(size)})


def table_response(header: list[str], rows, name: str, fmt: str, lazy: bool = False) -> Response:
    """``fmt`` "csv" or "xlsx"; ``name`` without the extension. With ``lazy``, ``rows`` is read
    while the CSV is sent, once the view has returned: it must come from ``streamed`` (its own
    session) and build each row from that. Otherwise the rows are built now, in the request
    (they may read the request's session), and then sent piece by piece."""
    if not lazy:
        rows = [list(row) for row in rows]
    if fmt == "xlsx":
        return xlsx_response(header, rows, f"{name}.xlsx")
    return csv_response(header, rows, f"{name}.csv")


STREAM_BATCH = 500


def streamed(query, scalars: bool = True) -> Iterator:
    """The objects (or, with ``scalars=False``, the rows) a select returns, fetched in batches of
    ``STREAM_BATCH`` (a server-side cursor on PostgreSQL) rather than all at once. A session of
    its own runs the query: the request's session is closed once the view returns, while a CSV is
    still being sent; this one lives until the last row is read (lazy loads use it too)."""
    engine = db.engine  # now, while the request's application context is there

    def rows():
        with Session(engine) as session:
            result = session.execute(query.execution_options(yield_per=STREAM_BATCH))
            yield from (result.scalars() if scalars else result)

    return rows()
