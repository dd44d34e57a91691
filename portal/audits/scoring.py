"""Scoring a report: weighted percentage over the items that count (not-applicable items leave
the denominator), per-section scores, grade bands, and the red-line override."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import rtypes


@dataclass
class Scored:
    score: float | None  # percent, None when nothing scored counts
    result: str  # grade code; "fail" on any red-line failure
    red_line_failed: bool
    section_scores: dict[str, float | None]
    failed_items: list[str] = field(default_factory=list)  # items answered as failures
    red_line_items: list[str] = field(default_factory=list)


def grade_for(spec: dict, score: float | None) -> str:
    if score is None:
        return spec["grades"][-1]["code"]
    for band in spec["grades"]:
        if score >= band["min"]:
            return band["code"]
    return spec["grades"][-1]["code"]


def score_report(spec: dict, responses: dict) -> Scored:
    total_weight = total = 0.0
    sections: dict[str, float | None] = {}
    failed, red = [], []
    for section in spec["sections"]:
        s_weight = s_total = 0.0
        office = section.get("about") == "office"  # the service centre's doing, not the technician's
        for item in section["items"]:
            kind = rtypes.get(item["type"])
            value = responses.get(item["id"])
            if value is None or office:
                continue
            if kind.fails_red_line(item, value):
                red.append(item["id"])
            if kind.failed(item, value):
                failed.append(item["id"])
            points = kind.score(item, value)
            if points is None or not item["weight"]:
                continue
            s_weight += item["weight"]
            s_total += item["weight"] * points
        sections[section["id"]] = round(100 * s_total / s_weight, 1) if s_weight else None
        total_weight += s_weight
        total += s_total
    score = round(100 * total / total_weight, 1) if total_weight else None
    result = "fail" if red else grade_for(spec, score)
    return Scored(score, result, bool(red), sections, failed, red)


def red_line_items(spec: dict, failed_items: list[str], responses: dict) -> list[str]:
    """The failed items whose answers breach a red line (in the order given), as stored on a
    report: its ``failed_items`` and ``responses``."""
    items = {item["id"]: item for section in spec["sections"] for item in section["items"]}
    return [i for i in failed_items or []
            if rtypes.get(items[i]["type"]).fails_red_line(items[i], (responses or {}).get(i))]


def N_(text: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return text


ANSWER_NEEDED = N_("Answer this item (or mark it not applicable where allowed).")
COMMENT_NEEDED = N_("Say what you saw: a comment is required when this item fails.")
PHOTO_NEEDED = N_("Attach a photo: evidence is required when this item fails.")


def missing(spec: dict, responses: dict, comments: dict, photo_items: set[str]) -> dict[str, str]:
    """What stops a report from being submitted: {item id: message id} (one of the three
    above). Every weighted or red-line item needs an answer (or not applicable), and a failed
    item that needs evidence needs a comment or a photo."""
    problems = {}
    for section in spec["sections"]:
        for item in section["items"]:
            kind = rtypes.get(item["type"])
            value = responses.get(item["id"])
            if value is None:
                if item["weight"] or item["red_line"]:
                    problems[item["id"]] = ANSWER_NEEDED
                continue
            if not kind.failed(item, value):
                continue
            if item["evidence"] == "comment" and not (comments.get(item["id"]) or "").strip():
                problems[item["id"]] = COMMENT_NEEDED
            if item["evidence"] == "photo" and item["id"] not in photo_items:
                problems[item["id"]] = PHOTO_NEEDED
    return problems
