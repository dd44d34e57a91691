"""Reading what people send: ids in URLs, numbers in queries and forms, JSON bodies, and text.

One place decides what a number, a JSON body or a piece of user-written text may look like,
so that no input reaches Python's ``int()``/``json.loads`` in a shape that raises (Unicode
digits such as ``²`` pass ``str.isdigit()`` but not ``int()``; ``١`` passes both; 2⁶³ does not
fit a database integer; deeply nested JSON raises RecursionError), and no name or title carries
characters that reorder or hide what the reader sees ("‮evil‬" shows as "live").
"""

from __future__ import annotations

import re
import unicodedata

from flask import request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.routing import BaseConverter, ValidationError
from wtforms import StringField, TextAreaField
from wtforms.fields import PasswordField

MAX_ID = 2**63 - 1  # the largest value a database BIGINT (and SQLite INTEGER) holds
MAX_PAGE = 100_000  # page numbers beyond this are read as the last useful page would be: empty
PER_PAGE = 50  # rows on one page of a trainer's list (register, technicians, results, audits)
_ASCII_NUMBER = re.compile(r"[0-9]{1,19}")


# --- numbers ------------------------------------------------------------------------------------


def parse_int(raw, low: int = 0, high: int = MAX_ID) -> int | None:
    """``raw`` as a whole number when it is 1–19 ASCII digits within low..high, else None.
    No sign, no spaces, no underscores, no other scripts' digits."""
    if not isinstance(raw, str) or not _ASCII_NUMBER.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def int_arg(name: str, default=None, low: int = 0, high: int = MAX_ID, source=None):
    """A whole number from the query string (or ``source``, e.g. ``request.form``);
    ``default`` when it is missing or not a number in low..high."""
    values = request.args if source is None else source
    value = parse_int(values.get(name), low, high)
    return default if value is None else value


class IdConverter(BaseConverter):
    """``<int:...>`` in routes: 1 to 2⁶³−1 written in ASCII digits, anything else is 404."""

    regex = r"[0-9]+"
    part_isolating = True

    def __init__(self, map, *args, **kwargs):  # noqa: A002 (werkzeug's name)
        super().__init__(map)

    def to_python(self, value: str) -> int:
        number = parse_int(value, 1)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


# --- JSON ---------------------------------------------------------------------------------------

MAX_JSON_DEPTH = 32


class TooDeep(ValueError):
    """A JSON document nested deeper than MAX_JSON_DEPTH."""


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings ignored)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep; skip the scan
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


class PortalJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing documents nested deeper than MAX_JSON_DEPTH before parsing them
    (``request.get_json`` then answers 400, or None when silent)."""

    def loads(self, s, **kwargs):
        text = s.decode("utf-8", "replace") if isinstance(s, (bytes, bytearray)) else s
        if json_depth(text) > MAX_JSON_DEPTH:
            raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return super().loads(s, **kwargs)


# --- uploaded and imported files ---------------------------------------------------------------


class NotText(ValueError):
    """A file that cannot be read as UTF-8 text; ``str()`` is the reason, worded to follow the
    file's name ("FILE: reason")."""


def _binary_kinds() -> tuple[tuple[bytes, str], ...]:
    return ((b"\x89PNG", _("a PNG image")), (b"\xff\xd8\xff", _("a JPEG image")), (b"GIF8", _("a GIF image")),
            (b"%PDF", _("a PDF document")),
            (b"PK\x03\x04", _("a ZIP archive (an Excel .xlsx or Word .docx file is one)")),
            (b"\xd0\xcf\x11\xe0", _("an old Office file (.xls or .doc)")), (b"\x1f\x8b", _("a gzip archive")))


