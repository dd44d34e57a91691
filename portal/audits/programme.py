"""Audit programmes as data: content/audits/programmes/*.yaml (format in content/README.md) or the
trainers' form (programme_views.py), both checked by :func:`validate_spec` into the normalised spec
that AuditProgramme.spec and each AuditDraw.spec hold:

    {"slug", "form", "title": {zh, en}, "period": monthly|quarterly,
     "sampling": {"rate", "count"}, "overrides": [{"scope", "code", "rate", "count"}],
     "per_year": {"min", "max"}, "weights": {red_line, low_ftf, new_certificate},
     "blackout": {"onboarding_working_days", "suspended"}, "due": {"working_days"}}

A problem is (path of keys in the file, field as the file names it, message): the loader turns
the path into a line, the form into the field beside which it shows the message.

``content_hash`` is the digest of the programme as it is now (spec and active), whoever wrote it:
loading an unchanged file changes nothing, and the form's hidden copy of it tells a trainer that
somebody else saved the programme since the page was opened. A programme saved in the form
(``source`` "form") is never overwritten by its file: ``content load`` reports the difference as
a conflict until the file says the same (the programme's page shows the text to put in it)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..auth.models import Outlet, Province, Region, User
from ..content.files import FileProblem, parse_yaml_file, yaml_line_finder
from ..content.loader import Report, register
from ..dbtypes import utcnow
from ..extensions import db
from .models import AuditProgramme, AuditTemplate

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[%％]\s*$")
NUMBER_RE = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
PERIODS = ("monthly", "quarterly")
SCOPES = ("region", "province", "outlet")  # least specific first
# Words the programme pages use after /audits/programmes/: no programme is named like them.
RESERVED = {"new"}

TOP_FIELDS = ("slug", "form", "title", "active", "period", "sampling", "overrides", "per_technician_per_year",
              "weights", "blackout", "due")
# weight → its fields with their defaults (a weight left out of the file is 1: no extra weight)
WEIGHTS = {"red_line": {"weight": 1.0, "days": 180},
           "low_ftf": {"weight": 1.0, "below": 0.7, "min_answers": 5, "days": 90},
           "new_certificate": {"weight": 1.0, "days": 60}}
BLACKOUT_DEFAULTS = {"onboarding_working_days": 10, "suspended": True}

Problem = tuple[tuple, str, str]  # (keys in the file, field, message)


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def share(value) -> float | None:
    """A share 0..1 written as a number (0.1, 1) or a percentage ("10%", "12.5 %"); None if neither."""
    if _number(value):
        return float(value)
    if isinstance(value, str):
        try:
            match = PERCENT_RE.match(value)
            if match:
                return float(Decimal(match.group(1)) / 100)
            if NUMBER_RE.match(value):
                return float(Decimal(value.strip()))
        except InvalidOperation:
            return None
    return None


def percent(rate: float) -> str:
    """0.1 → "10%", 0.125 → "12.5%"."""
    text = f"{Decimal(str(rate)) * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "%"


def _both(value) -> dict | None:
    if isinstance(value, dict) and all(str(value.get(l) or "").strip() for l in ("zh", "en")):
        return {l: str(value[l]).strip() for l in ("zh", "en")}
    return None


def _unknown(data: dict, known, where: tuple, prefix: str, problems: list) -> None:
    for key in data:
        if key not in known:
            problems.append((where + (key,), f"{prefix}{key}",
                             _("Unknown field; the known ones: %(fields)s.", fields=", ".join(known))))


def _rule(data, where: tuple, field: str, problems: list) -> dict | None:
    """{rate} or {count}: exactly one; a rate 0 < r <= 1, a count a whole number >= 0."""
    has_rate, has_count = data.get("rate") is not None, data.get("count") is not None
    if has_rate == has_count:
        problems.append((where, field, _("Give exactly one of rate (a share: 0.1 or 10%) or count "
                                         "(how many technicians).")))
        return None
    if has_rate:
        rate = share(data["rate"])
        if rate is None or not 0 < rate <= 1:
            problems.append((where + ("rate",), f"{field}.rate",
                             _("A share above 0 and at most 1 (100%): e.g. 0.1 or 10%.")))
            return None
        return {"rate": rate, "count": None}
    if not _int(data["count"]) or data["count"] < 0:
        problems.append((where + ("count",), f"{field}.count", _("A whole number, 0 or more.")))
        return None
    return {"rate": None, "count": data["count"]}


def _codes_problems(overrides: list[tuple[int, dict]]) -> list[Problem]:
    """The override codes that name no region / province / outlet (one query per scope used)."""
    problems: list[Problem] = []
    models = {"region": Region, "province": Province, "outlet": Outlet}
    network_loaded = db.session.scalar(select(Region.id).limit(1)) is not None
    for scope, model in models.items():
        mine = [(index, o) for index, o in overrides if o["scope"] == scope]
        if not mine:
            continue
        known = set(db.session.scalars(select(model.code).where(model.code.in_({o["code"] for _i, o in mine}))))
        for index, o in mine:
            if o["code"] in known:
                continue
            if not network_loaded:
                message = _("No region, province or outlet is in the portal yet: load the service network first "
                            "(Admin → Network, or the users' import), then this programme again.")
            else:
                message = {"region": _("No region with the code %(code)s."),
                           "province": _("No province with the code %(code)s."),
                           "outlet": _("No outlet with the code %(code)s.")}[scope] % {"code": o["code"]}
            problems.append((("overrides", index, scope), f"overrides[{index + 1}].{scope}", message))
    return problems


def validate_spec(data: dict, default_slug: str | None = None) -> tuple[dict, list[Problem]]:
    """The normalised spec of a programme written as a file's fields (a parsed YAML mapping, or the
    trainers' form put into the same shape), and every problem found (none: the spec is good)."""
    problems: list[Problem] = []

    def bad(where: tuple, field: str, message: str) -> None:
        problems.append((where, field, message))

    if not isinstance(data, dict):
        return {}, [((), "file", _("The file must be a set of fields."))]
    _unknown(data, TOP_FIELDS, (), "", problems)

    slug = data.get("slug", default_slug)
    if not isinstance(slug, str) or not ID_RE.match(slug) or slug in RESERVED:
        bad(("slug",), "slug", _("Lower-case letters, digits and dashes (not “new”)."))
    form = data.get("form")
    if not isinstance(form, str) or not form.strip():
        bad(("form",), "form", _("The slug of the audit form visited with (content/audits/<slug>.yaml)."))
    elif db.session.scalar(select(AuditTemplate.id).where(AuditTemplate.slug == form, AuditTemplate.current)) is None:
        bad(("form",), "form", _("No audit form %(slug)s is loaded (content/audits/%(slug)s.yaml, loaded "
                                 "before the programmes).", slug=form))
    title = _both(data.get("title"))
    if title is None:
        bad(("title",), "title", _("The title in both languages: {zh: …, en: …}."))
    active = data.get("active", True)
    if not isinstance(active, bool):
        bad(("active",), "active", _("true or false."))
    period = data.get("period", "monthly")
    if period not in PERIODS:
        bad(("period",), "period", _("monthly or quarterly."))

    sampling = data.get("sampling")
    clean_sampling = None
    if not isinstance(sampling, dict):
        bad(("sampling",), "sampling", _("The default sampling: {rate: 10%} or {count: 3} (per region)."))
    else:
        _unknown(sampling, ("rate", "count"), ("sampling",), "sampling.", problems)
        clean_sampling = _rule(sampling, ("sampling",), "sampling", problems)

    overrides = data.get("overrides") or []
    clean_overrides: list[dict] = []
    checked: list[tuple[int, dict]] = []
    if not isinstance(overrides, list):
        bad(("overrides",), "overrides", _("A list of {region|province|outlet: CODE, rate or count}."))
        overrides = []
    seen: dict[tuple, int] = {}
    for index, item in enumerate(overrides):
        where, name = ("overrides", index), f"overrides[{index + 1}]"
        if not isinstance(item, dict):
            bad(where, name, _("{region|province|outlet: CODE, rate: 15%, or count: 4}."))
            continue
        _unknown(item, (*SCOPES, "rate", "count"), where, name + ".", problems)
        scopes = [s for s in SCOPES if s in item]
        if len(scopes) != 1:
            bad(where, name, _("Exactly one of region, province or outlet, with its code."))
            continue
        scope = scopes[0]
        code = item[scope]
        if isinstance(code, (int, float)) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            bad(where + (scope,), f"{name}.{scope}", _("The code of the %(scope)s.", scope=scope))
            continue
        code = code.strip()
        if (scope, code) in seen:
            bad(where + (scope,), f"{name}.{scope}",
                _("%(scope)s %(code)s has a rule already (override %(n)d).", scope=scope, code=code,
                  n=seen[(scope, code)] + 1))
            continue
        seen[(scope, code)] = index
        rule = _rule(item, where, name, problems)
        if rule is None:
            continue
        override = {"scope": scope, "code": code, **rule}
        clean_overrides.append(override)
        checked.append((index, override))
    problems.extend(_codes_problems(checked))

    per_year = data.get("per_technician_per_year")
    clean_per_year = None
    if not isinstance(per_year, dict):
        bad(("per_technician_per_year",), "per_technician_per_year",
            _("Visits per technician per calendar year: {min: 2, max: 6}."))
    else:
        _unknown(per_year, ("min", "max"), ("per_technician_per_year",), "per_technician_per_year.", problems)
        low, high = per_year.get("min"), per_year.get("max")
        ok = True
        for key, value in (("min", low), ("max", high)):
            if not _int(value) or value < 0:
                bad(("per_technician_per_year", key), f"per_technician_per_year.{key}",
                    _("A whole number, 0 or more."))
                ok = False
        if ok and low > high:
            bad(("per_technician_per_year", "min"), "per_technician_per_year.min",
                _("min (%(min)d) must not exceed max (%(max)d).", min=low, max=high))
        elif ok and high == 0:
            bad(("per_technician_per_year", "max"), "per_technician_per_year.max",
                _("At least 1: with 0 nobody could ever be visited."))
        elif ok:
            clean_per_year = {"min": low, "max": high}

    weights = data.get("weights") or {}
    clean_weights: dict = {}
    if not isinstance(weights, dict):
        bad(("weights",), "weights", _("{red_line: …, low_ftf: …, new_certificate: …}."))
        weights = {}
    _unknown(weights, tuple(WEIGHTS), ("weights",), "weights.", problems)
    for kind, defaults in WEIGHTS.items():
        given = weights.get(kind) or {}
        where, name = ("weights", kind), f"weights.{kind}"
        if _number(given):  # a bare number: the weight, with the default window
            given = {"weight": given}
        if not isinstance(given, dict):
            bad(where, name, _("{weight: 2, days: 90}."))
            continue
        _unknown(given, tuple(defaults), where, name + ".", problems)
        clean = dict(defaults)
        for key, default in defaults.items():
            value = given.get(key, default)
            if key == "weight":
                if not _number(value) or value <= 0:
                    bad(where + (key,), f"{name}.{key}",
                        _("A number above 0 (1: no extra weight; 2: twice as likely to be drawn)."))
                    continue
                value = float(value)
            elif key == "below":
                value = share(value)
                if value is None or not 0 < value <= 1:
                    bad(where + (key,), f"{name}.{key}", _("A share above 0 and at most 1: e.g. 0.7 or 70%."))
                    continue
            elif not _int(value) or value <= 0:
                bad(where + (key,), f"{name}.{key}", _("A whole number above 0."))
                continue
            clean[key] = value
        clean_weights[kind] = clean

    blackout = data.get("blackout")
    blackout = BLACKOUT_DEFAULTS if blackout is None else blackout
    clean_blackout = dict(BLACKOUT_DEFAULTS)
    if not isinstance(blackout, dict):
        bad(("blackout",), "blackout", _("{onboarding_working_days: 10, suspended: true}."))
    else:
        _unknown(blackout, tuple(BLACKOUT_DEFAULTS), ("blackout",), "blackout.", problems)
        days = blackout.get("onboarding_working_days", BLACKOUT_DEFAULTS["onboarding_working_days"])
        if not _int(days) or days < 0:
            bad(("blackout", "onboarding_working_days"), "blackout.onboarding_working_days",
                _("A whole number, 0 or more (0: no onboarding blackout)."))
        else:
            clean_blackout["onboarding_working_days"] = days
        suspended = blackout.get("suspended", True)
        if not isinstance(suspended, bool):
            bad(("blackout", "suspended"), "blackout.suspended", _("true or false."))
        else:
            clean_blackout["suspended"] = suspended

    due = data.get("due")
    clean_due = {"working_days": None}
    if due is not None:
        if not isinstance(due, dict):
            bad(("due",), "due", _("{working_days: 10} (10 working days after the draw), or leave it out: the "
                                   "period's last working day."))
        else:
            _unknown(due, ("working_days",), ("due",), "due.", problems)
            days = due.get("working_days")
            if days is not None and (not _int(days) or days <= 0):
                bad(("due", "working_days"), "due.working_days", _("A whole number above 0."))
            else:
                clean_due["working_days"] = days

    spec = {"slug": slug, "form": form, "title": title, "period": period, "sampling": clean_sampling,
            "overrides": clean_overrides, "per_year": clean_per_year, "weights": clean_weights,
            "blackout": clean_blackout, "due": clean_due}
    return (spec if not problems else {}), problems


