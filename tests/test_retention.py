"""Retention (`flask daily`): the search index change log is pruned once every host applied it
and a host left behind rebuilds; old search-log rows go while the gap figures stay; photos of
rejected contributions and abandoned audit drafts go, rows and files, and nothing else does."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.audits import services as audits
from portal.audits.loader import load_templates
from portal.audits.models import Audit, AuditPhoto, AuditTemplate
from portal.config import build_config
from portal.dbtypes import utcnow
from portal.extensions import db
from portal.kb import contributions, gaps, indexing
from portal.kb.models import Contribution, IndexChange, IndexHost, Photo, SearchLog
from portal.kb.photos import photo_path
from portal.kb.retention import prune_change_log, prune_search_log, search_log_cutoff
from portal.kb.search_service import search_cases
from portal.kb.services import after_commit, create_case

from .conftest import make_app, png_bytes
from .test_kb_gaps import _kept_rows, _random_history

LATER = timedelta(days=2)  # past the change log's one-day grace, well inside KB_HOST_DAYS


def _host(tmp_path, name, uri):
    return make_app(tmp_path / name, uri, KB_SYNC_SECONDS=0, KB_HOST_REPORT_SECONDS=0)


def _add_case(host, key, title):
    with host.app_context():
        create_case({"title": title, "lang": "en", "key": key, "product": "air-conditioner",
                     "body": "## Symptoms\nA noise.\n"})
        db.session.commit()
        after_commit()
        db.session.remove()


def _found(host, word):
    with host.app_context():
        total = search_cases(word, lang="en", log=False).total
        db.session.remove()
        return total


def _log_ids():
    db.session.remove()
    return list(db.session.scalars(select(IndexChange.id).order_by(IndexChange.id)))


def _place(host_id):
    """Where the host said its index is in the change log."""
    db.session.remove()
    return db.session.scalar(select(IndexHost.applied).where(IndexHost.host == host_id))


def test_the_change_log_is_pruned_once_every_host_applied_it_and_a_host_left_behind_rebuilds(app, tmp_path):
    """Two app instances (separate instance folders, real Whoosh indexes) share one database."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    host_a, host_b = _host(tmp_path, "host-a", uri), _host(tmp_path, "host-b", uri)
    for host in (host_a, host_b):
        with host.app_context():
            assert indexing.ensure_index() == "missing"  # built, and its place reported
    b_id = (tmp_path / "host-b" / "instance" / "host_id").read_text().strip()
    _add_case(host_a, "hum", "Hummingbird noise from the fan")
    _add_case(host_a, "owl", "Owl hoot from the outdoor unit")
    first, second = _log_ids()
    # B has applied nothing yet: it holds the whole log back.
    assert prune_change_log(utcnow() + LATER).removed == 0
    with host_b.app_context():
        folder = indexing.manager().current_folder()
    assert _found(host_b, "hummingbird") == 1  # applied from the log
    assert _place(b_id) == second
    assert prune_change_log(utcnow() + LATER).removed == 1  # both hosts are at the second row: it stays
    assert _log_ids() == [second]
    # B goes away for longer than KB_HOST_DAYS; A carries on.
    db.session.execute(update(IndexHost).where(IndexHost.host == b_id).values(seen_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    _add_case(host_a, "wren", "Wren chirp in the indoor unit")
    _add_case(host_a, "lark", "Lark song from the compressor")
    report = prune_change_log(utcnow() + LATER)
    assert (report.removed, report.forgotten, report.hosts) == (2, 1, 1)
    assert len(_log_ids()) == 1 and _log_ids()[0] > second + 1  # only the last row: B's place is gone
    # B returns: the wren's row is gone, so applying what is left would miss it; B rebuilds.
    with host_b.app_context():
        assert indexing.is_stale() == "behind"
        db.session.remove()
    assert _found(host_b, "wren") == 1 and _found(host_b, "lark") == 1 and _found(host_b, "owl") == 1
    with host_b.app_context():
        assert indexing.manager().current_folder() != folder
    assert _place(b_id) == _log_ids()[0]
    with host_b.app_context():  # the command runs in the current app context
        status = host_b.test_cli_runner().invoke(args=["search", "status"]).output
        db.session.remove()
    assert "stale: no" in status
    assert len([line for line in status.splitlines() if line.startswith("host ")]) == 2
    _add_case(host_a, "crow", "Crow caw from the drain pump")  # the ids go on after the last row kept
    assert _log_ids()[-1] > _log_ids()[0] and _found(host_b, "crow") == 1
    for host in (host_a, host_b):
        with host.app_context():
            db.engine.dispose()


def test_pruning_the_search_log_keeps_the_gap_figures(app, users):
    _random_history(random.Random(21), users, steps=200)  # searches from today to 200 days back
    reports = {days: [tuple(r) for r in gaps.rows(days, None)] for days in (1, 7, 30, 90, 365)}
    figure, kept = gaps.figure(), _kept_rows()
    cutoff = search_log_cutoff()  # midnight UTC, 90 days back
    old = db.session.scalar(select(func.count()).where(SearchLog.created_at < cutoff))
    recent = db.session.scalar(select(func.count()).where(SearchLog.created_at >= cutoff))
    assert old > 0 and recent > 0
    app.config["RETENTION_BATCH"] = 7
    assert prune_search_log() == old
    assert db.session.scalar(select(func.count()).select_from(SearchLog)) == recent
    assert {days: [tuple(r) for r in gaps.rows(days, None)] for days in reports} == reports
    assert gaps.figure() == figure and _kept_rows() == kept
    gaps.rebuild()  # recounts the days the log still holds; the days before keep their counts
    db.session.commit()
    assert _kept_rows() == kept
    assert prune_search_log() == 0


FORM = """
slug: retention-visit
title: {zh: 保留测试, en: Retention visit}
grades:
  - {code: pass, min: 60, title: {zh: 合格, en: Pass}}
  - {code: fail, min: 0, title: {zh: 不合格, en: Fail}}
sections:
  - id: visit
    title: {zh: 上门, en: Visit}
    items:
      - {id: on-time, type: yesno, weight: 1, text: {zh: 准时到达？, en: "Arrived on time?"}}
      - {id: pictures, type: photo, weight: 0, text: {zh: 照片, en: Photos}}
"""

CASE = {"title": "热水器点不着火", "lang": "zh", "product": "water-heater", "error_codes": ["E1"],
        "body": "## 故障现象\n打不着火。\n"}


@pytest.fixture
def form(app, tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "retention-visit.yaml").write_text(FORM, encoding="utf-8")
    assert not load_templates(tmp_path / "forms").problems
    return db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == "retention-visit"))


