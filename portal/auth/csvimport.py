"""Bulk import of technicians from a UTF-8 CSV file.

Columns (header row required; names are case-insensitive, English or Chinese):

=============  ==========  ==================================================
column         required    meaning (at most 1,000 rows per file)
=============  ==========  ==================================================
username/用户名  yes         sign-in name, 3–64 of a-z 0-9 . _ -
name/姓名        yes         full name as shown in the portal
outlet/网点      yes         outlet code, e.g. GD-GZ-01
password/密码    no          initial password (≥ 8); generated when empty
start_date/入职日期 no       first working day, YYYY-MM-DD
locale/语言      no          zh_CN or en
=============  ==========  ==================================================

A file with any invalid row imports nothing; every bad row is reported with the
line number where the row starts, and every reason. A file that is no technicians CSV at
all (empty, an image or spreadsheet, not UTF-8, a header naming none of the columns) gets
one reason for the whole file (``ImportResult.file_problem``). Imported users must change
their password at first sign-in. Passwords are taken exactly as written.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..inputs import NotText, file_text
from .models import Outlet, User
from .services import (
    create_user,
    generate_password,
    name_problem,
    normalise_username,
    password_problem,
    username_problem,
)

# Each row costs one deliberately slow password hash (~0.1 s): 1,000 rows fit in a
# 120-second request. Larger batches: split the file, or use `flask users import`.
MAX_ROWS = 1000
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

COLUMN_ALIASES = {
    "username": "username", "用户名": "username", "账号": "username",
    "name": "name", "姓名": "name",
    "outlet": "outlet", "outlet_code": "outlet", "网点": "outlet", "网点编码": "outlet",
    "password": "password", "密码": "password",
    "start_date": "start_date", "入职日期": "start_date",
    "locale": "locale", "语言": "locale",
}
REQUIRED = ("username", "name", "outlet")
LOCALES = ("zh_CN", "en")


@dataclass
class ImportResult:
    created: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(username, name, generated password or None) for each user created."""
    errors: list[tuple[int, str]] = field(default_factory=list)
    """(line number, reason) for each problem; non-empty means nothing was imported."""
    file_problem: str = ""
    """Why the file as a whole is not a technicians CSV (also the one entry of ``errors``, line 0)."""

    def refuse(self, reason: str) -> "ImportResult":
        self.file_problem = reason
        self.errors.append((0, reason))
        return self

    @property
    def ok(self) -> bool:
        return not self.errors


def import_technicians(data: bytes, actor: User | None = None) -> ImportResult:
    """Validate every row; create all technicians, or none if any row is bad."""
    result = ImportResult()
    try:
        text = file_text(data, allow_nul=True)  # a NUL in a cell is reported with its row
    except NotText as exc:
        return result.refuse(str(exc))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        header = []
    columns = [COLUMN_ALIASES.get(h.strip().lower(), COLUMN_ALIASES.get(h.strip())) for h in header]
    if not any(columns):
        return result.refuse(_("not a technicians CSV: its first line names none of the columns username, name, "
                               "outlet (用户名, 姓名, 网点)"))
    unknown = [h for h, c in zip(header, columns) if c is None and h.strip()]
    missing = [c for c in REQUIRED if c not in columns]
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    unnamed = [i for i, h in enumerate(header) if not h.strip()]
    if unknown:
        result.errors.append((1, _("Unknown column(s): %(cols)s.", cols=", ".join(unknown))))
    if missing:
        result.errors.append((1, _("Missing column(s): %(cols)s.", cols=", ".join(missing))))
    if repeated:
        result.errors.append((1, _("Column(s) given twice: %(cols)s.", cols=", ".join(repeated))))
    if result.errors:
        return result

    outlets = {code.upper() for code in db.session.scalars(select(Outlet.code))}
    existing = set(db.session.scalars(select(User.username)))
    seen: dict[str, int] = {}
    rows: list[dict] = []
    while True:
        line = reader.line_num + 1  # where this record starts, even if it spans lines
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append((line, _("The CSV is malformed: %(error)s", error=str(exc))))
            break
        if not any(cell.strip() for cell in raw):
            continue
        if len(rows) >= MAX_ROWS:
            result.errors.append((line, _("Too many rows: at most %(n)d per file.", n=MAX_ROWS)))
            break
        if len(raw) > len(columns):
            result.errors.append((line, _("This row has more cells than the header.")))
            continue
        if any("\x00" in cell for cell in raw):
            result.errors.append((line, _("This row contains a NUL character.")))
            continue
        if any(i < len(raw) and raw[i].strip() for i in unnamed):
            result.errors.append((line, _("This row has a value in a column without a name.")))
            continue
        row = {c: (raw[i] if i < len(raw) else "") for i, c in enumerate(columns) if c}
        row = {c: (v if c == "password" else v.strip()) for c, v in row.items()}
        row["line"] = line
        for reason in _row_problems(row, outlets, existing, seen):
            result.errors.append((line, reason))
        rows.append(row)
    if not rows and not result.errors:
        result.errors.append((2, _("The file has a header but no technicians.")))
    if result.errors:
        return result

    try:
        for row in rows:
            generated = None if row.get("password") else generate_password()
            user = create_user(
                row["username"], ["technician"], row.get("password") or generated,
                name=row["name"], outlet_code=row["outlet"],
                start_date=row.get("start_date_value"),
                must_change_password=True, actor=actor, commit=False,
            )
            user.locale = row.get("locale") or None
            result.created.append((normalise_username(row["username"]), row["name"], generated))
        db.session.commit()
    except Exception:
        db.session.rollback()
        result.created.clear()
        raise
    return result


def _row_problems(row: dict, outlets: set[str], existing: set[str], seen: dict[str, int]) -> list[str]:
    reasons = []
    username = normalise_username(row.get("username", ""))
    row["username"] = username
    if not username:
        reasons.append(_("username is empty."))
    else:
        problem = username_problem(username)
        if problem:
            reasons.append(problem)
        elif username in existing:
            reasons.append(_("Username %(username)s is already taken.", username=username))
        elif username in seen:
            reasons.append(
                _("Username %(username)s also appears on line %(line)d.", username=username,
                  line=seen[username])
            )
        else:
            seen[username] = row["line"]
    if not row.get("name"):
        reasons.append(_("name is empty."))
    elif name_problem(row["name"]):
        reasons.append(name_problem(row["name"]))
    outlet = row.get("outlet", "")
    if not outlet:
        reasons.append(_("outlet is empty."))
    elif outlet.upper() not in outlets:
        reasons.append(_("No outlet has the code %(code)s.", code=outlet))
    if row.get("password"):
        problem = password_problem(row["password"], username, row.get("name", ""))
        if problem:
            reasons.append(problem)
    if row.get("start_date"):
        try:
            if not DATE_RE.match(row["start_date"]):
                raise ValueError(row["start_date"])
            row["start_date_value"] = date.fromisoformat(row["start_date"])
        except ValueError:
            reasons.append(
                _("start_date %(value)s is not a date like 2026-03-02.", value=row["start_date"])
            )
    if row.get("locale") and row["locale"] not in LOCALES:
        reasons.append(_("locale must be zh_CN or en."))
    return reasons