def digest(spec: dict, active: bool) -> str:
    """The programme as it is (its rules and whether it is on): content_hash."""
    return hashlib.sha256(json.dumps({"spec": spec, "active": bool(active)}, sort_keys=True,
                                     ensure_ascii=False).encode()).hexdigest()


def parse_programme(path: Path) -> tuple[dict, bool, list[tuple[int, str, str]]]:
    """(spec, active, [(line, field, message)]) of a programme file."""
    try:
        data, _lines, _sha = parse_yaml_file(path)
    except FileProblem as problem:
        return {}, True, [(problem.line, problem.field, problem.message)]
    at = yaml_line_finder(path)
    spec, problems = validate_spec(data, default_slug=path.stem)
    found = [(at(*keys), field, message) for keys, field, message in problems]
    return spec, data.get("active", True) is True, sorted(found, key=lambda p: p[0])


def file_fields(spec: dict, active: bool = True) -> dict:
    """The fields of the programme's file (what validate_spec reads back to the same spec)."""
    def rule(r):
        return {"rate": percent(r["rate"])} if r["rate"] is not None else {"count": r["count"]}

    weights = {}
    for kind, values in spec["weights"].items():
        values = dict(values)
        if "below" in values:
            values["below"] = percent(values["below"])
        weights[kind] = values
    data = {"slug": spec["slug"], "form": spec["form"], "title": dict(spec["title"])}
    if not active:
        data["active"] = False
    data.update({"period": spec["period"], "sampling": rule(spec["sampling"])})
    if spec["overrides"]:
        data["overrides"] = [{o["scope"]: o["code"], **rule(o)} for o in spec["overrides"]]
    data.update({"per_technician_per_year": dict(spec["per_year"]), "weights": weights,
                 "blackout": dict(spec["blackout"])})
    if spec["due"]["working_days"] is not None:
        data["due"] = {"working_days": spec["due"]["working_days"]}
    return data


