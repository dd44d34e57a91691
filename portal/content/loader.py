"""The content loader registry and its report.

Each area registers a loader for the files it owns. ``flask --app portal content
load [PATH]`` runs every loader whose files are under PATH. Loading is idempotent:
a file that has not changed since it was last loaded changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


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
    from sqlalchemy import select

    from ..extensions import db

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


@dataclass
class Loader:
    name: str
    folder: str  # the folder it owns, relative to the content root (e.g. "kb")
    load: Callable[[Path], Report]
    order: int = 50  # lower runs first: what others refer to (fault cases) loads before them


LOADERS: list[Loader] = []


def register(name: str, folder: str, order: int = 50):
    def decorate(function: Callable[[Path], Report]):
        LOADERS.append(Loader(name, folder, function, order))
        LOADERS.sort(key=lambda loader: loader.order)
        return function

    return decorate


def plan(path: Path) -> list[tuple[Loader, Path]]:
    """Which loaders apply to PATH: a content root, one loader's folder, or one file in it."""
    from ..kb import loader as _kb  # noqa: F401  (registers the kb loader)
    from ..learning import loader as _learning  # noqa: F401  (courses and calendar)
    from ..assessment import bank as _bank  # noqa: F401  (question banks)
    from ..certification import loader as _tiers  # noqa: F401  (certification tiers)
    from ..audits import loader as _audits  # noqa: F401  (audit templates)

    path = path.resolve()
    work = []
    for loader in LOADERS:
        # Question banks live beside content/ (the repository's quizzes/), the rest inside it.
        beside = path.parent / loader.folder if path.name == "content" else None
        if (path / loader.folder).is_dir():
            work.append((loader, path / loader.folder))
        elif beside is not None and beside.is_dir():
            work.append((loader, beside))
        elif path.name == loader.folder or loader.folder in [p.name for p in path.parents][:3]:
            work.append((loader, path))
    return work
