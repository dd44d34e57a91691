"""Keeping each host's search index in step with the database.

The database is the source of truth. Every change to a case writes a row to
``kb_index_change`` in the same transaction; each host applies the rows it has
not seen yet (right after its own commits, and before answering a search at most
every ``KB_SYNC_SECONDS``), so a change made on one host reaches every other
host's results within seconds. A missing or stale index (other schema, other
segmenter dictionary, or a database the index does not match) is rebuilt.

Each host reports where its index is in the log (``kb_index_host``: the id kept in its instance
folder, the last change applied, when it said so), at most every ``KB_HOST_REPORT_SECONDS`` and
after every full build. ``flask daily`` deletes the rows every host reporting within
``KB_HOST_DAYS`` has applied (kb/retention.py), keeping the row the slowest of them stands at. A
host whose place is below the oldest row left but one (``applied < oldest − 1``: it was not
counted, and rows it never applied are gone) rebuilds its index instead of applying a gap.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from ..config import load_host_id
from ..dbtypes import utcnow
from ..extensions import db
from .models import Case, IndexChange, IndexHost, KbTerms
from .search.analysis import Synonyms, add_words, bigrams, case_side, model_index_terms, normalise, normalise_code
from .search.index import SCHEMA_VERSION, IndexManager, IndexState, parallel_procs

MD_NOISE = re.compile(r"(^#+\s*|[*_`>]|^\s*[-+]\s+|^\s*\d+\.\s+|!?\[([^\]]*)\]\([^)]*\))", re.M)


def plain_text(markdown_text: str) -> str:
    return MD_NOISE.sub(lambda m: m.group(2) or "", markdown_text or "")


def case_document(versions: list[Case]) -> dict:
    """The index document of one case: all its published language versions together."""
    first = versions[0]

    def joined(getter) -> str:
        return "\n".join(getter(c) for c in versions)

    symptoms = joined(lambda c: "\n".join(c.symptoms or []))
    components = joined(lambda c: "\n".join(c.components or []))
    titles = joined(lambda c: c.title)
    codes = {normalise_code(code) for c in versions for code in c.error_codes or []}
    models = {v for c in versions for m in c.models or [] for v in model_index_terms(m)}
    tags = {normalise(x).replace(",", " ") for c in versions for x in c.components or []}
    return {
        "key": first.key,
        "slugs": ",".join(f"{c.slug}:{c.lang}" for c in versions),
        "langs": ",".join(sorted({c.lang for c in versions})),
        "product": first.product,
        "codes": ",".join(sorted(codes)),
        "models": ",".join(sorted(models)),
        "component_tags": ",".join(sorted(tags)),
        "side": case_side([c.title for c in versions]),
        "title": titles,
        "head": symptoms + "\n" + components,
        "body": joined(lambda c: (c.series or "") + "\n" + plain_text(c.body)),
        "cjk": " ".join(bigrams(titles + " " + symptoms)),
        "spell": normalise(" ".join([titles, symptoms, components])),
    }


class Terms:
    """Synonyms, keyboard slips and the segmenter dictionary, as loaded from
    content/kb/synonyms.yaml."""

    def __init__(self, groups: list, dictionary: list, content_hash: str, variants: dict | None = None):
        self.synonyms = Synonyms(groups, variants or {})
        words = sorted(set(dictionary) | {w for w in self.synonyms.words() if not w.isascii()})
        self.words = words
        self.hash = hashlib.sha256("\n".join(words).encode()).hexdigest()[:16]
        self.content_hash = content_hash
        add_words(words)


_terms_cache: dict[str, Terms] = {}


def current_terms() -> Terms:
    """The latest synonyms and dictionary; only their hash is read unless they changed."""
    latest = select(KbTerms.id, KbTerms.content_hash).order_by(KbTerms.id.desc()).limit(1)
    try:
        found = db.session.execute(latest).first()
    except (OperationalError, ProgrammingError):
        db.session.rollback()
        found = None
    content_hash = found.content_hash if found else ""
    if content_hash not in _terms_cache:
        row = db.session.get(KbTerms, found.id) if found else None
        _terms_cache[content_hash] = Terms(row.groups if row else [],
                                           row.dictionary if row else [], content_hash,
                                           (row.variants or {}) if row else {})
    return _terms_cache[content_hash]


def manager() -> IndexManager:
    managers = current_app.extensions.setdefault("kb_index", {})
    root = str(Path(current_app.instance_path) / "search")
    if root not in managers:
        managers[root] = IndexManager(root)
    return managers[root]


def record_change(key: str) -> None:
    """Call inside the transaction that changes a case (with the case's key)."""
    db.session.add(IndexChange(key=key))


def _latest_change() -> int:
    return db.session.scalar(select(func.max(IndexChange.id))) or 0


def _log_bounds() -> tuple[int, int]:
    """(oldest, latest) change-log ids; (0, 0) when the log is empty."""
    oldest, latest = db.session.execute(select(func.min(IndexChange.id), func.max(IndexChange.id))).one()
    return oldest or 0, latest or 0


def _behind(applied: int, oldest: int) -> bool:
    """Rows after ``applied`` were pruned: applying what is left would leave a gap."""
    return applied < oldest - 1


# --- this host's place in the log ---------------------------------------------------------------


def this_host() -> tuple[str, str]:
    """(the host id kept in the instance folder, a name for people: machine and folder)."""
    hosts = current_app.extensions.setdefault("kb_host", {})
    if current_app.instance_path not in hosts:
        hosts[current_app.instance_path] = (load_host_id(current_app.instance_path),
                                            f"{socket.gethostname()}:{current_app.instance_path}"[:300])
    return hosts[current_app.instance_path]


def report_position(force: bool = False) -> bool:
    """Write this host's place in the change log (the index's last applied change) and the time
    to ``kb_index_host``, at most every ``KB_HOST_REPORT_SECONDS`` unless ``force``. On a
    connection of its own, so the caller's transaction is never committed by it; a failure is
    logged and the next report tries again. True if written."""
    mgr = manager()
    reports = current_app.extensions.setdefault("kb_host_report", {})
    now = time.monotonic()
    last = reports.get(mgr.root)
    if not force and last is not None and now - last < current_app.config["KB_HOST_REPORT_SECONDS"]:
        return False
    if mgr.current_folder() is None:
        return False
    reports[mgr.root] = now
    host, name = this_host()
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(IndexHost).values(host=host, name=name, applied=mgr.state().applied,
                                              seen_at=utcnow())
    upsert = insert.on_conflict_do_update(index_elements=["host"], set_={
        "name": insert.excluded.name, "applied": insert.excluded.applied, "seen_at": insert.excluded.seen_at})
    try:
        with db.engine.begin() as conn:
            conn.execute(upsert)
    except SQLAlchemyError as exc:  # e.g. the table is not there yet: searching goes on
        current_app.logger.warning("search index: could not report this host's place in the change log: %s",
                                   str(exc).splitlines()[0])
        return False
    return True


def _published_documents():
    query = select(Case).where(Case.status == "published").order_by(Case.key, Case.lang)
    versions: list[Case] = []
    for case in db.session.scalars(query.execution_options(yield_per=1000)):
        if versions and case.key != versions[0].key:
            yield case_document(versions)
            versions = []
        versions.append(case)
    if versions:
        yield case_document(versions)


def rebuild(progress=None, wait: bool = True) -> int | None:
    """Build a complete new index from the database and swap it in. None if a build is running."""
    mgr = manager()
    terms = current_terms()
    with mgr.build_lock(wait=wait) as got:
        if not got:
            return None
        applied = _latest_change()  # changes after this are applied on top by sync()
        procs = parallel_procs(published_count())
        count = mgr.build(_published_documents(), IndexState(SCHEMA_VERSION, terms.hash, applied),
                          progress=progress, procs=procs)
    current_app.extensions.setdefault("kb_sync", {})[mgr.root] = 0.0
    report_position(force=True)
    return count


def published_count() -> int:
    """Published cases, counting a case and its translations once (one index document each)."""
    return db.session.scalar(
        select(func.count(func.distinct(Case.key))).where(Case.status == "published")) or 0


def is_stale() -> str | None:
    """Why the index must be rebuilt, or None if it only needs the latest changes."""
    mgr = manager()
    state = mgr.state()
    if mgr.current_folder() is None:
        return "missing"
    if state.schema != SCHEMA_VERSION:
        return "schema"
    if state.dictionary != current_terms().hash:
        return "dictionary"
    oldest, latest = _log_bounds()
    if state.applied > latest:
        return "database"  # the index is ahead of this database: another database
    if _behind(state.applied, oldest):
        return "behind"  # the log was pruned past this index (the host was away)
    if state.applied == latest and mgr.doc_count() != published_count():
        return "count"
    return None


def ensure_index(wait: bool = True) -> str | None:
    """At start-up: rebuild a missing or stale index, else catch up. Returns the rebuild reason."""
    try:
        reason = is_stale()
    except (OperationalError, ProgrammingError):  # no tables yet: nothing to index
        db.session.rollback()
        return None
    if reason:
        rebuild(wait=wait)
    else:
        sync(force=True)
    return reason


def sync(force: bool = False) -> int:
    """Apply change-log rows this host has not applied yet. Returns how many cases changed."""
    mgr = manager()
    last_checks = current_app.extensions.setdefault("kb_sync", {})
    now = time.monotonic()
    if not force and now - last_checks.get(mgr.root, 0.0) < current_app.config["KB_SYNC_SECONDS"]:
        return 0
    last_checks[mgr.root] = now
    state = mgr.state()
    if mgr.current_folder() is None:
        return 0
    oldest, latest = _log_bounds()
    if latest <= state.applied:
        report_position()
        return 0
    if _behind(state.applied, oldest):  # rows it never applied were pruned: a gap
        try:
            rebuild_soon("behind")
        except Exception:  # searching goes on from the old index; the next check tries again
            db.session.rollback()
            current_app.logger.exception("search index rebuild (behind the change log) failed")
        return 0
    keys = set(db.session.scalars(
        select(IndexChange.key).where(IndexChange.id > state.applied, IndexChange.id <= latest)))
    grouped: dict[str, list[Case]] = {}
    for case in db.session.scalars(select(Case).where(
            Case.key.in_(keys), Case.status == "published").order_by(Case.key, Case.lang)):
        grouped.setdefault(case.key, []).append(case)
    upserts = [case_document(versions) for versions in grouped.values()]
    deletes = [k for k in keys if k not in grouped]
    terms = current_terms()
    if not mgr.apply(upserts, deletes, latest, terms.hash):
        last_checks[mgr.root] = 0.0  # another process is writing; try again next time
        return 0
    report_position()
    return len(keys)


def check_once_per_process() -> None:
    """before_request: the first request a process serves checks the index (start-up check).

    A small index is built at once; a stale or missing large one is rebuilt in a
    background thread (only one process builds; the others wait for it), while searches
    answer from the old index when it is still readable, or say the index is being rebuilt.
    """
    state = current_app.extensions.setdefault("kb_startup", {"checked": False})
    if state["checked"]:
        return
    state["checked"] = True
    try:
        reason = is_stale()
        if reason is None:
            report_position(force=True)
            return
        rebuild_soon(reason)
    except (OperationalError, ProgrammingError):  # no tables yet, or no database: not our job
        db.session.rollback()
        state["checked"] = False  # try again once the database answers
        return
    except Exception:  # searching degrades; pages must still be served
        db.session.rollback()
        current_app.logger.exception("search index check at start-up failed")
        return


def rebuild_soon(reason: str) -> None:
    """Rebuild now when the index is small (``KB_INLINE_REBUILD_LIMIT``), else in a background
    thread, one at a time per process; searches answer from the old index meanwhile."""
    if published_count() <= current_app.config["KB_INLINE_REBUILD_LIMIT"]:
        rebuild(wait=False)  # None when another process is building: its index is swapped in
        return
    pending = current_app.extensions.setdefault("kb_rebuilding", set())
    root = manager().root
    if root in pending:
        return
    pending.add(root)
    app = current_app._get_current_object()

    def build_in_background():
        with app.app_context():
            try:
                current_app.logger.warning("search index %s: rebuilding in the background", reason)
                rebuild(wait=True)
            except Exception:
                current_app.logger.exception("background search index rebuild failed")
            finally:
                pending.discard(root)

    threading.Thread(target=build_in_background, name="kb-reindex", daemon=True).start()


def rebuilding() -> bool:
    """True while no readable index is live (a rebuild is pending or running)."""
    return manager().current_folder() is None or manager().state().schema != SCHEMA_VERSION