def file_text(raw: bytes, allow_empty: bool = False, allow_nul: bool = False) -> str:
    """The text of an uploaded or imported file (UTF-8, a byte-order mark dropped), or NotText
    saying what it is instead: empty, an image or archive, UTF-16, binary (NUL bytes, unless the
    caller reports those itself: ``allow_nul``), or another encoding (GBK/GB18030 Chinese is
    named as such, with the first line that is not UTF-8)."""
    for magic, kind in _binary_kinds():
        if raw.startswith(magic):
            raise NotText(_("it is %(kind)s, not a text file", kind=kind))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotText(_("it is UTF-16 text; save it as UTF-8"))
    if b"\x00" in raw and not allow_nul:
        raise NotText(_("it holds binary data (NUL bytes), not text"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad_line = raw[raw.rfind(b"\n", 0, exc.start) + 1:].split(b"\n", 1)[0]  # the first bad byte's
        try:
            chinese = bool(re.search("[\u4e00-\u9fff]", bad_line.decode("gb18030")))
        except UnicodeDecodeError:
            chinese = False
        if chinese:
            raise NotText(_("it is not UTF-8: line %(line)d reads as GBK/GB18030 Chinese; save the file as "
                            "UTF-8", line=line)) from None
        raise NotText(_("it is not UTF-8 text (line %(line)d)", line=line)) from None
    if not allow_empty and not text.strip():
        raise NotText(_("the file is empty"))
    return text


# --- text ---------------------------------------------------------------------------------------

# Zero-width (non-)joiners are needed to write some scripts (and emoji sequences) correctly;
# every other invisible format character (Unicode category Cf: bidirectional embeddings,
# overrides and isolates, LRM/RLM/ALM, zero-width space, soft hyphen, BOM, ...) is refused.
ALLOWED_FORMAT = {"\u200c", "\u200d"}
MULTILINE_CONTROLS = {"\t", "\n", "\r"}


def hidden_character(value: str, multiline: bool = False) -> str | None:
    """The first character in ``value`` that changes text direction, is invisible, or is a
    control character ("U+202E"), or None when there is none. Multi-line text may hold tabs
    and line breaks."""
    for char in value or "":
        if char in ALLOWED_FORMAT or (multiline and char in MULTILINE_CONTROLS):
            continue
        if unicodedata.category(char) in ("Cf", "Cc", "Cs"):
            return f"U+{ord(char):04X}"
    return None


def hidden_character_message(field_name, code: str) -> str:
    return _("%(field)s contains an invisible or direction-changing character (%(code)s); "
             "please remove it.", field=field_name, code=code)


def check_text(field_name, value, multiline: bool = False) -> str | None:
    """The message for a user-written text that holds a refused character, or None."""
    if not isinstance(value, str):
        return None
    code = hidden_character(value, multiline)
    return hidden_character_message(field_name, code) if code else None


def check_texts(values: dict, multiline=(), labels=None) -> dict:
    """Messages by key for every string (or list of strings) in ``values`` that holds a
    refused character; ``labels`` names the fields for people."""
    problems = {}
    for key, value in (values or {}).items():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            message = check_text((labels or {}).get(key, key), item, key in multiline)
            if message:
                problems[key] = message
                break
    return problems


class PortalForm(FlaskForm):
    """Every form's base: text fields refuse bidirectional, invisible and control characters
    (passwords are left to the password rules; they are never shown)."""

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        for field in self:
            if not isinstance(field, StringField) or isinstance(field, PasswordField):
                continue
            values = field.data if isinstance(field.data, (list, tuple)) else [field.data]
            for value in values:
                message = check_text(field.label.text, value, isinstance(field, TextAreaField))
                if message:
                    field.errors = list(field.errors) + [message]
                    valid = False
                    break
        return valid


class PlainForm(PortalForm):
    """CSRF only: a post whose fields (if any) the view reads itself."""


class ListPage:
    """One page of a list already in memory, with the names of Flask-SQLAlchemy's Pagination
    (``page``, ``pages``, ``items``, ``total``, ``has_prev``…) so the ``pager`` macro serves both.
    A page past the last shows the last."""

    def __init__(self, rows: list, page: int, per_page: int):
        self.total, self.per_page = len(rows), per_page
        self.pages = max(1, -(-self.total // per_page))
        self.page = min(max(1, page), self.pages)
        self.items = rows[(self.page - 1) * per_page:self.page * per_page]
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1
