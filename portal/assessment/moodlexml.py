"""Moodle XML question files: parse into the portal's question types (like gift.parse).

Supported: multichoice (single and multiple answers, fractions, penalty), truefalse,
shortanswer, numerical (with tolerance, several answers), matching; category entries.
Other types (essay, description, cloze, calculated, …) are skipped with their line.
A file that is not well-formed XML, not a ``<quiz>``, has a DOCTYPE (no entities from outside
the file) or holds no question gets one reason for the whole file (``Result.fatal``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from flask_babel import gettext as _

from . import gift, qtypes

FORMATS = {"html": "html", "moodle_auto_format": "moodle", "plain_text": "plain", "markdown": "markdown"}
TAG_RE = re.compile(r"<[^>]+>")


def _text(node, path: str = "text") -> str:
    if node is None:
        return ""
    found = node.find(path)
    return (found.text or "").strip() if found is not None else ""


def _fraction(answer) -> float:
    number = qtypes.parse_number(answer.get("fraction", "0"))
    if number is None:  # (also nan and inf, which no database stores in JSON)
        raise ValueError(_("fraction %(value)s is not a number", value=repr(answer.get("fraction"))))
    return number / 100


def _question(node) -> gift.Parsed | tuple[str, str]:
    kind = node.get("type", "")
    title = _text(node.find("name"))
    qtext = node.find("questiontext")
    fmt = FORMATS.get(qtext.get("format", "html") if qtext is not None else "html", "html")
    text = _text(qtext)  # HTML stays HTML; it is rendered through the sanitiser like all text
    feedback = _text(node.find("generalfeedback"))
    answers = node.findall("answer")
    if kind == "multichoice":
        single = (node.findtext("single") or "true").strip().lower() in ("true", "1")
        choices = [{"text": _text(a), "fraction": _fraction(a), "feedback": _text(a.find("feedback"))}
                   for a in answers]
        data = {"choices": choices}
        if not single:
            return gift.Parsed(0, "multiple", text, data, title, fmt, "", feedback)
        if choices and max(c["fraction"] for c in choices) < 1:
            return ("error", _("no answer is worth 100%"))
        return gift.Parsed(0, "single", text, data, title, fmt, "", feedback)
    if kind == "truefalse":
        right = next((a for a in answers if _fraction(a) >= 1), None)
        if right is None:
            return ("error", _("neither true nor false is worth 100%"))
        value = _text(right).lower()
        if value not in ("true", "false"):
            return ("error", _("a true/false answer must be 'true' or 'false', not %(value)s", value=repr(value)))
        data = {"answer": value == "true"}
        wrong = next((a for a in answers if a is not right), None)
        for key, answer in (("feedback_wrong", wrong), ("feedback_right", right)):
            if _text(answer.find("feedback") if answer is not None else None):
                data[key] = _text(answer.find("feedback"))
        return gift.Parsed(0, "truefalse", text, data, title, fmt, "", feedback)
    if kind == "shortanswer":
        return gift.Parsed(0, "short", text, {"answers": [
            {"text": _text(a), "fraction": _fraction(a), "feedback": _text(a.find("feedback"))}
            for a in answers]}, title, fmt, "", feedback)
    if kind == "numerical":
        values = []
        for a in answers:
            value = qtypes.parse_number(_text(a))
            tolerance = qtypes.parse_number(a.findtext("tolerance") or "0")
            if value is None or tolerance is None:
                return ("error", _("not a number: %(text)s", text=repr(_text(a))))
            values.append({"value": value, "tolerance": abs(tolerance), "fraction": _fraction(a),
                           "feedback": _text(a.find("feedback"))})
        return gift.Parsed(0, "numerical", text, {"answers": values}, title, fmt, "", feedback)
    if kind == "matching":
        pairs = []
        for sub in node.findall("subquestion"):
            left, right = _text(sub), _text(sub.find("answer"))
            if left and right:
                pairs.append({"left": TAG_RE.sub("", left).strip(), "right": right})
        return gift.Parsed(0, "matching", text, {"pairs": pairs}, title, fmt, "", feedback)
    return ("skip", _("%(type)s questions are not supported", type=kind or "unknown"))


def parse(source: str) -> gift.Result:
    result = gift.Result()
    if re.search(r"<!DOCTYPE", source, re.I):
        result.fatal = _("a DOCTYPE is not allowed in a question file")
        return result
    try:
        root = ET.fromstring(source)
    except (ET.ParseError, ValueError) as exc:
        result.fatal = _("it is not well-formed XML: %(problem)s", problem=str(exc))
        return result
    if root.tag != "quiz":
        result.fatal = _("it is XML but not a Moodle question file: its root element is <%(tag)s>, not <quiz>",
                         tag=str(root.tag)[:40])
        return result
    # ElementTree keeps no line numbers: the n-th <question> element is the n-th tag in the text.
    lines = [source.count("\n", 0, m.start()) + 1 for m in re.finditer(r"<question\b", source)]
    category = ""
    for index, node in enumerate(root.findall("question")):
        line = lines[index] if index < len(lines) else 1
        if node.get("type") == "category":
            category = _text(node.find("category"))
            continue
        try:
            outcome = _question(node)
        except ValueError as exc:
            outcome = ("error", str(exc))
        if isinstance(outcome, gift.Parsed):
            outcome.line, outcome.category = line, category
        result.take(line, outcome)
    result.nothing_read(_("nothing in it reads as a Moodle XML question"),
                        _("it holds no <question> elements"))
    return result
