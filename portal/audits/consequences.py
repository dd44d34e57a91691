"""What a scored report calls for, decided from plain values: the template's rules (red line →
suspend the technician's active certificates and alert the trainers; a weak section → its
lesson; an excellent visit with a story → a good-practice proposal).

No Flask, no session, no query: the service (``services.apply_consequences``) gathers the
values (the scored report, the technician's active certificates, what this report is already
causing) and carries out the list this returns, in its order. Sentences are returned as
message ids and values (``Said``), rendered by the service with ``portal.messages.msg`` —
that module imports Flask-Babel, so it is not imported here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple


class Said(NamedTuple):
    """A message to store: its id in ``portal.messages.MESSAGES`` and its values."""

    id: str
    params: dict


@dataclass(frozen=True)
class Consequence:
    """One thing the report causes. ``kind``/``key`` name it (one in force per report):
    ``suspend``/certificate number, ``notify``/"", ``assign``/section id, ``good_practice``/""."""

    kind: str
    key: str = ""
    reason: Said | None = None  # why: the suspension's reason, the lesson's reason, the record's detail
    notice: Said | None = None  # notify: the trainers' notification
    trains: str = ""  # assign: the section's "lesson:COURSE/LESSON" or "module:COURSE/N"
    due: date | None = None  # assign: the lesson's due date
    story: str = ""  # good_practice: the story proposed


def both(zh: str, en: str) -> dict:
    """A referenced thing's text in both languages (as ``portal.messages.both``)."""
    return {"zh": zh or en, "en": en or zh}


def _items(spec: dict) -> dict[str, dict]:
    return {item["id"]: item for section in spec["sections"] for item in section["items"]}


def red_line_consequences(audit_id: int, spec: dict, red_line_items: list[str], technician: str,
                          certificates: Iterable[str], in_force: Collection[tuple[str, str]]) -> list[Consequence]:
    """A red-line failure: each active certificate suspended, the trainers alerted, each once."""
    rule = (spec.get("rules") or {}).get("red_line")
    if not rule:
        return []
    items = _items(spec)
    names = [both(items[i]["text"]["zh"], items[i]["text"]["en"]) for i in red_line_items]
    reason = Said("audit.red-line", {"n": audit_id, "items": names})
    out = []
    if rule.get("suspend_certificate"):
        out += [Consequence("suspend", number, reason) for number in certificates
                if ("suspend", number) not in in_force]
    if rule.get("notify_trainers") and ("notify", "") not in in_force:
        notice = Said("audit.red-line-of", {"name": technician, "n": audit_id, "items": names})
        out.append(Consequence("notify", "", reason, notice))
    return out


def weak_sections(audit_id: int, spec: dict, section_scores: Mapping[str, float | None],
                  in_force: Collection[tuple[str, str]], today: date) -> list[Consequence]:
    """Each section scoring below its threshold (its own ``below`` or the rule's) that names a
    lesson to train it: that lesson, due ``due_days`` (14) days from ``today``, once."""
    weak = (spec.get("rules") or {}).get("weak_section")
    if not weak:
        return []
    due = today + timedelta(days=int(weak.get("due_days", 14)))
    out = []
    for section in spec["sections"]:
        score = (section_scores or {}).get(section["id"])
        threshold = section.get("below") or weak["below"]
        if score is None or score >= threshold or not section.get("trains"):
            continue
        if ("assign", section["id"]) in in_force:
            continue
        reason = Said("audit.weak-section", {"n": audit_id,
                                             "section": both(section["title"]["zh"], section["title"]["en"]),
                                             "score": float(score), "threshold": float(threshold)})
        out.append(Consequence("assign", section["id"], reason, trains=section["trains"], due=due))
    return out


def good_practice(spec: dict, red_line_failed: bool, result: str, responses: Mapping,
                  in_force: Collection[tuple[str, str]]) -> list[Consequence]:
    """A visit graded in the rule's grades, with no red line and a story told: proposed, once."""
    good = (spec.get("rules") or {}).get("good_practice")
    if not good or red_line_failed or result not in good["grades"]:
        return []
    story = str((responses or {}).get(good["story"]) or "").strip()
    if not story or ("good_practice", "") in in_force:
        return []
    return [Consequence("good_practice", "", story=story)]


def consequences(audit_id: int, spec: dict, scored, responses: Mapping, technician: str,
                 certificates: Iterable[str], in_force: Collection[tuple[str, str]],
                 today: date) -> list[Consequence]:
    """Everything a report with this outcome causes now, in the order it is carried out
    (suspensions, the trainers' alert, lessons by section, a good-practice story).

    ``scored``: the report's outcome (``scoring.Scored`` or anything with ``red_line_failed``,
    ``red_line_items``, ``section_scores`` and ``result``); ``technician``: their display name;
    ``certificates``: the numbers of their active certificates; ``in_force``: the (kind, key)
    this report already causes and nobody undid (not caused twice); ``today``: the local day."""
    out = []
    if scored.red_line_failed:
        out += red_line_consequences(audit_id, spec, list(scored.red_line_items), technician, certificates,
                                     in_force)
    out += weak_sections(audit_id, spec, scored.section_scores, in_force, today)
    out += good_practice(spec, scored.red_line_failed, scored.result, responses, in_force)
    return out


def called_for(spec: dict, red_line_failed: bool, section_scores: dict, kind: str, key: str = "") -> bool:
    """Whether a report with this outcome calls for this consequence (plain logic: the template's
    rules, the red line, the section scores)."""
    rules = spec.get("rules") or {}
    if kind in ("suspend", "notify"):
        return bool(red_line_failed and rules.get("red_line"))
    if kind == "assign":
        weak = rules.get("weak_section")
        section = next((s for s in spec["sections"] if s["id"] == key), None)
        if not weak or section is None:
            return False
        score = (section_scores or {}).get(key)
        return score is not None and score < (section.get("below") or weak["below"])
    return True
