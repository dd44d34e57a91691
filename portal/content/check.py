"""``flask content check``: read the content FILES (not the database) and report what contradicts
content/facts.yaml or points at nothing, as ``FILE:LINE: message``.

What is read: fault cases (``kb/*.md``), courses (``courses/<slug>/course.yaml`` and
``lessons/<slug>.<lang>.md``), audit forms (``audits/*.yaml``), and beside the content root the
question banks and quizzes (``quizzes/``). The checks, each a ``kind`` of finding:

``facts``      the facts file itself does not load (every problem, with its line).
``reference``  a ``{{fact:KEY}}`` / ``{{table:KEY}}`` naming nothing in the facts file.
``quantity``   a number with a unit that contradicts a fact. Text is split into sentences (。！？；
               . ! ? ; line breaks, list items, table cells). A fact is *cued* in a sentence when
               one of its cue words (the text's language; English ignoring case) occurs in it and it
               applies to the text's product (cases: ``product``; lessons, course.yaml, questions of a
               course's bank: the course's ``product``; otherwise any product). For each cued fact
               only the quantity of its dimension NEAREST to a cue word, in the cue's clause (the
               sentence cut at ， 、 ", "), is judged; it is a finding when it matches neither that
               fact nor another fact cued in the same sentence (both ends of a range must match;
               one finding per quantity). ``{{fact:KEY}}`` is always right (never read as a
               number). Wrong choices of a question, and the text of a true/false question whose
               answer is false, say wrong things on purpose and are not judged.
``statement``  a sentence naming a ``statements`` topic (cue word) in one of its ``wrong`` phrasings
               (and none of its ``unless`` words).
``code``       a case's ``code_table`` unknown, its (table, code) not in the facts file, its title
               naming the code without the words of its meaning, or no ``code_table`` for a code
               whose meaning differs between the tables of its product; a lesson, course, audit or
               question sentence naming a code and a maker (the name nearest the code) in the words
               of an unnamed maker's meaning and none of that maker's.
``link``       case ``related``, lesson ``cases``, ``(case:KEY)`` / ``(lesson:[COURSE/]SLUG)`` /
               ``(quiz:SLUG)`` links, question tags ``lesson:`` / ``case:``, quiz section
               ``categories`` and ``tags``, course ``quiz`` and lesson lists, audit ``trains``.
``pair``       a zh/en pair (cases ``<key>-zh.md``/``-en.md``, lessons ``<slug>.zh.md``/``.en.md``,
               a question's zh/en fields) whose codes, models, table, Arabic numbers or ``## ``
               sections differ; reported in the English file, at the field or section.
``key``        a question's key (correct choice, true statement, accepted answer, numerical
               answer with the unit its text asks for) stating a quantity that contradicts a fact.
``trace``      a norm tag naming no norm, or a norm without a lesson, a question or an audit item.

Infrastructure: reads files only, imports nothing above ``portal.content``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from flask_babel import gettext as _
from flask_babel import ngettext

from ..products import PRODUCTS
from .facts import UNITS, Facts, FactsError, convert, dimension, load_facts, references
from .files import FileProblem, parse_front_matter, parse_yaml_file, read_text, yaml_line_finder

KINDS = ("facts", "reference", "quantity", "statement", "code", "link", "pair", "key", "trace")


def kind_label(kind: str) -> str:
    return {
        "facts": _("facts file"), "reference": _("fact references"), "quantity": _("quantities"),
        "statement": _("statements"), "code": _("error codes"), "link": _("links"),
        "pair": _("zh/en pairs"), "key": _("question keys"), "trace": _("norm trace"),
        "file": _("unreadable files"),
    }.get(kind, kind)


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    kind: str
    message: str

    def display(self, cwd: Path | None = None) -> str:
        return f"{display_path(self.path, cwd)}:{self.line}: {self.message}"


def display_path(path: str, cwd: Path | None = None) -> str:
    cwd = cwd or Path.cwd()
    try:
        return str(Path(path).resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(path)


# --- quantities in text -----------------------------------------------------------------------

# (written form, unit symbol, English word: any case, ends at a word boundary), longest first.
_ALIASES = [
    ("微米汞柱", "micron"), ("microns", "micron"), ("micron", "micron"), ("微米", "micron"),
    ("MPa", "MPa"), ("兆帕", "MPa"), ("kPa", "kPa"), ("千帕", "kPa"), ("Pa", "Pa"), ("bar", "bar"),
    ("psi", "psi"), ("°C", "°C"), ("℃", "°C"), ("摄氏度", "°C"), ("K", "K"),
    ("kΩ", "kΩ"), ("千欧", "kΩ"), ("MΩ", "MΩ"), ("兆欧", "MΩ"), ("Ω", "Ω"), ("ohms", "Ω"), ("ohm", "Ω"),
    ("欧姆", "Ω"), ("欧", "Ω"), ("V", "V"), ("A", "A"),
    ("seconds", "s"), ("second", "s"), ("secs", "s"), ("sec", "s"), ("秒钟", "s"), ("秒", "s"),
    ("minutes", "min"), ("minute", "min"), ("mins", "min"), ("min", "min"), ("分钟", "min"),
    ("hours", "h"), ("hour", "h"), ("hrs", "h"), ("个小时", "h"), ("小时", "h"), ("h", "h"),
    ("days", "d"), ("day", "d"), ("天", "d"), ("d", "d"), ("s", "s"),
    ("%", "%"), ("％", "%"), ("PPM", "PPM"), ("ppm", "PPM"),
    ("kg", "kg"), ("千克", "kg"), ("公斤", "kg"), ("g", "g"), ("克", "g"),
    ("mm", "mm"), ("毫米", "mm"), ("m", "m"), ("米", "m"),
]
_WORD_UNITS = {a for a, _u in _ALIASES if a.isascii() and a.isalpha() and len(a) > 3}
_UNIT_OF = {a.lower() if a in _WORD_UNITS else a: u for a, u in _ALIASES}


def _alias_pattern(alias: str) -> str:
    body = re.escape(alias)
    if alias in _WORD_UNITS:
        body = f"(?i:{body})"
    if alias[-1].isascii() and alias[-1].isalnum():
        body += r"(?![A-Za-z0-9²³])"
    return body


UNIT_RE = "(?:" + "|".join(_alias_pattern(a) for a, _u in _ALIASES) + ")"
NUMBER_RE = r"[-−]?\d+(?:,\d{3})*(?:\.\d+)?"
DASH_RE = r"(?:–|—|-|~|～|至|到)"
_SINGLE_RE = re.compile(rf"(?<![A-Za-z0-9_.\-−/:])(?P<a>{NUMBER_RE})\s?(?P<u>{UNIT_RE})")
_RANGE_RE = re.compile(
    rf"(?<![A-Za-z0-9_.\-−/:])(?P<a>{NUMBER_RE})\s?(?P<ua>{UNIT_RE})?\s*{DASH_RE}\s*"
    rf"(?P<b>{NUMBER_RE})\s?(?P<u>{UNIT_RE})|"
    rf"(?<![A-Za-z0-9_.\-−/:])(?P<a2>{NUMBER_RE})\s+to\s+(?P<b2>{NUMBER_RE})\s?(?P<u2>{UNIT_RE})")


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", ""))


def unit_symbol(alias: str) -> str:
    return _UNIT_OF.get(alias) or _UNIT_OF.get(alias.lower()) or alias


@dataclass(frozen=True)
class Quantity:
    low: float
    high: float
    unit: str
    start: int
    end: int
    text: str

    @property
    def dimension(self) -> str:
        return dimension(self.unit)


def quantities(sentence: str) -> list[Quantity]:
    """Numbers with a unit in ``sentence``: ``60 Pa``, ``110–120 °C``, ``10-15 min``, ``≤ 24 h``."""
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []
    for match in _RANGE_RE.finditer(sentence):
        if match.group("a") is not None:
            a, b, unit, first = match.group("a"), match.group("b"), unit_symbol(match.group("u")), match.group("ua")
            if first and dimension(unit_symbol(first)) != dimension(unit):
                continue
            low = convert(_number(a), unit_symbol(first), unit) if first else _number(a)
        else:
            a, b, unit = match.group("a2"), match.group("b2"), unit_symbol(match.group("u2"))
            low = _number(a)
        high = _number(b)
        if b.startswith(("-", "−")) and not a.startswith(("-", "−")) and low >= 0:
            high = abs(high)  # "10-15 min": the dash is the range's, not a sign
        if low > high:
            continue
        found.append(Quantity(low, high, unit, match.start(), match.end(), match.group(0)))
        taken.append((match.start(), match.end()))
    for match in _SINGLE_RE.finditer(sentence):
        if any(s <= match.start() < e for s, e in taken):
            continue
        if match.group("u") in ("s", "d") and not match.group(0)[len(match.group("a")):].startswith(" "):
            continue  # "1990s", "2d": not a time
        value = _number(match.group("a"))
        found.append(Quantity(value, value, unit_symbol(match.group("u")), match.start(), match.end(),
                              match.group(0)))
    return sorted(found, key=lambda q: q.start)


SENTENCE_SPLIT_RE = re.compile(r"[。！？；|]|(?<=[.!?;])\s+|\n")
LIST_MARK_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)、]|#+|>\s*(?:\[![A-Z]+\])?)\s*")


def sentences(text: str) -> list[str]:
    """``text`` cut at sentence ends (Chinese and English), line breaks, list items and table
    cells; list markers and heading marks removed."""
    out = []
    for piece in SENTENCE_SPLIT_RE.split(text or ""):
        piece = LIST_MARK_RE.sub("", piece).strip()
        if piece:
            out.append(piece)
    return out


def _fold(text: str, lang: str) -> str:
    """English: any case, a hyphen as a space ("room-sensor" is "room sensor"); same length."""
    return text.lower().replace("-", " ") if lang == "en" else text


def cue_positions(sentence: str, words, lang: str) -> list[int]:
    folded = _fold(sentence, lang)
    spots = []
    for word in words:
        w = _fold(word, lang)
        start = folded.find(w)
        while start >= 0:
            spots.append(start + len(w) // 2)
            start = folded.find(w, start + 1)
    return spots


REFERENCE_STRIP_RE = re.compile(r"\{\{[^}]*\}\}")


CLAUSE_RE = re.compile(r"，|、|,(?=\s)")


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of each clause: the sentence cut at commas (， 、 and ", ")."""
    spans, start = [], 0
    for match in CLAUSE_RE.finditer(sentence):
        spans.append((start, match.start()))
        start = match.end()
    return spans + [(start, len(sentence))]


