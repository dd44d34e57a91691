"""The facts file (``content/facts.yaml``): each service value the content relies on, once.

Five lists: ``facts`` (quantities: a value or range with its unit, the products it holds for, the
cue words that mark a sentence stating it), ``code_tables`` (a maker's error-code table and how
to tell on the unit which one applies), ``codes`` (a code's meaning in one table) and ``norms``
(the service norms of the domain brief, traced to lessons, questions and audit items) and
``statements`` (a fact said in words: the phrasings that contradict it, e.g. a sensor off its
pipe "reads high").

Content refers to a fact as ``{{fact:KEY}}`` and to a code table as ``{{table:KEY}}``;
:func:`render_facts` replaces them, at load time, in the language of the file or field.
The file loads whole or not at all: :func:`load_facts` raises :class:`FactsError` with every
problem as FILE:LINE: FIELD: message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext as _

from .files import FileProblem, parse_yaml_file, yaml_line_finder
from .loader import Problem

LANGS = ("zh", "en")
PRODUCTS = ("air-conditioner", "washing-machine", "refrigerator", "water-heater")
NORM_KINDS = ("time-standard", "seven-steps", "norms-12345", "red-line", "polite-phrase",
              "forbidden-phrase", "kpi", "kpi-formula")
KEY_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CODE_RE = re.compile(r"^[A-Za-z0-9]{1,6}$")


@dataclass(frozen=True)
class Unit:
    symbol: str
    dimension: str
    factor: float  # to the dimension's base unit
    zh: str  # how it is written after a number, per language
    en: str
    en_plural: str = ""


# Written forms per language; the checker recognises the aliases in UNIT_ALIASES.
UNITS: dict[str, Unit] = {u.symbol: u for u in (
    Unit("Pa", "pressure", 1.0, "Pa", "Pa"),
    Unit("kPa", "pressure", 1e3, "kPa", "kPa"),
    Unit("MPa", "pressure", 1e6, "MPa", "MPa"),
    Unit("bar", "pressure", 1e5, "bar", "bar"),
    Unit("psi", "pressure", 6894.757, "psi", "psi"),
    Unit("micron", "pressure", 0.133322, "微米汞柱", "micron", "microns"),
    Unit("°C", "temperature", 1.0, "°C", "°C"),
    Unit("K", "temperature", 1.0, "K", "K"),
    Unit("Ω", "resistance", 1.0, "Ω", "Ω"),
    Unit("kΩ", "resistance", 1e3, "kΩ", "kΩ"),
    Unit("MΩ", "resistance", 1e6, "MΩ", "MΩ"),
    Unit("V", "voltage", 1.0, "V", "V"),
    Unit("A", "current", 1.0, "A", "A"),
    Unit("s", "time", 1.0, "秒", "second", "seconds"),
    Unit("min", "time", 60.0, "分钟", "minute", "minutes"),
    Unit("h", "time", 3600.0, "小时", "hour", "hours"),
    Unit("d", "time", 86400.0, "天", "day", "days"),
    Unit("%", "percent", 1.0, "%", "%"),
    Unit("PPM", "ppm", 1.0, "PPM", "PPM"),
    Unit("g", "mass", 1.0, "g", "g"),
    Unit("kg", "mass", 1e3, "kg", "kg"),
    Unit("mm", "length", 1e-3, "mm", "mm"),
    Unit("m", "length", 1.0, "m", "m"),
)}
SPACED_UNITS = {"s", "min", "h", "d"}  # written as words: "4 hours", "4 小时"


def dimension(unit: str) -> str:
    return UNITS[unit].dimension


def convert(value: float, unit: str, to_unit: str) -> float:
    """``value`` in ``unit`` expressed in ``to_unit`` (same dimension)."""
    source, target = UNITS[unit], UNITS[to_unit]
    if source.dimension != target.dimension:
        raise ValueError(f"cannot convert {unit} to {to_unit}")
    return value * source.factor / target.factor


@dataclass
class Fact:
    key: str
    title: dict
    value: tuple[float, float]  # (low, high); equal for a single value
    unit: str
    applies_to: tuple[str, ...]
    cue: dict  # lang → list of words
    source: dict
    equivalents: list = field(default_factory=list)  # [(value, unit)]
    tolerance: float | None = None
    line: int = 1

    @property
    def is_range(self) -> bool:
        return self.value[0] != self.value[1]

    def matches(self, value: float, unit: str) -> bool:
        """Whether ``value`` in ``unit`` states this fact (inside the range, within tolerance)."""
        if dimension(unit) != dimension(self.unit):
            return False
        here = convert(value, unit, self.unit)
        low, high = self.value
        slack = self.tolerance if self.tolerance is not None else 0.03 * max(abs(low), abs(high))
        return low - slack - 1e-9 <= here <= high + slack + 1e-9


@dataclass
class CodeTable:
    key: str
    maker: str
    products: tuple[str, ...]
    title: dict
    how_to_tell: dict
    source: dict
    line: int = 1


@dataclass
class Code:
    table: str
    code: str
    meaning: dict
    words: dict
    line: int = 1


@dataclass
class Norm:
    key: str
    kind: str
    title: dict
    fact: str | None
    source: dict
    line: int = 1


@dataclass
class Statement:
    """A fact said in words, not numbers: a sentence naming the topic (a ``cue`` word) in the
    words of the contradiction (a ``wrong`` phrase) contradicts it, e.g. a sensor off its pipe
    "reads high"."""
    key: str
    title: dict
    cue: dict  # lang → words naming the topic
    wrong: dict  # lang → phrases that contradict the fact
    applies_to: tuple[str, ...]
    source: dict
    unless: dict = field(default_factory=dict)  # lang → words that make such a sentence right
    line: int = 1

    def contradicted_by(self, sentence: str, lang: str) -> str | None:
        """The wrong phrase ``sentence`` uses when it names this topic (and none of the ``unless``
        words), else None."""
        folded = sentence.lower() if lang == "en" else sentence
        fold = (lambda w: w.lower()) if lang == "en" else (lambda w: w)
        if not any(fold(word) in folded for word in self.cue.get(lang, ())):
            return None
        if any(fold(word) in folded for word in self.unless.get(lang, ())):
            return None
        return next((phrase for phrase in self.wrong.get(lang, ()) if fold(phrase) in folded), None)


@dataclass
class Facts:
    path: str
    facts: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    codes: dict = field(default_factory=dict)  # (table, CODE) → Code
    norms: dict = field(default_factory=dict)
    statements: dict = field(default_factory=dict)
    digest: str = ""

    def codes_named(self, code: str) -> list[Code]:
        return [c for (_t, name), c in self.codes.items() if name == code.upper()]


class FactsError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def format_number(value: float) -> str:
    text = f"{value:.6g}"
    return text[:-2] if text.endswith(".0") else text


def format_quantity(low: float, high: float, unit: str, lang: str) -> str:
    """``60 Pa``, ``110–120 °C``, ``4 hours`` / ``4 小时``, ``95%``."""
    spec = UNITS[unit]
    number = format_number(low) if low == high else f"{format_number(low)}–{format_number(high)}"
    if lang == "zh":
        word = spec.zh
        return f"{number}{word}" if unit in ("%",) else f"{number} {word}"
    word = spec.en_plural if spec.en_plural and not (low == high == 1) else spec.en
    return f"{number}{word}" if unit == "%" else f"{number} {word}"


def fact_text(fact: Fact, lang: str) -> str:
    text = format_quantity(*fact.value, fact.unit, lang)
    if fact.equivalents:
        others = ", ".join(format_quantity(v, v, u, lang) for v, u in fact.equivalents)
        text += f"（{others}）" if lang == "zh" else f" ({others})"
    return text


def table_text(table: CodeTable, lang: str) -> str:
    sep = "：" if lang == "zh" else ": "
    return f"{table.title[lang]}{sep}{table.how_to_tell[lang]}"


REFERENCE_RE = re.compile(r"\{\{\s*(fact|table)\s*:\s*([a-z0-9-]+)\s*\}\}")


def references(text: str) -> list[tuple[str, str, int]]:
    """(kind, key, offset) of each ``{{fact:KEY}}`` / ``{{table:KEY}}`` in ``text``."""
    return [(m.group(1), m.group(2), m.start()) for m in REFERENCE_RE.finditer(text or "")]


def render_facts(text: str, lang: str, facts: Facts | None) -> tuple[str, list[str]]:
    """``text`` with each reference replaced in ``lang``; and the references it could not
    resolve (``fact:KEY``), left in place."""
    if not text or "{{" not in text:
        return text, []
    unknown: list[str] = []
    lang = "zh" if lang.startswith("zh") else "en"

    def replace(match: re.Match) -> str:
        kind, key = match.group(1), match.group(2)
        found = None if facts is None else (facts.facts if kind == "fact" else facts.tables).get(key)
        if found is None:
            unknown.append(f"{kind}:{key}")
            return match.group(0)
        return fact_text(found, lang) if kind == "fact" else table_text(found, lang)

    return REFERENCE_RE.sub(replace, text), unknown


# --- loading ----------------------------------------------------------------------------------

def _texts(value, where: str, problems: list, line: int, path: str, required=True) -> dict:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or any(not isinstance(value.get(lang), str) or not value.get(lang).strip()
                                          for lang in LANGS):
        problems.append(Problem(path, line, where, _("needs {zh: …, en: …}, both non-empty")))
        return {lang: "" for lang in LANGS}
    return {lang: value[lang].strip() for lang in LANGS}


def _words(value, where: str, problems: list, line: int, path: str) -> dict:
    if not isinstance(value, dict) or any(
            not isinstance(value.get(lang), list) or not value.get(lang)
            or any(not isinstance(w, str) or not w.strip() for w in value.get(lang)) for lang in LANGS):
        problems.append(Problem(path, line, where, _("needs {zh: [words], en: [words]}, both non-empty lists")))
        return {lang: [] for lang in LANGS}
    return {lang: [w.strip() for w in value[lang]] for lang in LANGS}


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _products(value, where: str, problems: list, line: int, path: str) -> tuple[str, ...]:
    if value == "all":
        return PRODUCTS
    if not isinstance(value, list) or not value or any(p not in PRODUCTS for p in value):
        problems.append(Problem(path, line, where, _("must be \"all\" or a list of: %(names)s", names=", ".join(PRODUCTS))))
        return ()
    return tuple(value)


def load_facts(path: Path) -> Facts:
    """Read and check ``facts.yaml``; raises :class:`FactsError` listing every problem."""
    path = Path(path)
    where = str(path)
    try:
        data, _lines, digest = parse_yaml_file(path)
    except FileProblem as exc:
        raise FactsError([Problem(where, exc.line, exc.field, exc.message)]) from exc
    except OSError as exc:
        raise FactsError([Problem(where, 1, "file", str(exc))]) from exc
    line_of = yaml_line_finder(path)
    problems: list[Problem] = []
    result = Facts(path=where, digest=digest)
    unknown = set(data) - {"facts", "code_tables", "codes", "norms", "statements"}
    for name in sorted(unknown):
        problems.append(Problem(where, line_of(name), name,
                                _("unknown section (facts, code_tables, codes, norms, statements)")))
    seen: dict[str, int] = {}

    def entries(section: str):
        items = data.get(section) or []
        if not isinstance(items, list):
            problems.append(Problem(where, line_of(section), section, _("must be a list")))
            return
        for index, item in enumerate(items):
            line = line_of(section, index)
            if not isinstance(item, dict):
                problems.append(Problem(where, line, section, _("each entry must be a set of fields")))
                continue
            yield index, item, line

    def claim_key(item, section, line) -> str | None:
        key = item.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            problems.append(Problem(where, line, f"{section}.key", _("lower-case letters, digits and dashes")))
            return None
        if key in seen:
            problems.append(Problem(where, line, f"{section}.key",
                                    _("%(key)r is already used on line %(line)d", key=key, line=seen[key])))
            return None
        seen[key] = line
        return key

    for index, item, line in entries("facts"):
        key = claim_key(item, "facts", line)
        raw = item.get("value")
        if isinstance(raw, list) and len(raw) == 2 and all(_number(v) is not None for v in raw) \
                and float(raw[0]) <= float(raw[1]):
            value = (float(raw[0]), float(raw[1]))
        elif _number(raw) is not None:
            value = (float(raw), float(raw))
        else:
            problems.append(Problem(where, line_of("facts", index, "value"), "facts.value",
                                    _("a number, or [low, high]")))
            value = (0.0, 0.0)
        unit = item.get("unit")
        if unit not in UNITS:
            problems.append(Problem(where, line_of("facts", index, "unit"), "facts.unit",
                                    _("one of %(names)s", names=" ".join(UNITS))))
            unit = None
        equivalents = []
        for eq in item.get("equivalents") or []:
            if not isinstance(eq, dict) or _number(eq.get("value")) is None or eq.get("unit") not in UNITS \
                    or (unit and dimension(eq["unit"]) != dimension(unit)):
                problems.append(Problem(where, line_of("facts", index, "equivalents"), "facts.equivalents",
                                        _("each {value: number, unit: a unit of the same dimension}")))
                continue
            equivalents.append((float(eq["value"]), eq["unit"]))
        tolerance = item.get("tolerance")
        if tolerance is not None and (_number(tolerance) is None or tolerance < 0):
            problems.append(Problem(where, line_of("facts", index, "tolerance"), "facts.tolerance",
                                    _("a number ≥ 0")))
            tolerance = None
        fact = Fact(
            key=key or "", value=value, unit=unit or "%",
            title=_texts(item.get("title"), "facts.title", problems, line, where),
            applies_to=_products(item.get("applies_to"), "facts.applies_to", problems, line, where),
            cue=_words(item.get("cue"), "facts.cue", problems, line_of("facts", index, "cue"), where),
            source=_texts(item.get("source"), "facts.source", problems, line, where),
            equivalents=equivalents, tolerance=None if tolerance is None else float(tolerance), line=line)
        if key:
            result.facts[key] = fact

    for index, item, line in entries("code_tables"):
        key = claim_key(item, "code_tables", line)
        maker = item.get("maker")
        if not isinstance(maker, str) or not KEY_RE.match(maker):
            problems.append(Problem(where, line, "code_tables.maker", _("lower-case letters, digits and dashes")))
        table = CodeTable(
            key=key or "", maker=maker or "",
            products=_products(item.get("products"), "code_tables.products", problems, line, where),
            title=_texts(item.get("title"), "code_tables.title", problems, line, where),
            how_to_tell=_texts(item.get("how_to_tell"), "code_tables.how_to_tell", problems, line, where),
            source=_texts(item.get("source"), "code_tables.source", problems, line, where), line=line)
        if key:
            result.tables[key] = table

    for index, item, line in entries("codes"):
        table, code = item.get("table"), item.get("code")
        if table not in result.tables:
            problems.append(Problem(where, line, "codes.table", _("no code table %(key)r in code_tables", key=table)))
        if not isinstance(code, str) or not CODE_RE.match(code):
            problems.append(Problem(where, line, "codes.code", _("the code as shown, 1–6 letters or digits")))
            continue
        if (table, code.upper()) in result.codes:
            problems.append(Problem(where, line, "codes.code",
                                    _("%(code)s is already in %(table)s on line %(line)d", code=code, table=table,
                                      line=result.codes[(table, code.upper())].line)))
            continue
        result.codes[(table, code.upper())] = Code(
            table=table, code=code.upper(),
            meaning=_texts(item.get("meaning"), "codes.meaning", problems, line, where),
            words=_words(item.get("words"), "codes.words", problems, line, where), line=line)

    for index, item, line in entries("norms"):
        key = claim_key(item, "norms", line)
        kind = item.get("kind")
        if kind not in NORM_KINDS:
            problems.append(Problem(where, line_of("norms", index, "kind"), "norms.kind",
                                    _("one of %(names)s", names=", ".join(NORM_KINDS))))
        fact_key = item.get("fact")
        if fact_key is not None and fact_key not in result.facts:
            problems.append(Problem(where, line_of("norms", index, "fact"), "norms.fact",
                                    _("no fact %(key)r in facts", key=fact_key)))
        norm = Norm(key=key or "", kind=kind or "", fact=fact_key,
                    title=_texts(item.get("title"), "norms.title", problems, line, where),
                    source=_texts(item.get("source"), "norms.source", problems, line, where), line=line)
        if key:
            result.norms[key] = norm

    for index, item, line in entries("statements"):
        key = claim_key(item, "statements", line)
        statement = Statement(
            key=key or "",
            title=_texts(item.get("title"), "statements.title", problems, line, where),
            cue=_words(item.get("cue"), "statements.cue", problems, line_of("statements", index, "cue"), where),
            wrong=_words(item.get("wrong"), "statements.wrong", problems, line_of("statements", index, "wrong"),
                         where),
            applies_to=_products(item.get("applies_to"), "statements.applies_to", problems, line, where),
            source=_texts(item.get("source"), "statements.source", problems, line, where),
            unless={} if item.get("unless") is None else _words(
                item.get("unless"), "statements.unless", problems, line_of("statements", index, "unless"), where),
            line=line)
        if key:
            result.statements[key] = statement

    if problems:
        raise FactsError(problems)
    return result


_CACHE: dict[str, tuple[float, Facts]] = {}


def facts_path(content_root: Path) -> Path:
    return Path(content_root) / "facts.yaml"


def facts_for_root(content_root: Path) -> Facts | None:
    """The facts of a content root (None when it has no facts.yaml), read again only when the
    file changes. Raises :class:`FactsError` when the file is broken."""
    path = facts_path(content_root)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _CACHE.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    facts = load_facts(path)
    _CACHE[str(path)] = (stamp, facts)
    return facts


def rendered_digest(digest: str, text_digest_parts: list[str]) -> str:
    """A content file's digest that also changes when the facts it renders change."""
    h = hashlib.sha256(digest.encode())
    for part in text_digest_parts:
        h.update(b"\0" + part.encode())
    return h.hexdigest()
