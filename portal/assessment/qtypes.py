"""Question types: each a registered class that validates, grades and redacts a question.

Plain Python, no Flask: values in, score out. A question is ``(type name, data dict)``;
``grade`` returns a fraction of the question's marks in [0, 1]; ``public`` is what may be
sent to a browser before submission (never the answer key).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from typing import Any

from flask_babel import gettext as _

REGISTRY: dict[str, "QuestionType"] = {}


def register(cls):
    REGISTRY[cls.name] = cls()
    return cls


def get(name: str) -> "QuestionType":
    return REGISTRY[name]


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def fold(text: str) -> str:
    """For comparing typed answers: full-width folded, case-insensitive, spaces ignored."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text or "")).casefold())


class QuestionType:
    name = ""

    def validate(self, data: dict) -> list[str]:
        return []

    def grade(self, data: dict, response: Any) -> float:
        raise NotImplementedError

    def public(self, data: dict) -> dict:
        """The question without its answer key."""
        return {}


def _choices_problems(data: dict, minimum: int = 2) -> list[str]:
    choices = data.get("choices")
    if not isinstance(choices, list) or len(choices) < minimum:
        return [_("needs at least %(n)d choices", n=minimum)]
    problems = []
    for n, choice in enumerate(choices, start=1):
        if not isinstance(choice, dict) or not str(choice.get("text", "")).strip():
            problems.append(_("choice %(n)d has no text", n=n))
        elif not isinstance(choice.get("fraction", 0), (int, float)) or not -1 <= choice.get("fraction", 0) <= 1:
            problems.append(_("choice %(n)d: fraction must be between -1 and 1", n=n))
    return problems


@register
class SingleChoice(QuestionType):
    """One answer; each choice carries a fraction (1 = right; GIFT ``~%50%`` = half marks)."""

    name = "single"

    def validate(self, data):
        problems = _choices_problems(data)
        if not problems and max(c.get("fraction", 0) for c in data["choices"]) < 1:
            problems.append(_("no choice is fully right"))
        return problems

    def grade(self, data, response):
        try:
            index = int(response)
        except (TypeError, ValueError):
            return 0.0
        choices = data["choices"]
        if not 0 <= index < len(choices):
            return 0.0
        return _clamp(choices[index].get("fraction", 0))

    def public(self, data):
        return {"choices": [c["text"] for c in data["choices"]]}


@register
class MultipleChoice(QuestionType):
    """Several answers; the fractions of the chosen choices add up (negative ones subtract),
    clamped to [0, 1]. ``penalty`` (optional) is subtracted for each chosen choice worth 0."""

    name = "multiple"

    def validate(self, data):
        problems = _choices_problems(data)
        if not problems:
            positive = sum(c.get("fraction", 0) for c in data["choices"] if c.get("fraction", 0) > 0)
            if not math.isclose(positive, 1.0, abs_tol=0.011):
                problems.append(_("the right choices' fractions must add up to 100%"))
        penalty = data.get("penalty", 0)
        if not isinstance(penalty, (int, float)) or not 0 <= penalty <= 1:
            problems.append(_("penalty must be between 0 and 1"))
        return problems

    def grade(self, data, response):
        if not isinstance(response, (list, tuple, set)):
            return 0.0
        choices = data["choices"]
        chosen = set()
        for item in response:
            try:
                index = int(item)
            except (TypeError, ValueError):
                continue
            if 0 <= index < len(choices):
                chosen.add(index)
        penalty = data.get("penalty", 0) or 0
        score = 0.0
        for index in chosen:
            fraction = choices[index].get("fraction", 0)
            score += fraction if fraction else -penalty
        return _clamp(score)

    def public(self, data):
        return {"choices": [c["text"] for c in data["choices"]]}


@register
class TrueFalse(QuestionType):
    name = "truefalse"

    def validate(self, data):
        return [] if isinstance(data.get("answer"), bool) else [_("answer must be true or false.")]

    def grade(self, data, response):
        if isinstance(response, str):
            response = {"true": True, "t": True, "false": False, "f": False}.get(response.strip().lower())
        return 1.0 if isinstance(response, bool) and response == data["answer"] else 0.0

    def public(self, data):
        return {}


@register
class ShortAnswer(QuestionType):
    """Typed text against several accepted answers (each with a fraction), ignoring case, spaces
    and full-width forms."""

    name = "short"

    def validate(self, data):
        answers = data.get("answers")
        if not isinstance(answers, list) or not answers:
            return [_("needs at least one accepted answer")]
        if any(not fold(a.get("text", "")) for a in answers):
            return [_("an accepted answer is empty")]
        if max(a.get("fraction", 1) for a in answers) < 1:
            return [_("no answer is fully right")]
        return []

    def grade(self, data, response):
        typed = fold(response)
        if not typed:
            return 0.0
        return _clamp(max((a.get("fraction", 1) for a in data["answers"] if fold(a["text"]) == typed),
                          default=0.0))

    def public(self, data):
        return {}


