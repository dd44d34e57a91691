"""The content loader registry and its report.

Each area registers a loader for the files it owns, from its own loader module (this registry
imports none of them; the app factory imports the areas). ``flask --app portal content load
[PATH]`` runs every loader whose files are under PATH, in the order :data:`ORDER` declares.
Loading is idempotent: a file that has not changed since it was last loaded changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ..extensions import db


@dataclass
class Problem:
    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, path, line: int, field_name: str, message: str) -> None:
        self.problems.append(Problem(str(path), line, field_name, message))

    def add(self, other: "Report") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)

    @property
    def failed_files(self) -> int:
        return len({p.path for p in self.problems})

    def summary(self) -> str:
        return (f"created {self.created} / updated {self.updated} / unchanged {self.unchanged}"
                + (f" / failed {self.failed_files}" if self.problems else ""))


def upsert(model, report: "Report", digest: str, **key):
    """The row of ``model`` with ``key`` for a content file whose hash is ``digest``: None when
    it is already loaded and unchanged (counted), else the row to fill (created or updated,
    counted)."""
    query = select(model)
    for name, value in key.items():
        query = query.where(getattr(model, name) == value)
    row = db.session.scalar(query)
    if row is not None and row.content_hash == digest and getattr(row, "active", True):
        report.unchanged += 1
        return None
    if row is None:
        row = model(**key)
        db.session.add(row)
        report.created += 1
    else:
        report.updated += 1
    return row


# The order loaders run in: what others refer to loads first (lessons link fault cases, quiz
# definitions name banks and lessons, tiers name courses and quizzes, audit templates name
# lessons, audit programmes name audit templates). The README's "Content" section lists the same order.
ORDER = ("kb", "courses", "calendar", "quizzes", "quiz definitions", "certification", "audits",
         "audit programmes")


@dataclass
class Loader:
    name: str
    folder: str  # the folder it owns, relative to the content root (e.g. "kb")
    load: Callable[[Path], Report]


LOADERS: list[Loader] = []


def register(name: str, folder: str):
    """Decorator for an area's loader; ``name`` must be one of :data:`ORDER`."""
    if name not in ORDER:
        raise ValueError(f"content loader {name!r} is not in content.loader.ORDER")

    def decorate(function: Callable[[Path], Report]):
        LOADERS[:] = [loader for loader in LOADERS if loader.name != name] + [Loader(name, folder, function)]
        LOADERS.sort(key=lambda loader: ORDER.index(loader.name))
        return function

    return decorate


def _inside(path: Path, folder: str) -> bool:
    """Whether PATH is a loader's folder (one name, or nested: "audits/programmes") or a file or
    folder up to three levels inside it."""
    parts = Path(folder).parts
    names = [path.name] + [p.name for p in path.parents]
    return any(tuple(reversed(names[i:i + len(parts)])) == parts for i in range(4))


def _nested_below(path: Path, folder: str) -> Path | None:
    """A nested loader folder ("audits/programmes") under PATH when PATH is its parent folder."""
    parts = Path(folder).parts
    for k in range(1, len(parts)):
        if path.parts[-k:] == parts[:k] and (path / Path(*parts[k:])).is_dir():
            return path / Path(*parts[k:])
    return None


def plan(path: Path) -> list[tuple[Loader, Path]]:
    """Which loaders apply to PATH: a content root, one loader's folder, or one file in it. A file
    or folder inside a nested loader's folder (audits/programmes/) is that loader's alone."""
    path = path.resolve()
    work = []
    for loader in LOADERS:
        # Question banks live beside content/ (the repository's quizzes/), the rest inside it.
        beside = path.parent / loader.folder if path.name == "content" else None
        if (path / loader.folder).is_dir():
            work.append((loader, path / loader.folder))
        elif beside is not None and beside.is_dir():
            work.append((loader, beside))
        elif _inside(path, loader.folder):
            work.append((loader, path))
        elif (nested := _nested_below(path, loader.folder)) is not None:
            work.append((loader, nested))
    inner = [loader.folder for loader, where in work if where == path and "/" in loader.folder]
    return [(loader, where) for loader, where in work
            if not (where == path and any(f != loader.folder and f.startswith(loader.folder + "/") for f in inner))]