def comparable(unit: str, fact_unit: str) -> bool:
    """Same dimension; and K (a temperature difference) only against K."""
    return dimension(unit) == dimension(fact_unit) and (unit == "K") == (fact_unit == "K")


def quantity_findings(sentence: str, lang: str, products, facts: Facts,
                      clauses: bool = True, judge_from: int = 0) -> list[tuple[Quantity, list]]:
    """(quantity, [facts]) for each quantity that is the nearest of its dimension to the cue of a
    fact cued in ``sentence`` (in the cue's clause, unless ``clauses`` is False) and states neither
    that fact nor any other fact cued there (the rule in the module docstring). Only quantities
    from offset ``judge_from`` on are judged (a question's key after its text)."""
    head = REFERENCE_STRIP_RE.sub(" ", sentence[:judge_from])
    sentence = head + REFERENCE_STRIP_RE.sub(" ", sentence[judge_from:])
    found = [q for q in quantities(sentence) if q.start >= len(head)]
    if not found:
        return []
    cued = []
    for fact in facts.facts.values():
        if products is not None and not set(fact.applies_to) & set(products):
            continue
        spots = cue_positions(sentence, fact.cue.get(lang, ()), lang)
        if spots:
            cued.append((fact, spots))
    spans = clause_spans(sentence) if clauses else [(0, len(sentence))]

    def clause(offset: int) -> int:
        return next(i for i, (start, end) in enumerate(spans) if offset <= end)

    judged: dict[Quantity, list] = {}
    for fact, spots in cued:
        pairs = [(min(abs(q.start - s), abs(q.end - s)), q.start, q) for q in found for s in spots
                 if comparable(q.unit, fact.unit) and clause(q.start) == clause(s)]
        if not pairs:
            continue
        nearest = min(pairs, key=lambda p: (p[0], p[1]))[2]
        if any(_states(other, nearest) for other, _spots in cued if comparable(nearest.unit, other.unit)):
            continue
        judged.setdefault(nearest, []).append(fact)
    return sorted(judged.items(), key=lambda item: item[0].start)


def _states(fact, quantity: Quantity) -> bool:
    return fact.matches(quantity.low, quantity.unit) and fact.matches(quantity.high, quantity.unit)


# --- error codes and makers -------------------------------------------------------------------

