"""What the content loaders share about content/facts.yaml: finding it from the folder being
loaded, rendering ``{{fact:KEY}}`` / ``{{table:KEY}}`` with the line of each unknown reference,
checking ``norms: [KEY, …]`` against its norms, and a digest that follows the rendered text (so
editing facts.yaml reloads the files that use it).

A loader reads the facts once per run through :class:`FactsSource`; only a file that needs
them (it has a reference or a norm tag) fails when facts.yaml is broken — the facts.yaml problems
themselves are reported once, by ``flask content load`` (content.cli), before the loaders run.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path

from flask_babel import gettext as _

from .facts import Facts, FactsError, facts_for_root, references, render_facts, rendered_digest

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def content_root(where: Path, folder: str) -> Path:
    """The content root for a loader's ``folder`` (kb, courses, audits…) given the path being
    loaded (the folder, a sub-folder or a file in it). Question banks live beside the content
    root (the repository's quizzes/), so for ``quizzes`` it is the sibling ``content/``."""
    where = Path(where).resolve()
    for path in [where, *where.parents]:
        if path.name == folder:
            return path.parent / "content" if folder == "quizzes" else path.parent
    return where.parent if where.is_dir() else where.parent.parent


class FactsSource:
    """The facts of one content root, read at most once per loader run."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._read = False
        self._facts: Facts | None = None
        self._broken: FactsError | None = None

    def _load(self) -> None:
        if not self._read:
            self._read = True
            try:
                self._facts = facts_for_root(self.root)
            except FactsError as exc:
                self._broken = exc

    @property
    def facts(self) -> Facts | None:
        self._load()
        return self._facts

    @property
    def broken(self) -> str | None:
        """A one-line message when facts.yaml cannot be read (its problems are listed by
        ``flask content load``), else None."""
        self._load()
        if self._broken is None:
            return None
        return _("%(path)s has %(n)d problem(s); fix it first (flask content load lists them)",
                 path=self.root / "facts.yaml", n=len(self._broken.problems))

    @property
    def norm_keys(self) -> set[str]:
        facts = self.facts
        return set(facts.norms) if facts is not None else set()


def needs_facts(text: str) -> bool:
    return bool(references(text))


def render(text: str, lang: str, source: FactsSource, first_line: int) -> tuple[str, list[tuple[int, str]]]:
    """``text`` rendered in ``lang``; and (line, message) for each reference it cannot resolve
    (``first_line``: the file line of the text's first line)."""
    if not needs_facts(text):
        return text, []
    if source.broken:
        return text, [(first_line + text[:references(text)[0][2]].count("\n"), source.broken)]
    rendered, unknown = render_facts(text, lang, source.facts)
    problems = []
    for kind, key, offset in references(text):
        if f"{kind}:{key}" in unknown:
            line = first_line + text[:offset].count("\n")
            message = (_("No fact %(key)s in facts.yaml.", key=key) if kind == "fact"
                       else _("No code table %(key)s in facts.yaml.", key=key))
            problems.append((line, message))
    return rendered, problems


def norm_problem(value, source: FactsSource) -> str | None:
    """Why ``norms:`` is wrong (not a list of keys, or a key facts.yaml does not have), or None."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        return _("A list of norm keys from facts.yaml, e.g. [time-answer-call].")
    if source.broken:
        return source.broken
    unknown = [k for k in value if k not in source.norm_keys]
    if unknown:
        return _("No norm %(keys)s in facts.yaml.", keys=", ".join(unknown))
    return None


def digest_of(digest: str, original: list[str], rendered: list[str]) -> str:
    """The file's digest, or — when rendering changed any text — one that also covers the
    rendered texts (so a changed fact changes it)."""
    if original == rendered:
        return digest
    return rendered_digest(digest, [hashlib.sha256(t.encode()).hexdigest() for t in rendered])


REVIEW_FIELDS = ("reviewed_by", "reviewed_on")


def review_state(data: dict, today: date) -> tuple[str | None, date | None, tuple[str, str] | None]:
    """(reviewed_by, reviewed_on, problem as (field, message) or None) from front matter: a
    non-empty name and a date YYYY-MM-DD not in the future, both or neither."""
    by, on = data.get("reviewed_by"), data.get("reviewed_on")
    if by is None and on is None:
        return None, None, None
    if by is None or on is None:
        missing = "reviewed_by" if by is None else "reviewed_on"
        return None, None, (missing, _("Give reviewed_by and reviewed_on together, or neither."))
    if not isinstance(by, str) or not by.strip() or len(by.strip()) > 100:
        return None, None, ("reviewed_by", _("The reviewer's name, at most 100 characters."))
    if isinstance(on, str):
        try:
            on = date.fromisoformat(on.strip()) if DATE_RE.match(on.strip()) else None
        except ValueError:
            on = None
    if isinstance(on, datetime) or not isinstance(on, date):
        return None, None, ("reviewed_on", _("A date like 2026-11-30."))
    if on > today:
        return None, None, ("reviewed_on", _("The review date is in the future."))
    return by.strip(), on, None