def file_text(programme: AuditProgramme) -> str:
    """The text of content/audits/programmes/<slug>.yaml for the programme as it is now."""
    return (f"# {programme.slug}.yaml (format: content/README.md, audit programmes)\n"
            + yaml.safe_dump(file_fields(programme.spec, programme.active), allow_unicode=True, sort_keys=False,
                             default_flow_style=None, width=100))


@register("audit programmes", "audits/programmes")
def load_programmes(where: Path) -> Report:
    """Each file loads whole or not at all. A programme saved in the trainers' form is kept: a file
    saying something else is reported (a warning, FILE:LINE: …) until it says the same."""
    report = Report()
    files = [where] if where.is_file() else sorted(where.glob("*.yaml"))
    for path in files:
        spec, active, problems = parse_programme(path)
        for line, field_name, message in problems:
            report.error(path, line, field_name, message)
        if problems:
            continue
        hashed = digest(spec, active)
        row = db.session.scalar(select(AuditProgramme).where(AuditProgramme.slug == spec["slug"]))
        if row is not None and row.content_hash == hashed:
            if row.source == "form":  # the file now says what the form saved: the file owns it again
                row.source = "file"
                db.session.commit()
            report.unchanged += 1
            continue
        if row is not None and row.source == "form":
            by = db.session.get(User, row.updated_by_id) if row.updated_by_id else None
            report.unchanged += 1
            report.warnings.append(f"{path}:1: " + _(
                "programme %(slug)s was changed in the portal on %(when)s by %(who)s; the file's version is not "
                "loaded and the portal's is kept (copy the text shown on the programme's page into the file)",
                slug=row.slug, when=row.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
                who=(by.display_name if by is not None else "—")))
            continue
        if row is None:
            row = AuditProgramme(slug=spec["slug"], source="file")
            db.session.add(row)
            report.created += 1
        else:
            report.updated += 1
        store(row, spec, active)
        row.updated_by_id = None
        db.session.commit()
    return report