MAKERS = {
    "gree": ["gree", "格力"], "midea": ["midea", "美的"], "haier": ["haier", "海尔"],
    "little-swan": ["little swan", "小天鹅"], "rongsheng": ["rongsheng", "容声"], "hisense": ["hisense", "海信"],
    "aux": ["aux", "奥克斯"], "chigo": ["chigo", "志高"], "tcl": ["tcl"], "changhong": ["changhong", "长虹"],
    "meiling": ["meiling", "美菱"], "siemens": ["siemens", "西门子"], "panasonic": ["panasonic", "松下"],
    "daikin": ["daikin", "大金"], "wanhe": ["wanhe", "万和"], "vanward": ["vanward"], "ao-smith": ["a. o. smith", "史密斯"],
}
CODE_WORD_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,3}\d{1,2}|ERR\d{1,2})(?![A-Za-z0-9])")


def maker_mentions(sentence: str, known: set[str]) -> list[tuple[int, str]]:
    """(offset, maker) of each maker name in ``sentence`` (Gree/格力, Midea/美的 …)."""
    folded = sentence.lower()
    found = []
    for maker in known:
        for name in MAKERS.get(maker, [maker.replace("-", " ")]):
            pattern = rf"(?<![a-z]){re.escape(name)}(?![a-z])" if name.isascii() else re.escape(name)
            found.extend((m.start(), maker) for m in re.finditer(pattern, folded))
    return sorted(found)


def _has_words(sentence: str, words, lang: str) -> bool:
    folded = _fold(sentence, lang)
    return any(_fold(w, lang) in folded for w in words)


def codes_for(facts: Facts, code: str, products) -> list:
    """The meanings of ``code`` in the tables of these products (any product: None)."""
    return [c for c in facts.codes_named(code)
            if products is None or set(facts.tables[c.table].products) & set(products)]


def code_sentence_findings(sentence: str, lang: str, facts: Facts, products=None) -> list[str]:
    """Messages for codes said with a maker's name (the one nearest the code) in the words of a
    meaning from another maker's table and none of that maker's own."""
    out = []
    mentions = maker_mentions(sentence, {t.maker for t in facts.tables.values()})
    if not mentions:
        return out
    named = {maker for _offset, maker in mentions}
    seen = set()
    for match in CODE_WORD_RE.finditer(sentence):
        code = match.group(1)
        maker = min(mentions, key=lambda m: abs(m[0] - match.start()))[1]
        if (code, maker) in seen:
            continue
        seen.add((code, maker))
        meanings = codes_for(facts, code, products)
        if len({c.meaning["en"].lower() for c in meanings}) < 2:
            continue
        own = [c for c in meanings if facts.tables[c.table].maker == maker]
        if not own or any(_has_words(sentence, c.words[lang], lang) for c in own):
            continue
        # a meaning of a maker the sentence does not name (comparisons name each maker's own)
        other = next((c for c in meanings if facts.tables[c.table].maker not in named
                      and _has_words(sentence, c.words[lang], lang)), None)
        if other is not None:
            out.append(_("%(code)s with %(maker)s is said as “%(said)s” (%(table)s); in %(maker)s's "
                         "table it means “%(meaning)s”",
                         code=code, maker=maker, said=other.meaning[lang], table=other.table,
                         meaning=" / ".join(c.meaning[lang] for c in own)))
    return out


# --- reading the files ------------------------------------------------------------------------

@dataclass
class Piece:
    """A text to check: where it is, its language and product(s)."""
    path: str
    line: int
    lang: str
    text: str
    products: tuple | None  # None: any product
    judge: bool = True  # False: says wrong things on purpose (wrong choices)


@dataclass
class MdFile:
    path: Path
    data: dict
    field_lines: dict
    body_lines: list[tuple[int, str]]  # (file line, text)

    def line_of(self, name: str) -> int:
        return self.field_lines.get(name, 1)

    @property
    def first_body_line(self) -> int:
        return next((n for n, t in self.body_lines if t.strip()), self.body_lines[0][0] if self.body_lines else 1)

    def sections(self) -> list[tuple[int, str, list[tuple[int, str]]]]:
        """(heading line, heading, lines) per ``## `` section; the part before the first is ''."""
        out = [(self.first_body_line, "", [])]
        for number, text in self.body_lines:
            if text.startswith("## "):
                out.append((number, text[3:].strip(), []))
            else:
                out[-1][2].append((number, text))
        if not out[0][2] or not any(t.strip() for _n, t in out[0][2]):
            out = out[1:] if len(out) > 1 else out
        return out


def read_md(path: Path) -> MdFile:
    parsed = parse_front_matter(path)
    text, _raw = read_text(path)
    lines = text.splitlines()
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    body = [(i + 1, lines[i]) for i in range(end + 1, len(lines))]
    return MdFile(path, parsed.data, parsed.field_lines, body)


@dataclass
class Corpus:
    root: Path
    quizzes_dir: Path | None
    cases: dict = field(default_factory=dict)  # key → {lang: MdFile}
    case_files: list = field(default_factory=list)
    courses: dict = field(default_factory=dict)  # slug → {"path", "data", "line", "lessons": {slug: {lang: MdFile}}}
    banks: list = field(default_factory=list)  # {"path", "category", "questions", "line", "products"}
    quizzes: dict = field(default_factory=dict)  # slug → {"path", "data", "line"}
    audits: list = field(default_factory=list)  # {"path", "data", "line", "slug"}
    findings: list = field(default_factory=list)  # files that could not be read

    def unreadable(self, path: Path, exc: Exception, line: int = 1) -> None:
        message = exc.message if isinstance(exc, FileProblem) else str(exc)
        self.findings.append(Finding(str(path), getattr(exc, "line", line), "file",
                                     _("cannot be read: %(problem)s", problem=message)))

    @property
    def categories(self) -> set[str]:
        return {bank["category"] for bank in self.banks}

    def lesson_exists(self, course: str, slug: str) -> bool:
        return slug in self.courses.get(course, {}).get("lessons", {}) and \
            slug in self.courses[course]["listed"]

    def module_exists(self, course: str, name: str) -> bool:
        data = self.courses.get(course, {}).get("data") or {}
        units = data.get("days") or data.get("modules") or []
        if name.isdigit():
            return 1 <= int(name) <= len(units)
        return any(isinstance(u, dict) and u.get("slug") == name for u in units)


def _case_key(path: Path, data: dict) -> tuple[str, str]:
    match = re.match(r"^(.*)-(zh|en)$", path.stem)
    key = data.get("key") if isinstance(data.get("key"), str) else (match.group(1) if match else path.stem)
    lang = data.get("lang") if data.get("lang") in ("zh", "en") else (match.group(2) if match else "zh")
    return key, lang


