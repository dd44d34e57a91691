"""The Whoosh index on disk: schema, atomic rebuilds, incremental updates, searchers.

Layout under ``<instance>/search/``::

    current          name of the live index folder (replaced atomically with os.replace)
    idx-…/           a Whoosh index, plus state.json: schema version, dictionary hash,
                     and the id of the last change-log entry it contains
    build.lock       held while a full build runs

A rebuild writes a new folder beside the live one and swaps ``current`` only once
the new index is complete: a crash mid-build leaves the old index serving.
No Flask here; kb/indexing.py feeds it from the database.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import RegexTokenizer
from whoosh.fields import ID, KEYWORD, TEXT, Schema
from whoosh.index import LockError

from .analysis import BigramTokenizer, MixedTokenizer

# Segments are written as separate files, not Whoosh's single compound file: Whoosh reads a
# compound file's parts into memory (BytesIO copies of the mapping), which made a worker
# hold the whole 100,000-case index (~600 MB) in its own memory. Separate files are read
# through the page cache, shared by every worker on the host.
WRITER_OPTIONS = {"compound": False}

SCHEMA_VERSION = 7  # 6: segments as separate files (see WRITER_OPTIONS); 7: side, model families


def make_schema() -> Schema:
    mixed = MixedTokenizer()
    return Schema(
        # One document per case: every published language version of it together.
        key=ID(stored=True, unique=True),
        slugs=KEYWORD(stored=True, commas=True),  # "slug:lang" for each version
        langs=KEYWORD(commas=True),
        product=ID(stored=True),
        codes=KEYWORD(stored=True, commas=True, lowercase=True, scorable=True),
        models=KEYWORD(commas=True, lowercase=True, scorable=True),
        component_tags=KEYWORD(commas=True, lowercase=True),
        side=ID(),  # "indoor" or "outdoor": the unit the case is about (by its titles), or ""
        title=TEXT(analyzer=mixed, stored=True, phrase=False),
        head=TEXT(analyzer=mixed, phrase=False),  # symptoms and components: short, telling
        body=TEXT(analyzer=mixed, phrase=False),
        cjk=TEXT(analyzer=BigramTokenizer(), phrase=False),
        # Unstemmed English words of the short fields, for "did you mean" suggestions.
        spell=TEXT(analyzer=RegexTokenizer(r"[a-z]{3,}"), phrase=False),
    )


# Full builds of at least this many cases use several processes (where that is safe).
PARALLEL_FROM = 2000


def parallel_procs(expected_docs: int) -> int:
    """How many processes a full build may use: more than one only for a large build, on a
    machine with several cores, where fork() is available and the calling process has no
    other threads (a thread holding a lock at fork time would leave it held in the child)."""
    cpus = os.cpu_count() or 1
    if (expected_docs < PARALLEL_FROM or cpus < 2 or threading.active_count() > 1
            or "fork" not in multiprocessing.get_all_start_methods()):
        return 1
    return min(cpus, 4)


def _stop_writer(writer) -> None:
    """Abandon a writer after an error, ending any processes it started."""
    if writer is None:
        return
    for task in getattr(writer, "tasks", []):
        if task.is_alive():
            task.terminate()
        task.join(timeout=10)
    try:
        writer.cancel()
    except Exception:  # noqa: BLE001 - already failing; the folder is removed anyway
        pass


@dataclass
class IndexState:
    schema: int = 0
    dictionary: str = ""
    applied: int = 0  # last change-log id contained in the index

    @classmethod
    def read(cls, folder: Path) -> "IndexState":
        try:
            data = json.loads((folder / "state.json").read_text())
        except (OSError, ValueError):
            return cls()
        return cls(int(data.get("schema", 0)), str(data.get("dictionary", "")),
                   int(data.get("applied", 0)))

    def write(self, folder: Path) -> None:
        tmp = folder / f".state.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(self.__dict__))
        os.replace(tmp, folder / "state.json")


class IndexManager:
    """One per instance folder and process."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._opened: tuple[str, object] | None = None  # (folder name, whoosh Index)
        self._searcher = None

    # --- where the live index is ---------------------------------------------------------
    def current_folder(self) -> Path | None:
        try:
            name = (self.root / "current").read_text().strip()
        except OSError:
            return None
        folder = self.root / name
        return folder if name and whoosh_index.exists_in(str(folder)) else None

    def state(self) -> IndexState:
        folder = self.current_folder()
        return IndexState.read(folder) if folder else IndexState()

    def _index(self):
        folder = self.current_folder()
        if folder is None or IndexState.read(folder).schema != SCHEMA_VERSION:
            return None  # no index, or one this code cannot read (rebuild pending)
        if self._opened is None or self._opened[0] != folder.name:
            self._opened = (folder.name, whoosh_index.open_dir(str(folder)))
            self._searcher = None  # see searcher(): released by its last user
        return self._opened[1]

    @contextmanager
    def searcher(self):
        """A searcher on the live index, refreshed if another process changed it."""
        with self._lock:
            index = self._index()
            if index is None:
                yield None
                return
            if self._searcher is not None and not self._searcher.up_to_date():
                # Not Searcher.refresh(): whoosh3's reader reuse fails on some segment changes.
                # Not close() either: another thread may still be searching with it; it is
                # released when the last user drops it.
                self._searcher = None
            if self._searcher is None:
                self._searcher = index.searcher()
            searcher = self._searcher
        yield searcher

    # --- full builds ------------------------------------------------------------------
    @contextmanager
    def build_lock(self, wait: bool = True):
        """Only one process builds at a time; ``wait=False`` yields False if one already is."""
        with open(self.root / "build.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def build(self, documents: Iterable[dict], state: IndexState,
              progress: Callable[[int], None] | None = None, procs: int = 1) -> int:
        """Write a complete new index beside the live one, then make it live. Returns doc count.

        ``procs`` > 1 analyses and writes in that many forked processes (one segment each);
        see :func:`parallel_procs` for when that is safe."""
        folder = self.root / f"idx-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        writer = None
        try:
            index = whoosh_index.create_in(str(folder), make_schema())
            if procs > 1:
                # No merge of the processes' segments at the end: search reads several
                # segments as fast as one, and the merge would cost as much as the build.
                writer = index.writer(procs=procs, multisegment=True, start_method="fork",
                                      limitmb=128, **WRITER_OPTIONS)
            else:
                writer = index.writer(limitmb=128, **WRITER_OPTIONS)
            count = 0
            for doc in documents:
                writer.add_document(**doc)
                count += 1
                if progress:
                    progress(count)
            if procs > 1:
                writer.commit()
            else:
                writer.commit(optimize=True)
            writer = None
            state.write(folder)
        except BaseException:
            _stop_writer(writer)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        pointer = self.root / f".current.{uuid.uuid4().hex}"
        pointer.write_text(folder.name)
        os.replace(pointer, self.root / "current")  # the swap: atomic on POSIX
        self._remove_old(keep=folder.name)
        return count

    def _remove_old(self, keep: str) -> None:
        """Old index folders go once they are not live and a minute old (readers may finish)."""
        for path in self.root.glob("idx-*"):
            if path.name != keep and time.time() - path.stat().st_mtime > 60:
                shutil.rmtree(path, ignore_errors=True)

    # --- incremental updates -----------------------------------------------------------
    def apply(self, upserts: list[dict], deletes: list[str], applied: int, dictionary: str) -> bool:
        """``deletes`` are case keys."""
        index = self._index()
        if index is None:
            return False
        try:
            writer = index.writer(timeout=2.0, **WRITER_OPTIONS)
        except LockError:
            return False
        try:
            for key in deletes:
                writer.delete_by_term("key", key)
            for doc in upserts:
                writer.update_document(**doc)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        folder = self.current_folder()
        if folder is not None:
            IndexState(SCHEMA_VERSION, dictionary, applied).write(folder)
        return True

    def doc_count(self) -> int:
        index = self._index()
        return index.doc_count() if index is not None else 0
