"""Moodle's GIFT format: parse into the portal's question types, and write back.

Plain Python. Supports what Moodle's GIFT documentation describes: ``//`` comment lines,
``$CATEGORY:``, ``::title::``, ``[markdown]`` / ``[html]`` / ``[plain]`` / ``[moodle]``
formats, multi-line questions, escapes ``\\~ \\= \\# \\{ \\} \\:``, answer feedback ``#``,
general feedback ``####``, weights ``~%50%``, single and multiple choice, true/false
(``{T}`` ``{TRUE}`` ``{F}`` ``{FALSE}``), short answer ``{=a =b}``, numerical ``{#5:0.5}``,
``{#4..6}`` and several numerical answers, matching ``=a -> b``, and missing-word questions
(text after the answer block); true/false feedback ``{T#if wrong#if right}``, ``\\n`` for a
new line, a ``[format]`` before an answer's text. Items of a type the portal does not have
(essay, description) are skipped and reported with their line; a malformed item is reported
with its line and the rest of the file is still read. A file in which no item reads as a GIFT
question at all (empty, another kind of file) gets one reason for the whole file
(``Result.fatal``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import gettext as _

from . import qtypes

# Escaped specials become private-use characters while parsing, and come back after.
ESCAPES = {"\\~": "\ue000", "\\=": "\ue001", "\\#": "\ue002", "\\{": "\ue003", "\\}": "\ue004",
           "\\:": "\ue005", "\\n": "\ue006"}
UNESCAPE = {v: k[1] for k, v in ESCAPES.items()}
UNESCAPE["\ue006"] = "\n"  # \n is a new line inside an item (a blank line would end it)
FORMATS = ("markdown", "html", "plain", "moodle")
BLANK = "_____"


@dataclass
class Parsed:
    line: int
    type: str
    text: str
    data: dict
    title: str = ""
    format: str = "moodle"
    category: str = ""
    feedback: str = ""  # general feedback, shown in review


@dataclass
class Result:
    questions: list[Parsed] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, problem): malformed
    items: int = 0  # items seen (questions, skipped, malformed)
    unsupported: int = 0  # of the skipped: questions of a type the portal does not have
    fatal: str = ""  # why nothing in the file reads as the format at all (one reason, no lines)

    def take(self, line: int, outcome: "Parsed | tuple[str, str]") -> None:
        """File one parsed item: a valid question, a skipped item or a malformed one. ("skip", …)
        is a question of a type the portal does not have; ("text", …) an item that is no
        question (a GIFT description); ("error", …) a malformed one."""
        self.items += 1
        if isinstance(outcome, Parsed):
            problems = qtypes.get(outcome.type).validate(outcome.data)
            if problems:
                self.errors.append((line, f"{outcome.type}: {problems[0]}"))
            else:
                self.questions.append(outcome)
        elif outcome[0] in ("skip", "text"):
            self.skipped.append((line, outcome[1]))
            self.unsupported += outcome[0] == "skip"
        else:
            self.errors.append((line, outcome[1]))

    def nothing_read(self, what: str, empty: str) -> None:
        """Set ``fatal`` when no item of the file is a question in the format (none parsed, none
        of an unsupported type): ``what`` names what the items lacked, ``empty`` says the file
        holds no item; the first malformed item's line and problem go with it."""
        if self.fatal or self.questions or self.unsupported:
            return
        if not self.items:
            self.fatal = empty
        elif self.errors:
            line, problem = min(self.errors)
            self.fatal = _("%(what)s (first problem, line %(line)d: %(problem)s)", what=what, line=line,
                           problem=problem)
        else:
            self.fatal = what

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for q in self.questions:
            out[q.type] = out.get(q.type, 0) + 1
        return out


def _protect(text: str) -> str:
    for escaped, mark in ESCAPES.items():
        text = text.replace(escaped, mark)
    return text


def _restore(text: str) -> str:
    for mark, char in UNESCAPE.items():
        text = text.replace(mark, char)
    return text


def _clean(text: str) -> str:
    return _restore(re.sub(r"[ \t]*\n[ \t]*", "\n", text)).strip()


def _blocks(source: str):
    """(first line number, text) of each question, and category lines, in order."""
    block: list[str] = []
    start = 0
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.rstrip()
        if line.lstrip().startswith("//"):
            continue
        if not line.strip():
            if block:
                yield start, "\n".join(block)
                block = []
            continue
        if line.strip().startswith("$CATEGORY:") and not block:
            yield number, line.strip()
            continue
        if not block:
            start = number
        block.append(line)
    if block:
        yield start, "\n".join(block)


def _answer_block(text: str) -> tuple[str, str, str] | None:
    """(before, inside, after) of the answer block, or None when there is none."""
    open_at = text.find("{")
    if open_at < 0:
        return None
    close_at = text.find("}", open_at)
    if close_at < 0:
        raise ValueError(_("the answer block has no closing }"))
    return text[:open_at], text[open_at + 1:close_at], text[close_at + 1:]