def _course_products(data: dict) -> tuple | None:
    product = data.get("product")
    if isinstance(product, str) and product in PRODUCTS:
        return (product,)
    if isinstance(product, list) and product and all(p in PRODUCTS for p in product):
        return tuple(product)
    return None


def scan(root: Path, quizzes_dir: Path | None = None) -> Corpus:
    root = Path(root)
    corpus = Corpus(root=root, quizzes_dir=quizzes_dir)
    for path in sorted((root / "kb").glob("*.md")) if (root / "kb").is_dir() else []:
        if path.name.lower() == "readme.md":
            continue
        try:
            md = read_md(path)
        except (FileProblem, OSError, StopIteration) as exc:
            corpus.unreadable(path, exc)
            continue
        key, lang = _case_key(path, md.data)
        corpus.cases.setdefault(key, {})[lang] = md
        corpus.case_files.append((key, lang, md))
    for course_file in sorted((root / "courses").glob("*/course.yaml")) if (root / "courses").is_dir() else []:
        try:
            data, _lines, _digest = parse_yaml_file(course_file)
        except (FileProblem, OSError) as exc:
            corpus.unreadable(course_file, exc)
            continue
        units = data.get("days") or data.get("modules") or []
        listed = [slug for unit in units if isinstance(unit, dict) for slug in (unit.get("lessons") or [])
                  if isinstance(slug, str)]
        course = {"path": course_file, "data": data, "line": yaml_line_finder(course_file), "lessons": {},
                  "listed": listed, "products": _course_products(data)}
        corpus.courses[course_file.parent.name] = course
        for path in sorted((course_file.parent / "lessons").glob("*.md")):
            match = re.match(r"^(.+)\.(zh|en)$", path.stem)
            if not match:
                continue
            try:
                md = read_md(path)
            except (FileProblem, OSError, StopIteration) as exc:
                corpus.unreadable(path, exc)
                continue
            course["lessons"].setdefault(match.group(1), {})[match.group(2)] = md
    for path in sorted((root / "audits").glob("*.yaml")) if (root / "audits").is_dir() else []:
        try:
            data, _lines, _digest = parse_yaml_file(path)
        except (FileProblem, OSError) as exc:
            corpus.unreadable(path, exc)
            continue
        corpus.audits.append({"path": path, "data": data, "line": yaml_line_finder(path),
                              "slug": data.get("slug") or path.stem})
    if quizzes_dir is not None and quizzes_dir.is_dir():
        for path in sorted(quizzes_dir.rglob("*.yaml")):
            try:
                data, _lines, _digest = parse_yaml_file(path)
            except (FileProblem, OSError) as exc:
                corpus.unreadable(path, exc)
                continue
            if path.name.endswith(".quiz.yaml"):
                corpus.quizzes[path.name[: -len(".quiz.yaml")]] = {"path": path, "data": data,
                                                                   "line": yaml_line_finder(path)}
                continue
            category = data.get("category") or "/".join(path.relative_to(quizzes_dir).parent.parts)
            questions = data.get("questions") if isinstance(data.get("questions"), list) else []
            course_slug = category.split("/")[1] if category.startswith("courses/") and "/" in category else None
            products = corpus.courses.get(course_slug, {}).get("products") if course_slug else None
            corpus.banks.append({"path": path, "category": str(category), "line": yaml_line_finder(path),
                                 "questions": questions,
                                 "products": products})
    return corpus


