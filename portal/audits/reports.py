"""Trainer reports over submitted audits: scores by month per technician, outlet, province or
region; the most often failed items (Pareto); red-line incidents."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from ..extensions import db
from . import rtypes
from .loader import all_items
from .models import Audit
from .services import local_day

GROUPINGS = ("technician", "outlet", "province", "region")


def submitted_audits() -> list[Audit]:
    return list(db.session.scalars(select(Audit).where(Audit.status == "submitted").order_by(Audit.visited_at)))


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
                        {m: round(sum(v) / len(v), 1) for m, v in per_month.items()},
                        round(sum(all_scores) / len(all_scores), 1)))
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
