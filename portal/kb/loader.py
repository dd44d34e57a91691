"""Loading content/kb/: one Markdown file per case and language, plus synonyms.yaml.

A file with a problem is reported with its file, line and field, and not loaded;
the other files still load. Loading the same files again changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from flask_babel import gettext as _
from sqlalchemy import select

from ..content.files import FileProblem, parse_front_matter
from ..content.loader import Report, register
from ..content.rendering import REVIEW_FIELDS, FactsSource, content_root, digest_of, render, review_state
from ..extensions import db
from ..i18n import local_today
from . import indexing
from .models import CASE_FIELDS, Case, KbTerms
from .services import case_problems, create_case, update_case

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,118}$")
SYNONYMS_FILE = "synonyms.yaml"


# Front matter a case file may have besides its fields: the review state (stored on the case, not
# part of its revisions) and the code table its error codes are read in (used by the checker).
EXTRA_FIELDS = (*REVIEW_FIELDS, "code_table")


def parse_case_file(path: Path, facts: FactsSource | None = None) -> tuple[dict, str]:
    """(fields with body, content hash), or FileProblem naming the line and field. The body and
    title are rendered ({{fact:KEY}}, {{table:KEY}}) in the case's language; ``data["review"]``
    is (reviewed_by, reviewed_on), both None when never reviewed."""
    parsed = parse_front_matter(path)
    data, line_of = parsed.data, parsed.line_of
    facts = facts or FactsSource(content_root(path, "kb"))
    unknown = [name for name in data if name not in CASE_FIELDS and name not in EXTRA_FIELDS]
    if unknown:
        raise FileProblem(line_of(unknown[0]), unknown[0], _("Unknown field."))
    slug = path.stem
    if not SLUG_RE.match(slug):
        raise FileProblem(1, "slug", _("The file name must be lower-case letters, digits and dashes."))
    lang = data.get("lang")
    if isinstance(lang, str) and re.search(r"-(zh|en)$", slug) and not slug.endswith("-" + lang):
        raise FileProblem(line_of("lang"), "lang", _("The file name says another language."))
    by, on, problem = review_state(data, local_today())
    if problem:
        raise FileProblem(line_of(problem[0]), problem[0], problem[1])
    table = data.pop("code_table", None)
    if table is not None:
        if facts.broken:
            raise FileProblem(line_of("code_table"), "code_table", facts.broken)
        # one table, or a list for a case that covers several makers' codes (content/README.md)
        tables = [table] if isinstance(table, str) else table
        if not isinstance(tables, list) or not tables:
            raise FileProblem(line_of("code_table"), "code_table",
                              _("A code table key, or a list of them, from facts.yaml."))
        for key in tables:
            if not isinstance(key, str) or facts.facts is None or key not in facts.facts.tables:
                raise FileProblem(line_of("code_table"), "code_table",
                                  _("No code table %(key)s in facts.yaml.", key=key))
    for name in REVIEW_FIELDS:
        data.pop(name, None)
    data["body"] = parsed.body
    data.setdefault("key", slug)
    lang = data.get("lang") if data.get("lang") in ("zh", "en") else "en"
    originals, rendered = [], []
    for name, first_line in (("title", line_of("title")), ("body", parsed.body_line)):
        if isinstance(data.get(name), str):
            text, unknown_refs = render(data[name], lang, facts, first_line)
            if unknown_refs:
                raise FileProblem(unknown_refs[0][0], name, unknown_refs[0][1])
            originals.append(data[name])
            rendered.append(text)
            data[name] = text
    for name, message in case_problems(data):
        line = parsed.body_line if name == "body" else line_of(name)
        raise FileProblem(line, name, message)
    data["review"] = (by, on)
    return data, digest_of(parsed.digest, originals, rendered)


def load_synonyms(path: Path, report: Report) -> bool:
    """Load synonyms.yaml into the database; True if it changed."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        report.error(path, mark.line + 1 if mark else 1, "synonyms", str(getattr(exc, "problem", exc)))
        return False
    groups, words = data.get("groups", []), data.get("dictionary", [])
    if not isinstance(groups, list) or not all(
            isinstance(g, list) and len(g) >= 2 and all(isinstance(m, str) for m in g) for g in groups):
        report.error(path, 1, "groups", _("A list of groups, each a list of at least two words."))
        return False
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        report.error(path, 1, "dictionary", _("A list of words."))
        return False
    variants = data.get("variants") or {}
    problem = variants_problem(groups, words, variants)
    if problem:
        slip, message = problem
        lines = raw.decode("utf-8").splitlines()
        start = next((n for n, text in enumerate(lines, start=1) if text.startswith("variants:")), 1)
        line = next((n for n, text in enumerate(lines, start=1) if n >= start and slip in text), start)
        report.error(path, line, "variants", message)
        return False
    row = db.session.scalar(select(KbTerms).order_by(KbTerms.id.desc()).limit(1))
    if row is not None and row.content_hash == digest:
        report.unchanged += 1
        return False
    if row is None:
        db.session.add(KbTerms(groups=groups, dictionary=words, variants=variants, content_hash=digest))
        report.created += 1
    else:
        row.groups, row.dictionary, row.variants, row.content_hash = groups, words, variants, digest
        report.updated += 1
    return True