def _contribution(users, photos, outcome=None, days_ago=0):
    contribution = contributions.submit_new(users["technician"], dict(CASE), "", [png_bytes()] * photos)
    if outcome == "rejected":
        contributions.reject(contribution, users["trainer"], "duplicate")
    elif outcome == "approved":
        contributions.approve(contribution, users["trainer"])
    contribution.reviewed_at = utcnow() - timedelta(days=days_ago) if outcome else None
    db.session.commit()
    return contribution


def _draft(users, form, n, photos=0, idle_days=0, photo_days=None, submit=False):
    now = utcnow()
    audit = audits.start(users["auditor"], users["technician"], form, now - timedelta(days=2), f"WO-R{n}",
                         "air-conditioner", "广州", now)
    audits.save_answer(audit, "on-time", "yes")
    for _ in range(photos):
        audits.add_photo(audit, "pictures", png_bytes())
    if submit:
        audits.submit(audit, now)
    db.session.execute(update(Audit).where(Audit.id == audit.id).values(updated_at=now - timedelta(days=idle_days)))
    db.session.execute(update(AuditPhoto).where(AuditPhoto.audit_id == audit.id)
                       .values(created_at=now - timedelta(days=idle_days if photo_days is None else photo_days)))
    db.session.commit()
    return audit.id


def _files(folder):
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def test_daily_removes_old_rejected_photos_and_abandoned_drafts_and_nothing_else(app, runner, users, form, monkeypatch):
    app.config["RETENTION_BATCH"] = 2  # several batches, each committed on its own
    old_rejected = _contribution(users, 3, "rejected", days_ago=31)
    photo_path(old_rejected.photos[0]).unlink()  # already missing: not an error
    recent_rejected = _contribution(users, 1, "rejected", days_ago=29)
    approved = _contribution(users, 2, "approved", days_ago=60)
    pending = _contribution(users, 1)
    keep_kb = {p.name for c in (recent_rejected, approved, pending) for p in c.photos}
    old_id = old_rejected.id
    abandoned = [_draft(users, form, n, photos=n % 2, idle_days=31) for n in range(3)]
    kept = [_draft(users, form, 10, photos=1, idle_days=29),  # a draft touched lately
            _draft(users, form, 11, photos=1, idle_days=40, photo_days=3),  # a photo added lately
            _draft(users, form, 12, photos=2, idle_days=400, submit=True)]  # a submitted report: never
    keep_audit = set(db.session.scalars(select(AuditPhoto.name).where(AuditPhoto.audit_id.in_(kept))))
    audit_folder = audits.photo_folder()
    kb_folder = photo_path(pending.photos[0]).parent
    db.session.remove()

    result = runner.invoke(args=["daily"])
    assert result.exit_code == 0, result.output
    assert "contributions rejected over 30 days ago: 3 photos removed (files deleted: 2)" in result.output
    assert "audit drafts untouched for 30 days: 3 drafts removed (photo files deleted: 1)" in result.output
    assert "search log: 0 searches older than 90 days removed" in result.output
    assert "search index change log: " in result.output
    assert set(db.session.scalars(select(Photo.name))) == keep_kb == set(_files(kb_folder))
    assert db.session.get(Contribution, old_id).status == "rejected"  # the contribution stays
    assert set(db.session.scalars(select(Audit.id))) == set(kept) and not set(abandoned) & set(kept)
    assert set(db.session.scalars(select(AuditPhoto.name))) == keep_audit == set(_files(audit_folder))
    again = runner.invoke(args=["daily"])
    assert "0 photos removed" in again.output and "0 drafts removed" in again.output

    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert "天未改动的暗访报告草稿：已删除 0 份" in runner.invoke(args=["daily"]).output


def test_retention_periods_are_whole_days_of_at_least_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_SEARCH_LOG_DAYS", "30")
    assert build_config(str(tmp_path))["SEARCH_LOG_DAYS"] == 30
    for name, value in (("PORTAL_SEARCH_LOG_DAYS", "0"), ("PORTAL_AUDIT_DRAFT_DAYS", "-5"),
                        ("PORTAL_REJECTED_PHOTO_DAYS", "ninety"), ("PORTAL_KB_HOST_DAYS", "0")):
        monkeypatch.setenv(name, value)
        with pytest.raises(RuntimeError, match=name):
            build_config(str(tmp_path))
        monkeypatch.delenv(name)
