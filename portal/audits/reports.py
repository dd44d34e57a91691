"""Trainer reports over submitted audits: scores by month per technician, outlet, province or
region; the most often failed items (Pareto); red-line incidents.

The ``*_query``/``monthly_page``/``pareto_counts`` functions below let the database group and
count (the pages show a page of groups or incidents; downloads stream every one); the functions
over a list of audits are the same figures computed in Python, kept as the reference the tests
compare the database's figures with."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from ..auth.models import Outlet, Province, Region, User
from ..extensions import db
from . import rtypes
from .loader import all_items
from .models import Audit, AuditFailedItem, AuditTemplate
from .services import local_day

GROUPINGS = ("technician", "outlet", "province", "region")


def submitted_audits() -> list[Audit]:
    return list(db.session.scalars(select(Audit).where(Audit.status == "submitted").order_by(Audit.visited_at, Audit.id)))


def _group(audit: Audit, by: str) -> str:
    user = audit.technician
    outlet = user.outlet
    if by == "technician":
        return f"{user.display_name} ({user.username})"
    if outlet is None:
        return "—"
    if by == "outlet":
        return f"{outlet.code} {outlet.name}"
    if by == "province":
        return outlet.province.name
    return outlet.province.region.name


@dataclass
class Row:
    group: str
    counts: dict[str, int] = field(default_factory=dict)
    averages: dict[str, float] = field(default_factory=dict)
    overall: float | None = None


@dataclass
class Table:
    months: list[str]
    rows: list[Row]


def mean(total: float, n: int) -> float:
    """An average score to one decimal. The total is first rounded well below the scores' own
    precision, so sums added up in another order (by the database, month by month) give the
    same figure, also where it falls on a half."""
    return round(round(total, 6) / n, 1)


def monthly(audits: list[Audit], by: str) -> Table:
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    months = set()
    for audit in audits:
        month = local_day(audit.visited_at).strftime("%Y-%m")
        months.add(month)
        scores[_group(audit, by)][month].append(audit.score or 0.0)
    rows = []
    for group, per_month in scores.items():
        all_scores = [s for values in per_month.values() for s in values]
        rows.append(Row(group, {m: len(v) for m, v in per_month.items()},
                        {m: mean(sum(v), len(v)) for m, v in per_month.items()},
                        mean(sum(all_scores), len(all_scores))))
    return Table(sorted(months), sorted(rows, key=lambda r: r.group))


@dataclass
class ParetoLine:
    item_id: str
    text: str
    count: int
    cumulative: float  # percent of all failures, this item and those above it


def pareto(audits: list[Audit], lang: str) -> list[ParetoLine]:
    counts: Counter = Counter()
    texts: dict[str, str] = {}
    for audit in audits:
        items = all_items(audit.template.spec)
        for item_id in audit.failed_items or []:
            counts[item_id] += 1
            if item_id in items:
                texts[item_id] = items[item_id]["text"][lang]
    total = sum(counts.values())
    out, running = [], 0
    for item_id, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        running += count
        out.append(ParetoLine(item_id, texts.get(item_id, item_id), count, round(100 * running / total, 1)))
    return out


@dataclass
class Incident:
    audit: Audit
    visited: date
    items: list[str]


def red_line_incidents(audits: list[Audit], lang: str) -> list[Incident]:
    out = []
    for audit in audits:
        if not audit.red_line_failed:
            continue
        items = all_items(audit.template.spec)
        names = [items[i]["text"][lang] for i in audit.failed_items or []
                 if i in items and rtypes.get(items[i]["type"]).fails_red_line(items[i], (audit.responses or {}).get(i))]
        out.append(Incident(audit, local_day(audit.visited_at), names))
    return sorted(out, key=lambda i: i.visited, reverse=True)


@dataclass
class ParetoChart:
    """The most failed items as bars, most first; the bars are relative to the first."""

    lines: list[ParetoLine]
    most: int


def pareto_chart(lines: list[ParetoLine], top: int = 10) -> ParetoChart | None:
    lines = lines[:top]
    return ParetoChart(lines, max(line.count for line in lines)) if lines else None


# --- the same reports, grouped and counted by the database ---------------------------------------


def submitted_query():
    return select(Audit).where(Audit.status == "submitted")


def month_starts(zone: str):
    """The first instants (UTC) of the local months the submitted audits fall in, oldest first,
    with their labels ("2026-11"): at most a few dozen, from the first and last visits."""
    first, last = db.session.execute(select(func.min(Audit.visited_at), func.max(Audit.visited_at))
                                     .where(Audit.status == "submitted")).one()
    if first is None:
        return []
    tz = ZoneInfo(zone)
    day, end = first.astimezone(tz).date().replace(day=1), last.astimezone(tz).date()
    out = []
    while day <= end:
        out.append((datetime.combine(day, time(), tz).astimezone(timezone.utc), day.strftime("%Y-%m")))
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def month_of(starts):
    """SQL for the local month label of ``Audit.visited_at`` (newest boundary first)."""
    return case(*[(Audit.visited_at >= start, label) for start, label in reversed(starts)],
                else_=starts[0][1])


def _groups(by: str):
    """(the grouping key column, the columns ordering the groups, joins)."""
    if by == "technician":
        return Audit.technician_id, (func.coalesce(func.nullif(User.name, ""), User.username), User.username)
    if by == "outlet":
        return User.outlet_id, (Outlet.code,)
    if by == "province":
        return Outlet.province_id, (Province.code,)
    return Province.region_id, (Region.code,)


def _joined(query, by: str):
    return _placed(query.select_from(Audit).join(User, Audit.technician_id == User.id), by)


def _placed(query, by: str):
    """The technician's outlet, province and region joined to a query over ``User``."""
    if by != "technician":
        query = query.outerjoin(Outlet, User.outlet_id == Outlet.id).outerjoin(Province, Outlet.province_id == Province.id)
    if by == "region":
        query = query.outerjoin(Region, Province.region_id == Region.id)
    return query