def store(row: AuditProgramme, spec: dict, active: bool) -> None:
    row.template_slug, row.title_zh, row.title_en = spec["form"], spec["title"]["zh"], spec["title"]["en"]
    row.spec, row.active, row.content_hash, row.updated_at = spec, active, digest(spec, active), utcnow()


class Conflict(Exception):
    """Somebody else saved the programme (or a file loaded it) after the form was opened."""

    def __init__(self, row: AuditProgramme | None):
        super().__init__("conflict")
        self.row = row


def save_from_form(slug: str | None, spec: dict, active: bool, seen_hash: str, actor: User,
                   now: datetime | None = None) -> AuditProgramme:
    """Create (``slug`` None) or update a programme with a validated spec, as ``actor``. Raises
    :class:`Conflict` when the programme is no longer the version the form showed (``seen_hash``)
    or, for a new one, when the slug was taken meanwhile; nothing is written then."""
    now = now or utcnow()
    if slug is None:
        if db.session.scalar(select(AuditProgramme.id).where(AuditProgramme.slug == spec["slug"])) is not None:
            raise Conflict(None)
        row = AuditProgramme(slug=spec["slug"], created_at=now)
        db.session.add(row)
    else:
        # Claim the row for this transaction first, on the version the form showed: an UPDATE that
        # matches only that version takes the row lock (PostgreSQL) or the write lock (SQLite,
        # where FOR UPDATE does nothing and a plain read would let two saves both pass the check),
        # so two trainers saving at once are taken in turn and the second finds a new version.
        table = AuditProgramme.__table__
        claimed = db.session.execute(table.update().where(table.c.slug == slug, table.c.content_hash == seen_hash)
                                     .values(content_hash=table.c.content_hash)).rowcount
        row = db.session.scalars(select(AuditProgramme).where(AuditProgramme.slug == slug)
                                 .execution_options(populate_existing=True)).one()
        if not claimed or row.content_hash != seen_hash:
            db.session.rollback()
            raise Conflict(db.session.scalar(select(AuditProgramme).where(AuditProgramme.slug == slug)))
        spec = {**spec, "slug": row.slug}
        if row.content_hash == digest(spec, active):  # nothing changed: nothing to write
            db.session.rollback()
            return row
    store(row, spec, active)
    row.source, row.updated_by_id, row.updated_at = "form", actor.id, now
    try:
        db.session.commit()
    except IntegrityError:  # a programme of this name was made meanwhile
        db.session.rollback()
        raise Conflict(None) from None
    return row