def _lang_strings(value, line_of, keys=()):
    """(keys, lang, text, line) of every {zh, en} text below ``value`` in a YAML file."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("zh", "en") and isinstance(item, str):
                yield keys, key, item, line_of(*keys, key)
            else:
                yield from _lang_strings(item, line_of, keys + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lang_strings(item, line_of, keys + (index,))


def _split_lines(text: str, line: int) -> list[tuple[int, str]]:
    parts = text.splitlines() or [""]
    # a block scalar (| or >) starts on the line after its key; a one-line value on the key's
    return [(line + (index + 1 if len(parts) > 1 else 0), part) for index, part in enumerate(parts)]


def question_pieces(bank: dict) -> list[tuple[int, dict, list[Piece], list[tuple[Piece, str]]]]:
    """Per question: (index, question, texts to check, key statements (piece, field) to check)."""
    path, line_of, products = str(bank["path"]), bank["line"], bank["products"]
    out = []
    for index, q in enumerate(bank["questions"] or []):
        if not isinstance(q, dict):
            continue
        kind = q.get("type")
        texts, keys = [], []
        text = q.get("text") if isinstance(q.get("text"), dict) else {}
        for lang in ("zh", "en"):
            body = text.get(lang) if isinstance(text.get(lang), str) else ""
            # a true/false statement is judged as the key (when true) or not at all (when false)
            texts.append(Piece(path, line_of("questions", index, "text", lang), lang, body, products,
                               kind != "truefalse"))
            if kind == "truefalse" and q.get("answer") is True:
                keys.append((Piece(path, line_of("questions", index, "text", lang), lang, body, products), "text"))
            explanation = q.get("explanation") if isinstance(q.get("explanation"), dict) else {}
            if isinstance(explanation.get(lang), str):
                texts.append(Piece(path, line_of("questions", index, "explanation", lang), lang,
                                   explanation[lang], products))
            for c_index, choice in enumerate(q.get("choices") or []):
                if not isinstance(choice, dict) or not isinstance(choice.get(lang), str):
                    continue
                where = line_of("questions", index, "choices", c_index)
                # wrong choices are wrong on purpose; a right one is judged with its question as the key
                texts.append(Piece(path, where, lang, choice[lang], products, False))
                if choice.get("correct"):
                    keys.append((Piece(path, where, lang, _joined(body, choice[lang]), products), "choice"))
            for a_index, answer in enumerate(q.get("answers") or []):
                where = line_of("questions", index, "answers", a_index)
                if isinstance(answer, dict) and isinstance(answer.get(lang), str):
                    keys.append((Piece(path, where, lang, _joined(body, answer[lang]), products), "answer"))
                elif kind == "numerical" and isinstance(answer, dict) and isinstance(answer.get("value"), (int, float)):
                    unit = asked_unit(body)
                    if unit:
                        keys.append((Piece(path, where, lang, _joined(body, f"{answer['value']} {unit}"), products),
                                     "answer"))
            for p_index, pair in enumerate(q.get("pairs") or []):
                if isinstance(pair, dict) and all(isinstance(pair.get(s), dict) for s in ("left", "right")):
                    left, right = pair["left"].get(lang), pair["right"].get(lang)
                    if isinstance(left, str) and isinstance(right, str):
                        keys.append((Piece(path, line_of("questions", index, "pairs", p_index), lang,
                                           _joined(left, right), products), "pair"))
            for i_index, item in enumerate(q.get("items") or []):
                if isinstance(item, dict) and isinstance(item.get(lang), str):
                    texts.append(Piece(path, line_of("questions", index, "items", i_index), lang, item[lang], products))
        out.append((index, q, texts, keys))
    return out


SENTENCE_END_RE = re.compile(r"[。！？；!?;\n|]+|\.(?!\d)")


def _joined(first: str, second: str) -> str:
    """A question and its key as one sentence (sentence ends removed, decimal points kept); the key
    starts after the last " — "."""
    return f"{SENTENCE_END_RE.sub(' ', first)} — {SENTENCE_END_RE.sub(' ', second)}"


def key_offset(joined: str) -> int:
    return joined.rfind(" — ") + 3 if " — " in joined else 0


ASKED_UNIT_RE = re.compile(rf"(?<![0-9.])\s*[(（]?\s*(?:in\s+)?(?P<u>{UNIT_RE})\s*[)）]?")


def asked_unit(text: str) -> str | None:
    """The unit a numerical question asks its answer in ("how many hours", "(min)", "多少小时"), when
    the text names exactly one unit without a number before it."""
    spoken = {unit_symbol(m.group("u")) for m in re.finditer(
        rf"(?:how many|in|多少|几|（|\()\s*(?P<u>{UNIT_RE})", text, flags=re.IGNORECASE)}
    spoken = {u for u in spoken if u in UNITS and u not in ("A", "K", "V", "d", "h", "s", "m", "g")
              or re.search(r"(?:how many|多少|几)", text, flags=re.IGNORECASE)}
    return next(iter(spoken)) if len(spoken) == 1 else None


def pieces(corpus: Corpus) -> list[Piece]:
    """Every text of cases, lessons, course.yaml, audits and question fields (judged or not)."""
    out: list[Piece] = []
    for _key, lang, md in corpus.case_files:
        product = md.data.get("product")
        products = (product,) if product in PRODUCTS else None
        out.append(Piece(str(md.path), md.line_of("title"), lang, str(md.data.get("title") or ""), products))
        out.extend(Piece(str(md.path), n, lang, t, products) for n, t in md.body_lines)
    for course in corpus.courses.values():
        for keys, lang, text, line in _lang_strings(course["data"], course["line"]):
            out.extend(Piece(str(course["path"]), n, lang, t, course["products"]) for n, t in _split_lines(text, line))
        for langs in course["lessons"].values():
            for lang, md in langs.items():
                out.append(Piece(str(md.path), md.line_of("title"), lang, str(md.data.get("title") or ""),
                                 course["products"]))
                out.extend(Piece(str(md.path), n, lang, t, course["products"]) for n, t in md.body_lines)
    for audit in corpus.audits:
        for keys, lang, text, line in _lang_strings(audit["data"], audit["line"]):
            out.extend(Piece(str(audit["path"]), n, lang, t, None) for n, t in _split_lines(text, line))
    for bank in corpus.banks:
        for _index, _q, texts, _keys in question_pieces(bank):
            out.extend(texts)
    return out


# --- the checks -------------------------------------------------------------------------------

def _quantity_message(q: Quantity, facts_cued: list, lang: str) -> str:
    fact = facts_cued[0]
    message = _("“%(said)s” contradicts fact %(key)s (%(title)s: %(value)s); use {{fact:%(key)s}} or its value",
                said=q.text.strip(), key=fact.key, title=fact.title[lang], value=_fact_value(fact, lang))
    for other in facts_cued[1:]:
        message += _(" (or fact %(key)s: %(value)s)", key=other.key, value=_fact_value(other, lang))
    return message


def _fact_value(fact, lang: str) -> str:
    low, high = fact.value
    number = f"{low:g}" if low == high else f"{low:g}–{high:g}"
    return f"{number} {fact.unit}"


def check_texts(corpus: Corpus, facts: Facts | None, add, broken: bool = False) -> None:
    """References, quantities, statements and code sentences; with a broken facts file (already
    reported) only what needs no facts."""
    for piece in pieces(corpus):
        for kind, key, _offset in [] if broken else references(piece.text):
            if facts is None or key not in (facts.facts if kind == "fact" else facts.tables):
                add(piece.path, piece.line, "reference",
                    _("{{%(kind)s:%(key)s}} names nothing in facts.yaml", kind=kind, key=key))
        if facts is None or not piece.judge:
            continue
        for sentence in sentences(piece.text):
            for quantity, cued in quantity_findings(sentence, piece.lang, piece.products, facts):
                add(piece.path, piece.line, "quantity", _quantity_message(quantity, cued, piece.lang))
            check_statements(piece, sentence, facts, add, "statement")
            if not piece.path.endswith(tuple(f"-{lang}.md" for lang in ("zh", "en"))) or "/kb/" not in piece.path:
                for message in code_sentence_findings(sentence, piece.lang, facts, piece.products):
                    add(piece.path, piece.line, "code", message)


def check_statements(piece: Piece, sentence: str, facts: Facts, add, kind: str, judge_from: int = 0) -> None:
    """A statement's cue word and one of its wrong phrases in ``sentence`` (the phrase at or after
    ``judge_from``: a question's key, not its text)."""
    for statement in facts.statements.values():
        if piece.products is not None and not set(statement.applies_to) & set(piece.products):
            continue
        phrase = statement.contradicted_by(sentence, piece.lang)
        if phrase and _fold(phrase, piece.lang) in _fold(sentence[judge_from:], piece.lang):
            add(piece.path, piece.line, kind,
                _("“%(phrase)s” contradicts statement %(key)s (%(title)s): %(source)s", phrase=phrase,
                  key=statement.key, title=statement.title[piece.lang], source=statement.source[piece.lang]))


def check_keys(corpus: Corpus, facts: Facts, add) -> None:
    for bank in corpus.banks:
        for _index, _q, _texts, keys in question_pieces(bank):
            for piece, field_name in keys:
                offset = 0 if field_name == "text" else key_offset(piece.text)
                check_statements(piece, piece.text, facts, add, "key", offset)
                for quantity, cued in quantity_findings(piece.text, piece.lang, piece.products, facts,
                                                        clauses=False, judge_from=offset):
                    fact = cued[0]
                    add(piece.path, piece.line, "key",
                        _("the key states “%(said)s”, contradicting fact %(key)s (%(title)s: %(value)s)",
                          said=quantity.text.strip(), key=fact.key, title=fact.title[piece.lang],
                          value=_fact_value(fact, piece.lang)))


