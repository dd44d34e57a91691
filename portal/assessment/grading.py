"""Grading a submitted attempt from plain values: each drawn question's keys (its data in the
languages involved), the option order it was shown in, the response and the language it was
given in → marks per question (0..1, with what they were graded against), the total, the
percent and whether it passes.

No Flask, no session, no query: ``attempts.close`` gathers the questions and answers, calls
:func:`grade_attempt` and stores the result. Every question counts the same (one mark each);
partial credit within a question comes from its key (choice fractions, tolerances, pairs),
graded by its type in ``qtypes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import qtypes


def to_original(order: list[int] | None, response, kind: str):
    """A response in the order shown → in the question's own order (shuffled options)."""
    if not order:
        return response
    try:
        if kind == "single":
            return order[int(response)]
        if kind == "multiple" and isinstance(response, (list, tuple)):
            return [order[int(r)] for r in response if 0 <= int(r) < len(order)]
    except (TypeError, ValueError, IndexError):
        return None
    return response


CHOICE_LENGTH = 200  # a typed answer is counted by its first 200 folded characters


def choice_values(kind: str, order: list[int] | None, response) -> tuple[bool, list[str]]:
    """What a response chose, for the item analysis: (blank, values). Values are an option's
    original index as text, "true"/"false", a typed answer folded for comparison, or
    "answered" for the other types."""
    if response is None or response == [] or response == {}:
        return True, []
    if kind in ("single", "multiple"):
        original = to_original(order, response, kind)
        chosen = original if isinstance(original, list) else [original]
        return False, [str(v) for v in chosen if v is not None]
    if kind == "truefalse":
        return False, ["true" if response else "false"]
    if kind in ("short", "numerical"):
        return False, [qtypes.fold(str(response))[:CHOICE_LENGTH]]
    return False, ["answered"]


PAIR_PREFIX = "pair:"  # a matching response's right pair, kept beside what it chose: "pair:<left index>"


def pair_values(kind: str, data: dict, response) -> list[str]:
    """The pairs a matching response got right against ``data`` (the question's key in the
    language it was answered in), as ``pair:<left index>`` values: the item analysis counts
    them per pair. Other types: none."""
    if kind != "matching" or not isinstance(response, dict):
        return []
    right = []
    for index, pair in enumerate(data.get("pairs") or []):
        chosen = response.get(index, response.get(str(index)))
        if chosen is not None and qtypes.fold(str(chosen)) == qtypes.fold(str(pair.get("right", ""))):
            right.append(f"{PAIR_PREFIX}{index}")
    return right


def score_of(marks: list[float], pass_mark: float) -> tuple[float, bool]:
    """(percent, passed) for an attempt's marks per question, as ``grade_attempt`` decides them."""
    percent = round(100 * sum(marks) / len(marks), 2) if marks else 0.0
    return percent, percent >= float(pass_mark)


def fits(data: dict, order: list[int] | None) -> bool:
    """Whether an option order (drawn in the attempt's language) fits the question's data in
    another language (both languages normally have the same choices)."""
    return not order or len(data.get("choices") or []) == len(order)


@dataclass(frozen=True)
class Answer:
    """One drawn question as grading sees it. ``keys``: the question's data (with its answer
    key) by language, at least for ``answer_lang`` and ``attempt_lang``; ``kind`` None: the
    question no longer exists. ``response``: as shown (None: left blank)."""

    kind: str | None
    keys: dict[str, dict]
    response: Any
    answer_lang: str
    attempt_lang: str
    order: list[int] | None = None


@dataclass(frozen=True)
class QuestionMark:
    """A question's marks (0..1) and what they rest on."""

    marks: float
    status: str  # "graded" | "blank" (no answer saved) | "missing" (the question is gone)
    key_lang: str | None = None  # the language whose key graded the answer
    graded_response: Any = None  # the answer in the question's own option order, as graded


@dataclass(frozen=True)
class Graded:
    questions: list[QuestionMark]
    total: float  # marks earned, one per question at most
    out_of: int  # questions
    percent: float  # rounded to 2 places; 0 for an attempt without questions
    passed: bool

    @property
    def marks(self) -> list[float]:
        return [q.marks for q in self.questions]


def grade_answer(answer: Answer) -> QuestionMark:
    """One answer's marks, against the question in the language the answer was given in (a
    typed answer in that language's key, matching texts and ordering ids as they were shown);
    in the attempt's language when the option order does not fit the other one."""
    if answer.kind is None:
        return QuestionMark(0.0, "missing")
    if answer.response is None:
        return QuestionMark(0.0, "blank")
    lang = answer.answer_lang if fits(answer.keys[answer.answer_lang], answer.order) else answer.attempt_lang
    response = to_original(answer.order, answer.response, answer.kind)
    marks = qtypes.get(answer.kind).grade(answer.keys[lang], response)
    return QuestionMark(marks, "graded", lang, response)


def grade_attempt(answers: list[Answer], pass_mark: float) -> Graded:
    """Every drawn question's marks, the percent of the questions' marks earned, and passed
    when the percent reaches ``pass_mark``."""
    questions = [grade_answer(answer) for answer in answers]
    marks = [q.marks for q in questions]
    percent, passed = score_of(marks, pass_mark)
    return Graded(questions, sum(marks), len(marks), percent, passed)