def group_keys_query(by: str):
    """The groups that have submitted audits, in the order the table lists them (no place last).

    Picked from the technicians who have submitted reports (read from the index on audit
    (status, technician_id) alone), not from every report: tens of thousands of technicians
    rather than hundreds of thousands of reports to join, sort and make distinct. By technician
    each technician is a group of their own (no DISTINCT needed)."""
    key, order = _groups(by)
    if by == "technician":
        key = User.id
    last = case((key.is_(None), 1), else_=0).label("last")
    audited = select(Audit.technician_id).where(Audit.status == "submitted")
    query = _placed(select(key.label("key"), last, *order).select_from(User).where(User.id.in_(audited)), by)
    if by != "technician":
        query = query.distinct()
    return query.order_by(last, *order)


def group_labels(by: str, keys) -> dict:
    """key → the group's name as the table shows it."""
    keys = [k for k in keys if k is not None]
    labels: dict = {None: "—"}
    if by == "technician":
        labels.update({u.id: f"{u.display_name} ({u.username})"
                       for u in db.session.scalars(select(User).where(User.id.in_(keys)))})
    elif by == "outlet":
        labels.update({o.id: f"{o.code} {o.name}" for o in db.session.scalars(select(Outlet).where(Outlet.id.in_(keys)))})
    elif by == "province":
        labels.update({p.id: p.name for p in db.session.scalars(select(Province).where(Province.id.in_(keys)))})
    else:
        labels.update({r.id: r.name for r in db.session.scalars(select(Region).where(Region.id.in_(keys)))})
    return labels


def monthly_cells(by: str, starts, keys=None):
    """(key, month, audits, sum of scores) per group and month, grouped by the database; only the
    groups in ``keys`` when given."""
    key, _order = _groups(by)
    month = month_of(starts).label("month")
    query = _joined(select(key.label("key"), month, func.count(), func.sum(func.coalesce(Audit.score, 0.0)))
                    .where(Audit.status == "submitted"), by)
    if keys is not None:
        keys = list(keys)
        wanted = key.in_([k for k in keys if k is not None])
        query = query.where(or_(wanted, key.is_(None)) if None in keys else wanted)
    return query.group_by(key, month)