# --- the rules in words ---------------------------------------------------------------------------


def _rule_words(rule: dict, period: str, per: str) -> str:
    if rule["rate"] is not None:
        words = {("monthly", "region"): _("%(rate)s of eligible technicians per region each month"),
                 ("quarterly", "region"): _("%(rate)s of eligible technicians per region each quarter"),
                 ("monthly", "here"): _("%(rate)s of its eligible technicians each month"),
                 ("quarterly", "here"): _("%(rate)s of its eligible technicians each quarter")}
        return words[(period, per)] % {"rate": percent(rule["rate"])}
    n = rule["count"]
    if per == "region":
        if period == "monthly":
            return ngettext("%(num)d technician per region each month", "%(num)d technicians per region each month", n)
        return ngettext("%(num)d technician per region each quarter", "%(num)d technicians per region each quarter", n)
    if period == "monthly":
        return ngettext("%(num)d of its technicians each month", "%(num)d of its technicians each month", n)
    return ngettext("%(num)d of its technicians each quarter", "%(num)d of its technicians each quarter", n)


def describe(spec: dict, places: dict | None = None) -> dict:
    """The programme's rules as sentences in the page's language: {"sampling": str, "overrides":
    [str], "per_year": str, "weights": [str], "blackout": [str], "due": str}. ``places`` maps
    (scope, code) → name for the overrides."""
    places = places or {}
    period = spec["period"]
    out = {"sampling": _rule_words(spec["sampling"], period, "region"), "overrides": [], "weights": [],
           "blackout": []}
    scope_words = {"region": _("Region %(code)s%(name)s: %(rule)s"), "province": _("Province %(code)s%(name)s: %(rule)s"),
                   "outlet": _("Outlet %(code)s%(name)s: %(rule)s")}
    for o in spec["overrides"]:
        name = places.get((o["scope"], o["code"]))
        out["overrides"].append(scope_words[o["scope"]] % {
            "code": o["code"], "name": f" ({name})" if name else "", "rule": _rule_words(o, period, "here")})
    low, high = spec["per_year"]["min"], spec["per_year"]["max"]
    if low:
        out["per_year"] = _("at least %(min)d and at most %(max)d visits per technician a year", min=low, max=high)
    else:
        out["per_year"] = ngettext("at most %(num)d visit per technician a year",
                                   "at most %(num)d visits per technician a year", high)
    w = spec["weights"]
    out["weights"].append(_("A red-line failure in the last %(days)d days: %(weight)s× as likely to be drawn.",
                            days=w["red_line"]["days"], weight=_weight(w["red_line"]["weight"])))
    out["weights"].append(_("“Did this fix it?” answered yes below %(below)s (at least %(answers)d answers) in the "
                            "last %(days)d days: %(weight)s× as likely to be drawn.",
                            below=percent(w["low_ftf"]["below"]), answers=w["low_ftf"]["min_answers"],
                            days=w["low_ftf"]["days"], weight=_weight(w["low_ftf"]["weight"])))
    out["weights"].append(_("A certificate issued in the last %(days)d days: %(weight)s× as likely to be drawn.",
                            days=w["new_certificate"]["days"], weight=_weight(w["new_certificate"]["weight"])))
    days = spec["blackout"]["onboarding_working_days"]
    if days:
        out["blackout"].append(ngettext("Never in their first %(num)d working day.",
                                        "Never in their first %(num)d working days.", days))
    if spec["blackout"]["suspended"]:
        out["blackout"].append(_("Never while suspended (account inactive or a certificate suspended)."))
    if not out["blackout"]:
        out["blackout"].append(_("No blackout: every active technician may be drawn."))
    due = spec["due"]["working_days"]
    out["due"] = (ngettext("Due %(num)d working day after the draw.", "Due %(num)d working days after the draw.", due)
                  if due else _("Due on the period's last working day."))
    return out


def _weight(value: float) -> str:
    return f"{value:g}"


def place_names(spec: dict) -> dict:
    """(scope, code) → name of the overrides' places (a query per scope used)."""
    models = {"region": Region, "province": Province, "outlet": Outlet}
    names = {}
    for scope, model in models.items():
        codes = {o["code"] for o in spec["overrides"] if o["scope"] == scope}
        if codes:
            for row in db.session.scalars(select(model).where(model.code.in_(codes))):
                names[(scope, row.code)] = row.name
    return names