def _codes(value) -> list[str]:
    return [str(c).upper() for c in value] if isinstance(value, list) else []


def check_case_codes(corpus: Corpus, facts: Facts, add) -> None:
    for _key, lang, md in corpus.case_files:
        codes = _codes(md.data.get("error_codes"))
        table = md.data.get("code_table")
        path = str(md.path)
        products = (md.data["product"],) if md.data.get("product") in PRODUCTS else None
        if table is not None and table not in facts.tables:
            add(path, md.line_of("code_table"), "code", _("code_table %(table)s is not in facts.yaml", table=table))
            continue
        if table is None:
            for code in codes:
                known = codes_for(facts, code, products)
                if len({c.meaning["en"].lower() for c in known}) > 1:
                    add(path, md.line_of("error_codes"), "code",
                        _("%(code)s means different things in different tables (%(tables)s): say which with "
                          "code_table", code=code, tables=", ".join(c.table for c in known)))
            continue
        for code in codes:
            known = facts.codes.get((table, code))
            if known is None:
                add(path, md.line_of("error_codes"), "code",
                    _("%(code)s is not in code table %(table)s in facts.yaml", code=code, table=table))
            elif re.search(rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])", str(md.data.get("title") or ""),
                           flags=re.IGNORECASE) and not _has_words(str(md.data.get("title") or ""),
                                                                   known.words[lang], lang):
                add(path, md.line_of("title"), "code",
                    _("the title does not say what %(code)s means in %(table)s (“%(meaning)s”: one of %(words)s)",
                      code=code, table=table, meaning=known.meaning[lang], words=", ".join(known.words[lang])))


LINK_RE = re.compile(r"\]\((case|lesson|quiz):([^)\s]+)\)")


def check_links(corpus: Corpus, add) -> None:
    cases = set(corpus.cases)
    for _key, lang, md in corpus.case_files:
        for target in md.data.get("related") or []:
            if target not in cases:
                add(str(md.path), md.line_of("related"), "link", _("related case %(key)s does not exist", key=target))
        _body_links(corpus, md, None, add)
    for slug, course in corpus.courses.items():
        quiz = course["data"].get("quiz")
        if quiz and quiz not in corpus.quizzes and corpus.quizzes_dir is not None:
            add(str(course["path"]), course["line"]("quiz"), "link", _("quiz %(slug)s does not exist", slug=quiz))
        for lesson in course["listed"]:
            if lesson not in course["lessons"]:
                add(str(course["path"]), 1 + _line_containing(course["path"], lesson), "link",
                    _("lesson %(slug)s has no file in lessons/", slug=lesson))
        for lesson_slug, langs in course["lessons"].items():
            for lang, md in langs.items():
                for target in md.data.get("cases") or []:
                    if target not in cases:
                        add(str(md.path), md.line_of("cases"), "link", _("case %(key)s does not exist", key=target))
                _body_links(corpus, md, slug, add)
    for bank in corpus.banks:
        for index, q in enumerate(bank["questions"] or []):
            if not isinstance(q, dict):
                continue
            for tag in q.get("tags") or []:
                problem = _tag_problem(corpus, str(tag))
                if problem:
                    add(str(bank["path"]), bank["line"]("questions", index, "tags"), "link", problem)
    for slug, quiz in corpus.quizzes.items():
        for s_index, section in enumerate(quiz["data"].get("sections") or []):
            if not isinstance(section, dict):
                continue
            categories = [str(c) for c in section.get("categories") or []]
            for category in categories:
                if category not in corpus.categories:
                    add(str(quiz["path"]), quiz["line"]("sections", s_index, "categories"), "link",
                        _("no question bank has category %(category)s", category=category))
            carried = {str(t) for bank in corpus.banks if bank["category"] in categories
                       for q in bank["questions"] or [] if isinstance(q, dict) for t in q.get("tags") or []}
            for tag in section.get("tags") or []:
                problem = _tag_problem(corpus, str(tag))
                if problem is None and str(tag) not in carried:
                    problem = _("no question of %(categories)s has tag %(tag)s", categories=", ".join(categories),
                                tag=tag)
                if problem:
                    add(str(quiz["path"]), quiz["line"]("sections", s_index, "tags"), "link", problem)
    for audit in corpus.audits:
        for s_index, section in enumerate(audit["data"].get("sections") or []):
            trains = section.get("trains") if isinstance(section, dict) else None
            if trains is None:
                continue
            kind, _sep, rest = str(trains).partition(":")
            course, _sep, name = rest.partition("/")
            ok = (kind == "lesson" and corpus.lesson_exists(course, name)) or \
                (kind == "module" and corpus.module_exists(course, name))
            if not ok:
                add(str(audit["path"]), audit["line"]("sections", s_index, "trains"), "link",
                    _("trains: %(target)s names no lesson or module", target=trains))


def _line_containing(path: Path, word: str) -> int:
    text, _raw = read_text(path)
    return next((i for i, line in enumerate(text.splitlines()) if re.search(rf"\b{re.escape(word)}\b", line)), 0)


def _tag_problem(corpus: Corpus, tag: str) -> str | None:
    kind, _sep, target = tag.partition(":")
    if kind == "case" and target not in corpus.cases:
        return _("tag %(tag)s: no such case", tag=tag)
    if kind == "lesson":
        course, _sep, slug = target.partition("/")
        if not corpus.lesson_exists(course, slug):
            return _("tag %(tag)s: no such lesson", tag=tag)
    return None


def _body_links(corpus: Corpus, md: MdFile, course: str | None, add) -> None:
    for number, text in md.body_lines:
        for kind, target in LINK_RE.findall(text):
            if kind == "case":
                ok = target in corpus.cases
            elif kind == "quiz":
                ok = corpus.quizzes_dir is None or target in corpus.quizzes
            else:
                other, _sep, slug = target.partition("/")
                ok = corpus.lesson_exists(other, slug) if slug else (course is not None
                                                                     and corpus.lesson_exists(course, target))
            if not ok:
                add(str(md.path), number, "link", _("link %(kind)s:%(target)s points at nothing", kind=kind,
                                                    target=target))


PAIR_FIELDS = ("error_codes", "models", "code_table", "product", "cases", "norms")
LIST_NUMBER_RE = re.compile(r"^\s*\d+[.)、]\s")
DIGITS_RE = re.compile(r"\d+(?:\.\d+)?")


