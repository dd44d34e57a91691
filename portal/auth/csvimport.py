"""Bulk import of technicians from a UTF-8 CSV file.

Columns (header row required; names are case-insensitive, English or Chinese):

=============  ==========  ==================================================
column         required    meaning
=============  ==========  ==================================================
username/用户名  yes         sign-in name, 3–64 of a-z 0-9 . _ -
name/姓名        yes         full name as shown in the portal
outlet/网点      yes         outlet code, e.g. GD-GZ-01
password/密码    no          initial password (≥ 8); generated when empty
start_date/入职日期 no       first working day, YYYY-MM-DD
locale/语言      no          zh_CN or en
=============  ==========  ==================================================

A file with any invalid row imports nothing; every bad row is reported with its
line number and reason. Imported users must change their password at first sign-in.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from .models import Outlet, User
from .services import (
    create_user,
    generate_password,
    normalise_username,
    password_problem,
    username_problem,
)

MAX_ROWS = 5000

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

    @property
    def ok(self) -> bool:
        return not self.errors


def _decode(data: bytes) -> tuple[str | None, str | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, _(
            "Line %(line)d is not valid UTF-8. Save the file as \"CSV UTF-8\" and try again.",
            line=line,
        )


def import_technicians(data: bytes, actor: User | None = None) -> ImportResult:
    """Validate every row; create all technicians, or none if any row is bad."""
    result = ImportResult()
    text, problem = _decode(data)
    if problem:
        result.errors.append((0, problem))
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        result.errors.append((1, _("The file is empty; it needs a header row.")))
        return result
    columns = [COLUMN_ALIASES.get(h.strip().lower(), COLUMN_ALIASES.get(h.strip())) for h in header]
    unknown = [h for h, c in zip(header, columns) if c is None and h.strip()]
    missing = [c for c in REQUIRED if c not in columns]
    if unknown:
        result.errors.append((1, _("Unknown column(s): %(cols)s.", cols=", ".join(unknown))))
    if missing:
        result.errors.append((1, _("Missing column(s): %(cols)s.", cols=", ".join(missing))))
    if result.errors:
        return result

    outlets = {code.upper() for code in db.session.scalars(select(Outlet.code))}
    existing = set(db.session.scalars(select(User.username)))
    seen: dict[str, int] = {}
    rows: list[dict] = []
    try:
        for raw in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in raw):
                continue
            if len(rows) >= MAX_ROWS:
                result.errors.append((line, _("Too many rows: at most %(n)d per file.", n=MAX_ROWS)))
                break
            if len(raw) > len(columns):
                result.errors.append((line, _("This row has more cells than the header.")))
                continue
            row = {c: (raw[i].strip() if i < len(raw) else "") for i, c in enumerate(columns)}
            row["line"] = line
            reasons = _row_problems(row, outlets, existing, seen)
            for reason in reasons:
                result.errors.append((line, reason))
            rows.append(row)
    except csv.Error as exc:
        result.errors.append((reader.line_num, _("The CSV is malformed: %(error)s", error=str(exc))))
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
    outlet = row.get("outlet", "")
    if not outlet:
        reasons.append(_("outlet is empty."))
    elif outlet.upper() not in outlets:
        reasons.append(_("No outlet has the code %(code)s.", code=outlet))
    if row.get("password"):
        problem = password_problem(row["password"], username)
        if problem:
            reasons.append(problem)
    if row.get("start_date"):
        try:
            row["start_date_value"] = date.fromisoformat(row["start_date"])
        except ValueError:
            reasons.append(
                _("start_date %(value)s is not a date like 2026-03-02.", value=row["start_date"])
            )
    if row.get("locale") and row["locale"] not in LOCALES:
        reasons.append(_("locale must be zh_CN or en."))
    return reasons