def parse_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = unicodedata.normalize("NFKC", str(value or "")).strip().replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@register
class Numerical(QuestionType):
    """A number within a tolerance of any accepted value (each with a fraction)."""

    name = "numerical"

    def validate(self, data):
        answers = data.get("answers")
        if not isinstance(answers, list) or not answers:
            return [_("needs at least one accepted value")]
        for n, a in enumerate(answers, start=1):
            if parse_number(a.get("value")) is None:
                return [_("value %(n)d is not a number", n=n)]
            if parse_number(a.get("tolerance", 0)) is None or a.get("tolerance", 0) < 0:
                return [_("tolerance %(n)d must be a number ≥ 0", n=n)]
        if max(a.get("fraction", 1) for a in answers) < 1:
            return [_("no value is fully right")]
        return []

    def grade(self, data, response):
        number = parse_number(response)
        if number is None:
            return 0.0
        best = 0.0
        for a in data["answers"]:
            tolerance = float(a.get("tolerance", 0) or 0)
            if abs(number - float(a["value"])) <= tolerance + 1e-9 * max(1.0, abs(float(a["value"]))):
                best = max(best, a.get("fraction", 1))
        return _clamp(best)

    def public(self, data):
        return {}


@register
class Matching(QuestionType):
    """Pairs: each left item matched to its right item; marks in proportion to pairs right."""

    name = "matching"

    def validate(self, data):
        pairs = data.get("pairs")
        if not isinstance(pairs, list) or len(pairs) < 2:
            return [_("needs at least two pairs")]
        if any(not str(p.get("left", "")).strip() or not str(p.get("right", "")).strip() for p in pairs):
            return [_("every pair needs both sides")]
        return []

    def grade(self, data, response):
        """``response``: {left index (int or str): the right-hand text chosen}."""
        if not isinstance(response, dict):
            return 0.0
        pairs = data["pairs"]
        right = 0
        for index, pair in enumerate(pairs):
            chosen = response.get(index, response.get(str(index)))
            if chosen is not None and fold(chosen) == fold(pair["right"]):
                right += 1
        return right / len(pairs)

    def public(self, data):
        return {"left": [p["left"] for p in data["pairs"]],
                "right": sorted({p["right"] for p in data["pairs"]}, key=fold)}


def item_id(text: str) -> str:
    """An item's id for the browser: stable, and saying nothing about its place in the order."""
    return hashlib.sha256(fold(text).encode()).hexdigest()[:10]


@register
class Ordering(QuestionType):
    """Put items in order. Partial credit: the share of items in their right place (or all or
    nothing with ``all_or_nothing: true``)."""

    name = "ordering"

    def validate(self, data):
        items = data.get("items")
        if not isinstance(items, list) or len(items) < 2 or any(not str(i).strip() for i in items):
            return [_("needs at least two items")]
        if len({fold(i) for i in items}) != len(items):
            return [_("items must differ")]
        return []

    def grade(self, data, response):
        """``response``: the items' ids (see :func:`item_id`) in the order the learner gave."""
        items = data["items"]
        place = {item_id(text): position for position, text in enumerate(items)}
        if not isinstance(response, (list, tuple)) or len(response) != len(items):
            return 0.0
        given = [place.get(str(x)) for x in response]
        if None in given or sorted(given) != list(range(len(items))):
            return 0.0
        in_place = sum(1 for position, right in enumerate(given) if position == right)
        if data.get("all_or_nothing"):
            return 1.0 if in_place == len(items) else 0.0
        return in_place / len(items)

    def public(self, data):
        # Sorted by id: an order unrelated to the right one (the quiz shuffles it as well).
        return {"items": sorted(({"id": item_id(t), "text": t} for t in data["items"]),
                                key=lambda item: item["id"])}


def translate(kind: str, source: dict, target: dict, response: Any) -> Any:
    """A response given to a question shown with ``source`` data, as the same answer to the
    question shown with ``target`` data (the other language). Only matching (right-hand texts)
    and ordering (item ids) responses name language-specific things; the others are indexes,
    booleans or typed text and stay as they are. Anything that does not fit stays unchanged."""
    if kind == "matching" and isinstance(response, dict):
        pairs_from, pairs_to = source.get("pairs") or [], target.get("pairs") or []
        if len(pairs_from) != len(pairs_to):
            return response
        rights = {}
        for pair_from, pair_to in zip(pairs_from, pairs_to):
            rights.setdefault(fold(pair_from["right"]), pair_to["right"])
        return {k: rights.get(fold(v), v) if isinstance(v, str) else v for k, v in response.items()}
    if kind == "ordering" and isinstance(response, (list, tuple)):
        items_from, items_to = source.get("items") or [], target.get("items") or []
        if len(items_from) != len(items_to):
            return response
        ids = {item_id(a): item_id(b) for a, b in zip(items_from, items_to)}
        return [ids.get(str(x), x) for x in response]
    return response