def monthly_table(by: str, keys: list, starts) -> Table:
    """The table for these groups (a page of them), in their order."""
    if not keys or not starts:
        return Table([label for _s, label in starts], [])
    labels = group_labels(by, keys)
    rows = {k: Row(labels.get(k, "—")) for k in keys}
    sums: dict = {k: [0.0, 0] for k in keys}
    for k, month, n, total in db.session.execute(monthly_cells(by, starts, keys)):
        row = rows[k]
        row.counts[month] = n
        row.averages[month] = mean(float(total), n)
        sums[k][0] += float(total)
        sums[k][1] += n
    for k, row in rows.items():
        row.overall = mean(sums[k][0], sums[k][1]) if sums[k][1] else None
    return Table([label for _s, label in starts], [rows[k] for k in keys])


def monthly_export_rows(by: str, starts, keys):
    """(group, month, audits, average) for every group and every month (0 and "" where a group
    had none), group by group in the table's order: ``keys`` is a stream of group keys."""
    months = [label for _s, label in starts]
    batch: list = []

    def flush():
        table = monthly_table(by, batch, starts)
        for row in table.rows:
            for month in months:
                yield [row.group, month, row.counts.get(month, 0), row.averages.get(month, "")]

    for key in keys:
        batch.append(key)
        if len(batch) == 200:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


_ITEM_TEXTS: dict[tuple[int, str, str], dict[str, str]] = {}  # (version id, content hash, lang) → texts


def _item_texts(template_id: int, content_hash: str, lang: str) -> dict[str, str]:
    key = (template_id, content_hash, lang)
    if key not in _ITEM_TEXTS:
        spec = db.session.scalar(select(AuditTemplate.spec).where(AuditTemplate.id == template_id))
        _ITEM_TEXTS[key] = {item_id: item["text"][lang] for item_id, item in all_items(spec).items()}
    return _ITEM_TEXTS[key]


def pareto_counts(lang: str) -> list[ParetoLine]:
    """The most often failed items, counted by the database from ``audit_failed_item`` (a few
    dozen items, whatever the number of reports). Only submitted reports have rows there (they
    are written when a report is scored, in the transaction that submits or amends it, and a
    submitted report stays submitted), so the count needs no join to ``audit``: it reads the
    index on ``item_id`` alone."""
    counts = db.session.execute(
        select(AuditFailedItem.item_id, func.count()).group_by(AuditFailedItem.item_id)).all()
    texts: dict[str, str] = {}
    # The template versions some submitted report uses (an EXISTS per version on the index of
    # audit.template_id, not a DISTINCT over every report); their item texts are read from the
    # spec once per version's content (``_ITEM_TEXTS``), not on every request.
    used = exists().where(Audit.template_id == AuditTemplate.id, Audit.status == "submitted")
    for template_id, content_hash in db.session.execute(
            select(AuditTemplate.id, AuditTemplate.content_hash).where(used).order_by(AuditTemplate.id)):
        texts.update(_item_texts(template_id, content_hash, lang))  # the newest version's words win
    total = sum(n for _i, n in counts)
    out, running = [], 0
    for item_id, count in sorted(counts, key=lambda kv: (-kv[1], kv[0])):
        running += count
        out.append(ParetoLine(item_id, texts.get(item_id, item_id), count, round(100 * running / total, 1)))
    return out


def red_lines_query(templates: bool = True):
    """Submitted reports that failed a red line, latest visit first. With ``templates`` each
    report's template comes in the same query (a page of them); a download streaming every
    incident passes False and loads each template once (``held_templates``): joined, every row
    would carry (and the driver parse) its own copy of the template's large spec, hundreds of
    them per fetched batch."""
    query = (submitted_query().where(Audit.red_line_failed.is_(True))
             .options(joinedload(Audit.technician).joinedload(User.outlet))
             .order_by(Audit.visited_at.desc(), Audit.id.desc()))
    return query.options(joinedload(Audit.template)) if templates else query


def held_templates(audits):
    """The reports, each with its template loaded once per template and kept while they are read
    (the session's identity map holds objects weakly: kept here, a template is loaded and parsed
    once, and every later report's ``template`` is found there without a query)."""
    held: dict[int, AuditTemplate] = {}
    for audit in audits:
        if audit.template_id not in held:
            held[audit.template_id] = audit.template
        yield audit


def incident(audit: Audit, lang: str) -> Incident:
    items = all_items(audit.template.spec)
    names = [items[i]["text"][lang] for i in audit.failed_items or []
             if i in items and rtypes.get(items[i]["type"]).fails_red_line(items[i], (audit.responses or {}).get(i))]
    return Incident(audit, local_day(audit.visited_at), names)