# names with digits in them, not numbers: R32, R410A, E4, T1, A2L, KFR-35GW/BP3DN1-R32
IDENTIFIER_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+\d[A-Za-z0-9]*(?:[-/][A-Z0-9]+(?![a-z]))*")


def numbers(text: str) -> Counter:
    """The Arabic numbers of ``text`` (list numbering, references, link targets and names such as
    R32 or KFR-35GW left out; ``1,000`` is 1000, ``100 万`` is 1000000)."""
    found: Counter = Counter()
    for line in (text or "").splitlines() or [""]:
        line = LIST_NUMBER_RE.sub("", line)
        line = REFERENCE_STRIP_RE.sub(" ", line)
        line = re.sub(r"\]\([^)]*\)", "]", line)
        line = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", line)
        line = IDENTIFIER_RE.sub(" ", line)
        for match in re.finditer(r"(\d+(?:\.\d+)?)\s*(万|亿)?", line):
            value = match.group(1)
            if match.group(2):
                value = format(float(value) * (1e4 if match.group(2) == "万" else 1e8), "g").replace("e+", "e")
                value = str(int(float(value))) if float(value).is_integer() else value
            found[value] += 1
    return found


ZH_DIGITS = "零一二三四五六七八九"
EN_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                   "fifteen sixteen seventeen eighteen nineteen twenty").split()
EN_ORDINALS = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth").split()


def zh_numeral(n: int) -> list[str]:
    if n < 10:
        return [ZH_DIGITS[n]] + (["两"] if n == 2 else [])
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else ZH_DIGITS[tens]
    return [head + "十" + (ZH_DIGITS[ones] if ones else "")]


def said_in_words(number: str, text: str, lang: str) -> bool:
    """Whether a small whole ``number`` is written out in ``text`` (二/两, "two", "second"; 1 also
    as "per", "a", "each", 每: "per °C" is "每 1 °C")."""
    if not number.isdigit() or int(number) > 99:
        return False
    n = int(number)
    if lang == "zh":
        return any(w in text for w in zh_numeral(n) + (["每"] if n == 1 else []))
    words = ([EN_NUMBER_WORDS[n]] if n < len(EN_NUMBER_WORDS) else []) + \
        ([EN_ORDINALS[n]] if n < len(EN_ORDINALS) else []) + (["twice", "double"] if n == 2 else []) + \
        (["half"] if n == 2 else []) + (["once", "per", "a", "an", "each"] if n == 1 else []) + \
        (["a dozen"] if n == 12 else [])
    return any(re.search(rf"\b{w}\b", text, flags=re.IGNORECASE) for w in words)


def names(text: str) -> set[str]:
    """The names with digits in ``text`` (codes, models, refrigerants), upper-case."""
    text = REFERENCE_STRIP_RE.sub(" ", re.sub(r"\]\([^)]*\)", "]", text or ""))
    return {m.group(0).upper() for m in IDENTIFIER_RE.finditer(text)}


def number_difference(zh_text: str, en_text: str) -> str:
    """'' when both texts say the same Arabic numbers (as many times each) and the same names
    with digits (E4, R32, KFR-35GW: each at least once); a small whole number written out in words
    on the other side (第二天 / "Day 2", "three" / 3) counts as said."""
    zh, en = numbers(zh_text), numbers(en_text)
    only_zh = sorted(n for n in (zh - en).elements() if not said_in_words(n, en_text, "en"))
    only_en = sorted(n for n in (en - zh).elements() if not said_in_words(n, zh_text, "zh"))
    only_zh += sorted(n for n in names(zh_text) if n not in (en_text or "").upper())
    only_en += sorted(n for n in names(en_text) if n not in (zh_text or "").upper())
    parts = []
    if only_zh:
        parts.append(_("only in zh: %(numbers)s", numbers=" ".join(only_zh)))
    if only_en:
        parts.append(_("only in en: %(numbers)s", numbers=" ".join(only_en)))
    return "; ".join(parts)


def _normal(value):
    if isinstance(value, list):
        return sorted(str(v).upper() for v in value)
    return value


def check_pair(zh: MdFile, en: MdFile, add) -> None:
    other = display_path(str(zh.path))
    for name in PAIR_FIELDS:
        if _normal(zh.data.get(name)) != _normal(en.data.get(name)):
            add(str(en.path), en.line_of(name) if name in en.field_lines else 1, "pair",
                _("%(field)s differs from %(other)s (%(zh)s ≠ %(en)s)", field=name, other=other,
                  zh=zh.data.get(name), en=en.data.get(name)))
    zh_sections, en_sections = zh.sections(), en.sections()
    if len(zh_sections) != len(en_sections):
        line = en_sections[min(len(zh_sections), len(en_sections)) - 1][0] if en_sections else 1
        add(str(en.path), line, "pair", _("%(en)d sections, %(other)s has %(zh)d", en=len(en_sections),
                                          other=other, zh=len(zh_sections)))
        difference = number_difference("\n".join(t for _n, t in zh.body_lines),
                                       "\n".join(t for _n, t in en.body_lines))
        if difference:
            add(str(en.path), en.first_body_line, "pair",
                _("numbers differ from %(other)s: %(difference)s", other=other, difference=difference))
        return
    for (_zl, _zt, zlines), (eline, etitle, elines) in zip(zh_sections, en_sections):
        difference = number_difference("\n".join(t for _n, t in zlines), "\n".join(t for _n, t in elines))
        if difference:
            add(str(en.path), eline, "pair",
                _("numbers differ from %(other)s in section “%(section)s”: %(difference)s", other=other,
                  section=etitle or "—", difference=difference))


def check_pairs(corpus: Corpus, add) -> None:
    for key, langs in corpus.cases.items():
        if "zh" in langs and "en" in langs:
            check_pair(langs["zh"], langs["en"], add)
        else:
            (lang, md), = langs.items()
            add(str(md.path), 1, "pair", _("no %(lang)s translation of case %(key)s",
                                           lang="en" if lang == "zh" else "zh", key=key))
    for course in corpus.courses.values():
        for slug, langs in course["lessons"].items():
            if "zh" in langs and "en" in langs:
                check_pair(langs["zh"], langs["en"], add)
            else:
                (lang, md), = langs.items()
                add(str(md.path), 1, "pair", _("no %(lang)s translation of lesson %(slug)s",
                                               lang="en" if lang == "zh" else "zh", slug=slug))
    for bank in corpus.banks:
        for index, q in enumerate(bank["questions"] or []):
            if not isinstance(q, dict):
                continue
            for keys, zh, en in _question_pairs(q):
                difference = number_difference(zh, en) if isinstance(zh, str) and isinstance(en, str) else ""
                if difference:
                    add(str(bank["path"]), bank["line"]("questions", index, *keys), "pair",
                        _("zh and en say different numbers: %(difference)s", difference=difference))