def variants_problem(groups: list, words: list, variants) -> tuple[str, str] | None:
    """(the slip at fault, message) if the keyboard slips are malformed or would change a real
    word: a query is folded by replacing each slip wherever it occurs, so a slip must not be
    part of any word the synonyms, the dictionary or the other entries mean."""
    if not isinstance(variants, dict) or not all(
            isinstance(word, str) and isinstance(slips, list) and slips
            and all(isinstance(s, str) and s.strip() for s in slips)
            for word, slips in variants.items()):
        return "variants", _("A mapping of words to the slips typed for them, each a list of words.")
    real = [m.lower() for g in groups for m in g] + [w.lower() for w in words] + [w.lower() for w in variants]
    for word, slips in variants.items():
        for slip in slips:
            inside = next((r for r in real if slip.lower() in r), None)
            if inside is not None:
                return slip, _("“%(slip)s” is part of the word “%(word)s”: folding it would change that word.",
                               slip=slip, word=inside)
    return None


@register("kb", "kb")
def load_kb(where: Path) -> Report:
    report = Report()
    files = [where] if where.is_file() else sorted(where.glob("*.md"))
    files = [f for f in files if f.suffix == ".md" and not f.name.lower().startswith("readme")]
    terms_changed = False
    synonyms = where / SYNONYMS_FILE if where.is_dir() else None
    if synonyms is not None and synonyms.exists():
        terms_changed = load_synonyms(synonyms, report)
    parsed: dict[str, tuple[Path, dict, str]] = {}
    owners: dict[tuple[str, str], str] = {}
    facts = FactsSource(content_root(where, "kb"))
    for path in files:
        try:
            data, digest = parse_case_file(path, facts)
        except FileProblem as problem:
            report.error(path, problem.line, problem.field, problem.message)
            continue
        pair = (data["key"], data["lang"])
        if pair in owners:
            report.error(path, 1, "key", _("%(other)s already has this key in this language.",
                                           other=owners[pair]))
            continue
        owners[pair] = path.name
        parsed[path.stem] = (path, data, digest)
    existing = {c.slug: c for c in db.session.scalars(select(Case).where(Case.slug.in_(parsed)))}
    taken = {(k, lang): s for s, k, lang in db.session.execute(select(Case.slug, Case.key, Case.lang))}
    for slug, (path, data, digest) in parsed.items():
        case = existing.get(slug)
        other = taken.get((data["key"], data["lang"]))
        if other is not None and other != slug:
            report.error(path, 1, "key", _("The case %(other)s already has this key in this language.",
                                           other=other))
            continue
        review = data.pop("review")
        if case is None:
            case = create_case(data, slug=slug, content_hash=digest, note=path.name)
            report.created += 1
        elif case.content_hash == digest:
            report.unchanged += 1
        elif update_case(case, data, source="content", note=path.name, content_hash=digest):
            report.updated += 1
        else:
            report.unchanged += 1
        case.reviewed_by, case.reviewed_on = review
    db.session.commit()
    keys = set(db.session.scalars(select(Case.key)))
    for path, data, _digest in parsed.values():
        missing = [k for k in data.get("related") or [] if k not in keys]
        if missing:
            report.warnings.append(f"{path}: related case(s) not found: {', '.join(missing)}")
    if terms_changed or indexing.is_stale():
        indexing.rebuild()
    else:
        indexing.sync(force=True)
    return report