def _split_feedback(text: str) -> tuple[str, str]:
    head, _sep, feedback = text.partition("#")
    return head, feedback


WEIGHT_RE = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
FORMAT_RE = re.compile(r"^\s*\[(%s)\]" % "|".join(FORMATS), re.I)


def _percent(digits: str) -> float:
    number = qtypes.parse_number(digits)
    if number is None:  # hundreds of digits: infinite, which no database stores in JSON
        raise ValueError(_("not a number: %(text)s", text=repr(digits[:40])))
    return number / 100


def _drop_format(text: str) -> str:
    """An answer's or a feedback's own ``[html]``… marker: GIFT allows one; the text keeps the
    question's format."""
    return FORMAT_RE.sub("", text, count=1)


def _answers(inside: str) -> list[tuple[str, float | None, str, str]]:
    """(marker = or ~, weight or None, text, feedback) of each answer."""
    parts = re.split(r"(?=[=~])", inside.strip())
    out = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if part[0] not in "=~":
            raise ValueError(_("unexpected text in the answer block: %(text)s", text=repr(_restore(part)[:40])))
        marker, rest = part[0], part[1:].strip()
        weight = None
        match = WEIGHT_RE.match(rest)
        if match:
            weight = _percent(match.group(1))
            rest = rest[match.end():].strip()
        text, feedback = _split_feedback(rest)
        out.append((marker, weight, _clean(_drop_format(text)), _clean(_drop_format(feedback))))
    return out


def _numerical(spec: str) -> dict:
    spec = spec.strip()
    answers = []
    pieces = re.split(r"(?==)", spec) if spec.startswith("=") else [spec]
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        fraction = 1.0
        if piece.startswith("="):
            piece = piece[1:].strip()
            match = WEIGHT_RE.match(piece)
            if match:
                fraction = _percent(match.group(1))
                piece = piece[match.end():].strip()
        value_text, feedback = _split_feedback(piece)
        value_text = value_text.strip()
        if ".." in value_text:
            low, high = (qtypes.parse_number(v) for v in value_text.split("..", 1))
            if low is None or high is None or high < low:
                raise ValueError(_("not a numeric range: %(text)s", text=repr(value_text)))
            value, tolerance = (low + high) / 2, (high - low) / 2
        else:
            number, _colon, tol = value_text.replace("\ue005", ":").partition(":")
            value = qtypes.parse_number(number)
            tolerance = qtypes.parse_number(tol) if tol.strip() else 0.0
            if value is None or tolerance is None:
                raise ValueError(_("not a number: %(text)s", text=repr(value_text)))
        answers.append({"value": value, "tolerance": abs(tolerance), "fraction": fraction,
                        "feedback": _clean(feedback)})
    if not answers:
        raise ValueError(_("a numerical question needs a value"))
    return {"answers": answers}


def _question(line: int, text: str, category: str) -> Parsed | tuple[str, str]:
    """A Parsed question, or ("skip" | "error", reason)."""
    text = _protect(text)
    title = ""
    match = re.match(r"^\s*::(.*?)::", text, re.S)
    if match:
        title, text = _clean(match.group(1)), text[match.end():]
    fmt = "moodle"
    match = re.match(r"^\s*\[(\w+)\]", text)
    if match and match.group(1).lower() in FORMATS:
        fmt, text = match.group(1).lower(), text[match.end():]
    try:
        parts = _answer_block(text)
    except ValueError as exc:
        return ("error", str(exc))
    if parts is None:
        return ("text", _("no answer block: a description item, which the portal does not have"))
    before, inside, after = parts
    if "{" in after or "}" in after:
        return ("error", _("a second answer block: a GIFT question has one (cloze questions with several "
                           "blanks are not supported)"))
    stem = _clean(before)
    if _clean(after):
        stem = f"{stem} {BLANK} {_clean(after)}".strip()  # a missing-word question
    if not stem:
        return ("error", _("the question has no text before or after its answer block"))
    inside, _sep, general = inside.partition("####")
    general = _clean(general)
    body = inside.strip()
    try:
        if not body:
            return ("skip", _("%(type)s questions are not supported", type="essay"))
        if body.startswith("#"):
            return Parsed(line, "numerical", stem, _numerical(body[1:]), title, fmt, category, general)
        tf = re.match(r"^(TRUE|FALSE|T|F)\b\s*(.*)$", body, re.S)
        if tf and not re.search(r"(^|\s)[=~]", body):
            data = {"answer": tf.group(1).startswith("T")}
            rest = tf.group(2).strip()
            if rest and not rest.startswith("#"):
                return ("error", _("unexpected text after %(answer)s: %(text)s", answer=tf.group(1),
                                   text=repr(_restore(rest)[:40])))
            if rest:  # {TRUE#shown to a wrong answer#shown to a right one}
                wrong, _sep, right = rest[1:].partition("#")
                for key, note in (("feedback_wrong", wrong), ("feedback_right", right)):
                    if _clean(note):
                        data[key] = _clean(_drop_format(note))
            return Parsed(line, "truefalse", stem, data, title, fmt, category, general)
        answers = _answers(body)
        if not answers:
            return ("error", _("the answer block is empty"))
        if all(m == "=" for m, *_rest in answers) and any("->" in t for _m, _w, t, _f in answers):
            pairs = []
            for _m, _w, t, _f in answers:
                left, arrow, right = t.partition("->")
                if not arrow or not right.strip():
                    return ("error", _("a matching pair needs 'left -> right': %(text)s", text=repr(t[:40])))
                pairs.append({"left": left.strip(), "right": right.strip()})
            return Parsed(line, "matching", stem, {"pairs": pairs}, title, fmt, category, general)
        if all(m == "=" for m, *_rest in answers):
            return Parsed(line, "short", stem, {"answers": [
                {"text": t, "fraction": 1.0 if w is None else w, "feedback": f}
                for _m, w, t, f in answers]}, title, fmt, category, general)
        rights = [a for a in answers if a[0] == "="]
        choices = [{"text": t, "fraction": 1.0 if m == "=" else (w or 0.0), "feedback": f}
                   for m, w, t, f in answers]
        if len(rights) == 1:
            return Parsed(line, "single", stem, {"choices": choices}, title, fmt, category, general)
        if not rights and sum(1 for c in choices if c["fraction"] > 0) >= 2:
            return Parsed(line, "multiple", stem, {"choices": choices}, title, fmt, category, general)
        if not rights and any(c["fraction"] >= 1 for c in choices):
            return Parsed(line, "single", stem, {"choices": choices}, title, fmt, category, general)
        return ("error", _("cannot tell the right answer (use = for it, or ~%n% weights)"))
    except ValueError as exc:
        return ("error", str(exc))