def _question_pairs(q: dict):
    for name in ("text", "explanation"):
        if isinstance(q.get(name), dict):
            yield (name,), q[name].get("zh"), q[name].get("en")
    for name in ("choices", "answers", "items"):
        for index, item in enumerate(q.get(name) or []):
            if isinstance(item, dict) and ("zh" in item or "en" in item):
                yield (name, index), item.get("zh"), item.get("en")
    for index, pair in enumerate(q.get("pairs") or []):
        for side in ("left", "right"):
            if isinstance(pair, dict) and isinstance(pair.get(side), dict):
                yield ("pairs", index), pair[side].get("zh"), pair[side].get("en")


# --- the norm trace ---------------------------------------------------------------------------

def _norm_tags(corpus: Corpus):
    """(norm key, where it is traced: "lessons" | "questions" | "audit_items", name, path, line)."""
    for slug, course in corpus.courses.items():
        for lesson, langs in course["lessons"].items():
            for lang, md in sorted(langs.items()):
                for key in md.data.get("norms") or []:
                    yield str(key), "lessons", f"{slug}/{lesson}", str(md.path), md.line_of("norms")
    for bank in corpus.banks:
        for index, q in enumerate(bank["questions"] or []):
            if isinstance(q, dict):
                for key in q.get("norms") or []:
                    yield (str(key), "questions", f"{bank['category']}/{q.get('id')}", str(bank["path"]),
                           bank["line"]("questions", index, "norms"))
    for audit in corpus.audits:
        for s_index, section in enumerate(audit["data"].get("sections") or []):
            if not isinstance(section, dict):
                continue
            for i_index, item in enumerate(section.get("items") or []):
                if isinstance(item, dict):
                    for key in item.get("norms") or []:
                        yield (str(key), "audit_items", f"{audit['slug']}/{item.get('id')}", str(audit["path"]),
                               audit["line"]("sections", s_index, "items", i_index, "norms"))


def trace_of(corpus: Corpus, facts: Facts) -> dict:
    result = {key: {"lessons": [], "questions": [], "audit_items": []} for key in facts.norms}
    for key, where, name, _path, _line in _norm_tags(corpus):
        if key in result and name not in result[key][where]:
            result[key][where].append(name)
    return result


def default_quizzes_dir(root: Path) -> Path:
    root = Path(root)
    return root.parent / "quizzes" if (root.parent / "quizzes").is_dir() else root / "quizzes"


def trace(root: Path, quizzes_dir: Path | None = None) -> dict:
    """norm key → {"lessons": [COURSE/SLUG…], "questions": [CATEGORY/ID…], "audit_items":
    [FORM/ITEM…]}, read from the files of the content root (and its question banks). Raises
    :class:`FactsError` when facts.yaml is broken; {} without one."""
    root = Path(root)
    path = root / "facts.yaml"
    if not path.exists():
        return {}
    facts = load_facts(path)
    return trace_of(scan(root, quizzes_dir or default_quizzes_dir(root)), facts)


def check_trace(corpus: Corpus, facts: Facts, add) -> None:
    for key, _where, _name, path, line in _norm_tags(corpus):
        if key not in facts.norms:
            add(path, line, "trace", _("norm %(key)s is not in facts.yaml", key=key))
    labels = {"lessons": _("no lesson teaches it (lesson front matter norms:)"),
              "questions": _("no question asks it (question norms:)"),
              "audit_items": _("no audit item checks it (audit item norms:)")}
    for key, found in trace_of(corpus, facts).items():
        for where, names in found.items():
            if not names:
                add(facts.path, facts.norms[key].line, "trace",
                    _("norm %(key)s: %(problem)s", key=key, problem=labels[where]))


# --- the whole check --------------------------------------------------------------------------

def find_root(path: Path) -> Path:
    """The content root a PATH belongs to: PATH itself, the nearest folder above it holding
    facts.yaml or named ``content``, or the ``content`` beside a ``quizzes`` folder."""
    path = Path(path).resolve()
    if path.is_dir() and (path / "content").is_dir():
        return path / "content"
    candidates = [path] if path.is_dir() else []
    candidates += list(path.parents)
    for folder in candidates:
        if (folder / "facts.yaml").is_file() or folder.name == "content":
            return folder
        if folder.name == "quizzes" and (folder.parent / "content").is_dir():
            return folder.parent / "content"
    return path if path.is_dir() else path.parent


def check(path: Path, quizzes_dir: Path | None = None) -> list[Finding]:
    """Every finding about the files under ``path`` (a content root, a folder or a file in it, or
    the question banks), resolving links against the whole content root."""
    path = Path(path).resolve()
    root = find_root(path)
    quizzes_dir = Path(quizzes_dir).resolve() if quizzes_dir else default_quizzes_dir(root)
    findings: set[Finding] = set()

    def add(where, line, kind, message):
        findings.add(Finding(str(where), int(line or 1), kind, message))

    facts, broken = None, False
    facts_file = root / "facts.yaml"
    if facts_file.exists():
        try:
            facts = load_facts(facts_file)
        except FactsError as exc:
            broken = True
            for problem in exc.problems:
                add(problem.path, problem.line, "facts", f"{problem.field}: {problem.message}")
    corpus = scan(root, quizzes_dir)
    findings.update(corpus.findings)
    check_texts(corpus, facts, add, broken)
    check_links(corpus, add)
    check_pairs(corpus, add)
    if facts is not None:
        check_case_codes(corpus, facts, add)
        check_keys(corpus, facts, add)
        check_trace(corpus, facts, add)
    whole = path in (root, root.parent)
    return sorted(f for f in findings if whole or _under(Path(f.path), path))


def _under(file: Path, path: Path) -> bool:
    file = file.resolve()
    return file == path or path in file.parents


def summary(findings: list[Finding]) -> str:
    if not findings:
        return _("No findings.")
    counts = Counter(f.kind for f in findings)
    parts = ", ".join(f"{kind_label(kind)} {counts[kind]}" for kind in (*KINDS, "file") if counts[kind])
    files = len({f.path for f in findings})
    return _("%(findings)s in %(files)s (%(parts)s)",
             findings=ngettext("%(num)d finding", "%(num)d findings", len(findings)),
             files=ngettext("%(num)d file", "%(num)d files", files), parts=parts)
