"""The array view of the Whoosh index that search scores with (portal/kb/search/postings.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from portal.content.cli import load_content
from portal.extensions import db
from portal.kb import indexing
from portal.kb.models import Case
from portal.kb.search.postings import IndexArrays, _leaf_matcher, read_postings_fast, read_postings_slow
from portal.kb.services import after_commit, set_status, update_case

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shipped(app):
    report = load_content(ROOT / "content", echo=lambda _line: None)
    assert not report.problems
    return report


def _all_terms(searcher, field, limit=400):
    return [t.decode() if isinstance(t, bytes) else t for t in list(searcher.lexicon(field))[:limit]]


def test_block_reader_agrees_with_whooshs_own_matcher(shipped):
    """The fast reader decodes whoosh3's block format itself; if Whoosh changes it, this fails."""
    with indexing.manager().searcher() as searcher:
        checked = 0
        for leaf, _offset in searcher.reader().leaf_readers():
            for field in ("title", "head", "body", "codes", "product", "cjk"):
                for word in _all_terms(searcher, field):
                    fast = read_postings_fast(_leaf_matcher(leaf, field, word))
                    slow = read_postings_slow(_leaf_matcher(leaf, field, word))
                    assert np.array_equal(fast[0], slow[0]), (field, word)
                    assert np.allclose(fast[1], slow[1]), (field, word)
                    checked += 1
        assert checked > 1000
        # Long posting lists span several blocks: the common words were among those checked.
        assert max(searcher.doc_frequency("body", w) for w in _all_terms(searcher, "body")) > 128


def test_postings_skip_deleted_documents_across_segments(shipped, users):
    """An edit writes a new segment and deletes the old document: arrays see one live copy."""
    with indexing.manager().searcher() as searcher:
        before = IndexArrays(searcher)
        ids, _scores = before.scored("codes", "h6")
        assert ids.size >= 1 and before.doc_count == searcher.doc_count()
    case = db.session.scalar(db.select(Case).where(Case.slug == "ac-code-gree-h6-indoor-fan-feedback-en"))
    update_case(case, {**case.snapshot(), "title": case.title + " (checked)"}, author=users["trainer"], note="test")
    db.session.commit()
    after_commit()
    with indexing.manager().searcher() as searcher:
        arrays = IndexArrays(searcher)
        assert len(arrays.leaves) >= 2 or arrays.size > arrays.doc_count  # a deletion exists
        ids, scores = arrays.scored("codes", "h6")
        keys = [searcher.stored_fields(int(d))["key"] for d in ids]
        assert keys.count("ac-code-gree-h6-indoor-fan-feedback") == 1
        assert (scores > 0).all() and arrays.live[ids].all()
        assert arrays.doc_count == searcher.doc_count()
    for version in db.session.scalars(db.select(Case).where(Case.key == case.key)):
        set_status(version, "archived", users["trainer"], "test")
    db.session.commit()
    after_commit()
    with indexing.manager().searcher() as searcher:
        arrays = IndexArrays(searcher)
        keys = [searcher.stored_fields(int(d))["key"] for d in arrays.scored("codes", "h6")[0]]
        assert "ac-code-gree-h6-indoor-fan-feedback" not in keys


def test_scores_are_bm25_from_whooshs_own_statistics(shipped):
    with indexing.manager().searcher() as searcher:
        arrays = IndexArrays(searcher)
        lengths, mean = arrays.lengths("title")
        assert lengths.shape == (arrays.size,) and mean > 0 and (lengths[arrays.live] > 0).all()
        reader = searcher.reader()
        ids, scores = arrays.scored("body", "压缩机")
        assert ids.size == searcher.doc_frequency("body", "压缩机") > 10
        body_mean = arrays.lengths("body")[1]
        idf = math.log(arrays.doc_count / (ids.size + 1)) + 1
        matcher = reader.postings("body", "压缩机")
        for docnum, score in list(zip(ids, scores))[:20]:
            matcher.skip_to(int(docnum))
            tf, length = matcher.weight(), reader.doc_field_length(int(docnum), "body")
            expected = idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / body_mean))
            assert score == pytest.approx(expected, rel=1e-4)
        assert arrays.scored("codes", "h6")[1].max() > 0


def test_the_posting_cache_stays_within_its_budget(shipped):
    with indexing.manager().searcher() as searcher:
        arrays = IndexArrays(searcher, cache_bytes=20_000)
        for word in _all_terms(searcher, "body", limit=300):
            arrays.scored("body", word)
        assert arrays._cache_bytes <= 20_000 or len(arrays._cache) == 1
        assert 0 < len(arrays._cache) < 300


def test_segments_are_separate_files_read_through_the_page_cache(shipped, users):
    """Whoosh copies a compound segment file into the process's own memory when it opens it;
    the portal writes plain segment files, on full builds and on incremental updates."""
    mgr = indexing.manager()
    folder = mgr.current_folder()
    assert list(folder.glob("*.pst")) and not list(folder.glob("*.seg"))
    case = db.session.scalar(db.select(Case).where(Case.slug == "ac-code-gree-h6-indoor-fan-feedback-en"))
    update_case(case, {**case.snapshot(), "title": case.title + " (again)"}, author=users["trainer"])
    db.session.commit()
    after_commit()
    assert len(list(folder.glob("*.pst"))) >= 1 and not list(mgr.current_folder().glob("*.seg"))


def _search_keys(queries):
    from portal.kb.search_service import search_cases

    return {q: [r.case.key for r in search_cases(q, lang="zh", log=False).results] for q in queries}


QUERIES = ["E1", "h6", "空调不制冷", "outdoor fan not spinning", "冰箱不制冷", "XQG E21", "compresor noise"]


def test_a_parallel_build_finds_what_a_single_process_build_finds(shipped):
    """Large builds run in forked processes, one segment each; the results must not change."""
    single = _search_keys(QUERIES)
    mgr = indexing.manager()
    state = mgr.state()
    count = mgr.build(indexing._published_documents(), state, procs=2)
    assert count == indexing.published_count()
    with mgr.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) == 2  # one segment per process
    after = _search_keys(QUERIES)
    for q in QUERIES:
        assert after[q] == single[q], (q, after[q], single[q])


def test_a_crash_in_a_parallel_build_leaves_the_old_index_and_no_processes(shipped):
    import multiprocessing

    mgr = indexing.manager()
    live = mgr.current_folder()

    def documents():
        for n, doc in enumerate(indexing._published_documents()):
            if n == 120:
                raise RuntimeError("database went away")
            yield doc

    with pytest.raises(RuntimeError):
        mgr.build(documents(), mgr.state(), procs=2)
    assert mgr.current_folder() == live
    assert sorted(p.name for p in mgr.root.glob("idx-*")) == [live.name]
    assert multiprocessing.active_children() == []


def test_builds_use_several_processes_only_when_large_and_safe(monkeypatch):
    import threading

    from portal.kb.search import index as index_module

    monkeypatch.setattr(index_module.os, "cpu_count", lambda: 2)
    assert index_module.parallel_procs(100) == 1  # small: not worth starting processes
    if threading.active_count() == 1:
        assert index_module.parallel_procs(10_000) == 2
    monkeypatch.setattr(index_module.threading, "active_count", lambda: 3)
    assert index_module.parallel_procs(10_000) == 1  # other threads: fork() is not safe
    monkeypatch.setattr(index_module.threading, "active_count", lambda: 1)
    monkeypatch.setattr(index_module.os, "cpu_count", lambda: 1)
    assert index_module.parallel_procs(10_000) == 1