def parse(source: str) -> Result:
    result = Result()
    category = ""
    for line, text in _blocks(source):
        if text.startswith("$CATEGORY:"):
            category = text[len("$CATEGORY:"):].strip()
            continue
        result.take(line, _question(line, text, category))
    result.nothing_read(_("nothing in it reads as GIFT: no item is a question with an answer block in { }"),
                        _("it holds no questions (only blank lines, comments or categories)"))
    return result


# --- writing GIFT -----------------------------------------------------------------------------


def escape(text: str) -> str:
    return re.sub(r"([~=#{}:])", r"\\\1", str(text)).replace("\n", "\\n")


def _weight(fraction: float) -> str:
    percent = round(fraction * 100, 5)
    return f"%{percent:g}%"


def _feedback(text: str) -> str:
    return f" #{escape(text)}" if text else ""


def write_question(q: Parsed) -> str:
    head = f"::{escape(q.title)}::" if q.title else ""
    if q.format != "moodle":
        head += f"[{q.format}]"
    data = q.data
    if q.type == "truefalse":
        inside = "TRUE" if data["answer"] else "FALSE"
        if data.get("feedback_wrong") or data.get("feedback_right"):
            inside += f"#{escape(data.get('feedback_wrong', ''))}#{escape(data.get('feedback_right', ''))}"
    elif q.type == "short":
        inside = " ".join(f"={'' if a.get('fraction', 1) == 1 else _weight(a['fraction'])}"
                          f"{escape(a['text'])}{_feedback(a.get('feedback', ''))}" for a in data["answers"])
    elif q.type == "numerical":
        parts = []
        for a in data["answers"]:
            weight = "" if a.get("fraction", 1) == 1 else _weight(a["fraction"])
            parts.append(f"={weight}{a['value']:g}:{a.get('tolerance', 0):g}{_feedback(a.get('feedback', ''))}")
        inside = "#" + " ".join(parts)
    elif q.type == "matching":
        inside = " ".join(f"={escape(p['left'])} -> {escape(p['right'])}" for p in data["pairs"])
    elif q.type in ("single", "multiple"):
        parts = []
        for c in data["choices"]:
            fraction = c.get("fraction", 0)
            if q.type == "single" and fraction == 1:
                parts.append(f"={escape(c['text'])}{_feedback(c.get('feedback', ''))}")
            else:
                weight = _weight(fraction) if fraction else ""
                parts.append(f"~{weight}{escape(c['text'])}{_feedback(c.get('feedback', ''))}")
        inside = "\n  ".join(parts)
    else:
        raise ValueError(f"GIFT has no form for {q.type} questions")
    general = f" ####{escape(q.feedback)}" if q.feedback else ""
    stem = q.text
    if BLANK in stem and q.type != "matching":  # a missing-word question: the block takes the blank
        before, _sep, after = stem.partition(BLANK)
        return f"{head}{escape(before.rstrip())} {{{inside}{general}}} {escape(after.lstrip())}".rstrip()
    return f"{head}{escape(stem)} {{\n  {inside}{general}\n}}"


def write(questions: list[Parsed], category: str = "") -> str:
    out = [f"$CATEGORY: {category}", ""] if category else []
    for q in questions:
        out.extend([write_question(q), ""])
    return "\n".join(out)
