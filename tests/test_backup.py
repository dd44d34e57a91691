"""`flask backup DIR` and `flask restore DIR`: a portal restored into an empty instance shows the
same pages, finds the same cases and serves the same photos; SQLite is copied with the online
backup API while another connection writes; damaged or foreign backups and non-empty targets are
refused in one line, and a restore that fails leaves nothing behind."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from portal.assessment import attempts
from portal.assessment.bank import load_banks, load_quizzes
from portal.assessment.services import quiz_by_slug
from portal.audits import services as audits
from portal.audits.loader import load_templates
from portal.audits.models import AuditTemplate
from portal.backup import archive
from portal.backup.cli import revision_decision
from portal.extensions import db
from portal.kb import contributions
from portal.kb import photos as kb_photos

from .conftest import login, make_app, png_bytes

NOW = datetime.now(timezone.utc).replace(microsecond=0)

TEMPLATE = {
    "slug": "backup-visit", "title": {"zh": "备份暗访表", "en": "Backup visit form"},
    "grades": [{"code": "good", "min": 75, "title": {"zh": "良好", "en": "Good"}},
               {"code": "fail", "min": 0, "title": {"zh": "不合格", "en": "Fail"}}],
    "sections": [{"id": "visit", "title": {"zh": "上门", "en": "Visit"}, "items": [
        {"id": "on-time", "type": "yesno", "weight": 3, "text": {"zh": "准时到达？", "en": "Arrived on time?"}},
        {"id": "fixed", "type": "yesno", "weight": 3, "evidence": "photo",
         "text": {"zh": "一次修好？", "en": "Fixed first time?"}}]}],
}
QUESTIONS = [{"id": f"tf-{n}", "type": "truefalse", "difficulty": 2, "answer": n % 2 == 0,
              "text": {"zh": f"判断题 {n}", "en": f"True or false {n}"}} for n in range(3)]
QUIZ = {"title": {"zh": "备份测验", "en": "Backup quiz"}, "pass_mark": 60, "review": "explanations",
        "sections": [{"draw": 3, "categories": ["backup/all"]}]}


def stamp_head() -> None:
    """The schema create_all made is the migrations' head: say so, as `db upgrade` would have."""
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    with db.engine.begin() as conn:
        MigrationContext.configure(conn).stamp(script, "heads")


def fill_portal(users, tmp_path) -> dict:
    """A case published from a contribution with a photo, a filed audit with a photo as evidence,
    a graded quiz attempt."""
    with current_app.test_request_context():
        contribution = contributions.submit_new(
            users["technician"], {"title": "热水器点不着火", "lang": "zh", "product": "water-heater",
                                  "error_codes": ["E1"], "body": "## 故障现象\n打不着火。\n"},
            "在客户家遇到", [png_bytes()])
        case = contributions.approve(contribution, users["trainer"])
        folder = tmp_path / "forms"
        folder.mkdir()
        (folder / "backup-visit.yaml").write_text(yaml.safe_dump(TEMPLATE, allow_unicode=True), encoding="utf-8")
        assert not load_templates(folder).problems
        template = db.session.scalar(db.select(AuditTemplate).where(AuditTemplate.slug == "backup-visit"))
        audit = audits.start(users["auditor"], users["technician"], template, NOW - timedelta(days=1), "WO-1",
                             "air-conditioner", "广州", NOW)
        audits.save_answer(audit, "on-time", "yes")
        audits.save_answer(audit, "fixed", "yes")
        evidence = audits.add_photo(audit, "fixed", png_bytes(color=(10, 200, 10)))
        audits.submit(audit, NOW)
        bank = tmp_path / "quizzes"
        (bank / "backup" / "all").mkdir(parents=True)
        (bank / "backup" / "all" / "bank.yaml").write_text(yaml.safe_dump({"questions": QUESTIONS}), encoding="utf-8")
        (bank / "backup-quiz.quiz.yaml").write_text(yaml.safe_dump(QUIZ, allow_unicode=True), encoding="utf-8")
        for report in (load_banks(bank), load_quizzes(bank)):
            assert not report.problems, [str(p) for p in report.problems]
        attempt = attempts.take(users["technician"], quiz_by_slug("backup-quiz"), NOW, seed=1)
    assert attempt.passed
    return {"case": case.slug, "photo": contribution.photos[0].name, "audit": audit.id,
            "evidence": evidence.name, "attempt": attempt.id}


# What differs between two sign-ins a second apart: CSRF tokens, and the moment of this sign-in.
VARYING = re.compile(r'(name="csrf_token" (?:type="hidden" )?value=|nonce=)"[^"]*"|(<dt>Signed in</dt><dd>)[^<]*')


def pages(application, ids: dict) -> dict[str, tuple[int, bytes]]:
    """What a trainer and the technician see of that data: status and body (minus CSRF tokens)."""
    seen = {}
    for who, paths in (("trainer", [f"/cases/{ids['case']}", "/cases?q=热水器", "/cases?q=E1",
                                     f"/cases/photos/{ids['photo']}", f"/audits/{ids['audit']}",
                                     f"/audits/photos/{ids['evidence']}", "/technicians/tech",
                                     "/quizzes/backup-quiz/report"]),
                       ("tech", [f"/quizzes/attempts/{ids['attempt']}/result", "/technician"])):
        client = application.test_client()
        assert login(client, who).status_code == 302
        for path in paths:
            response = client.get(path, headers={"Accept-Language": "en"})
            body = response.get_data()
            if response.mimetype == "text/html":
                body = VARYING.sub(lambda m: m.group(1) or m.group(2), body.decode())
            seen[f"{who} {path}"] = (response.status_code, body)
    return seen


def invoke(application, *args):
    """The command on ``application`` (with_appcontext would use an app context already pushed)."""
    with application.app_context():
        return application.test_cli_runner().invoke(args=list(args))


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith("error: ")
    return result.stderr


@pytest.fixture
def stamped(app, backend):
    stamp_head()
    yield
    if backend == "postgresql":  # the session's shared database: leave it as the other tests expect
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_backup_and_restore_bring_back_the_same_portal(app, backend, stamped, kb_cases, users, tmp_path, request,
                                                       monkeypatch):
    ids = fill_portal(users, tmp_path)
    folder = tmp_path / "backups" / "first"
    if backend == "postgresql":  # without pg_dump: one line, and no folder left behind
        with monkeypatch.context() as without:
            without.setenv("PATH", str(tmp_path / "nothing-here"))
            assert "pg_dump is not on PATH" in one_line_error(invoke(app, "backup", str(folder)))
        assert not folder.exists()
    done = invoke(app, "backup", str(folder))
    assert done.exit_code == 0, done.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"] == backend and manifest["format"] == 1
    assert manifest["alembic_revision"] == MigrationContext.configure(db.session.connection()).get_current_revision()
    assert set(manifest["files"]) == {archive.DATABASE_FILES[backend], f"uploads/photos/{ids['photo']}",
                                      f"uploads/audit-photos/{ids['evidence']}"}
    assert not (folder / "search").exists() and not (folder / "secret_key").exists()
    assert folder.stat().st_mode & 0o077 == 0  # a new backup folder is its owner's only
    before = pages(app, ids)  # after the backup: both portals start from the same rows
    assert all(status == 200 for status, _body in before.values()), {k: s for k, (s, _b) in before.items()}
    assert 'href="/cases/%s' % ids["case"] in before["trainer /cases?q=热水器"][1]  # found by search
    assert ids["evidence"] in before[f"trainer /audits/{ids['audit']}"][1]

    if backend == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "restored.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    restored = make_app(tmp_path / "restored", uri, SECRET_KEY="another-secret")
    if backend == "postgresql":  # a dump cut short: pg_restore fails half-way, and nothing stays
        cut = tmp_path / "backups" / "cut"
        shutil.copytree(folder, cut)
        dump = cut / "database.pgdump"
        dump.write_bytes(dump.read_bytes()[:-20])  # the end of the last table's data
        assert subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True).returncode == 0  # TOC whole
        cut_manifest = {**manifest, "files": {**manifest["files"], "database.pgdump": {
            "bytes": dump.stat().st_size, "sha256": archive.sha256_of(dump)}}}
        (cut / "manifest.json").write_text(json.dumps(cut_manifest))
        assert "pg_restore failed" in one_line_error(invoke(restored, "restore", str(cut)))
        with restored.app_context():
            assert inspect(db.engine).get_table_names() == []
        assert not archive.has_files(Path(restored.instance_path) / "uploads")
    result = invoke(restored, "restore", str(folder))
    assert result.exit_code == 0, result.output
    assert "search index rebuilt: 4 cases" in result.output  # the sample cases and the contributed one
    after = pages(restored, ids)
    assert after == before
    instance = Path(restored.instance_path)
    assert (instance / "uploads" / "photos" / ids["photo"]).read_bytes() == \
        (Path(app.instance_path) / "uploads" / "photos" / ids["photo"]).read_bytes()
    assert not list(instance.glob(".restore-*"))

    again = invoke(restored, "restore", str(folder))  # a second time: the database is no longer empty
    assert "restore needs an empty database" in one_line_error(again)
    with restored.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_damaged_backups_and_full_targets_are_refused_and_nothing_is_left_half_restored(app, stamped, users,
                                                                                        tmp_path):
    with current_app.test_request_context():
        kb_photos.save_photo(png_bytes(), users["technician"])
        db.session.commit()
    assert kb_photos.photo_folder().parent == Path(app.instance_path) / archive.UPLOADS
    with current_app.test_request_context():
        assert audits.photo_folder().parent == Path(app.instance_path) / archive.UPLOADS

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    assert "is not an empty folder" in one_line_error(invoke(app, "backup", str(occupied)))
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    inside = Path(app.instance_path) / "uploads" / "backup"
    assert "is inside the uploads it would copy" in one_line_error(invoke(app, "backup", str(inside)))
    assert not inside.exists()
    good = tmp_path / "good"
    good.mkdir()  # an empty folder is fine
    assert invoke(app, "backup", str(good)).exit_code == 0
    assert "restore needs an empty database" in one_line_error(invoke(app, "restore", str(good)))

    target = make_app(tmp_path / "target", "sqlite:///" + str(tmp_path / "target.sqlite3"))
    instance = Path(target.instance_path)
    photo = next(name for name in json.loads((good / "manifest.json").read_text())["files"]
                 if name.startswith("uploads/"))

    def damaged(name, change) -> Path:
        copy = tmp_path / name
        shutil.copytree(good, copy)
        change(copy, json.loads((copy / "manifest.json").read_text()))
        return copy

    def rewrite(copy, manifest):
        (copy / "manifest.json").write_text(json.dumps(manifest))

    def corrupt_database(copy, manifest):
        (copy / "database.sqlite3").write_bytes(b"not a database at all" * 100)
        manifest["files"]["database.sqlite3"] = {"bytes": 2100, "sha256": archive.sha256_of(copy / "database.sqlite3")}
        rewrite(copy, manifest)

    def as_postgresql(copy, manifest):
        (copy / "database.sqlite3").rename(copy / "database.pgdump")
        files = {name: entry for name, entry in manifest["files"].items() if name != "database.sqlite3"}
        rewrite(copy, {**manifest, "database": "postgresql",
                       "files": {**files, "database.pgdump": manifest["files"]["database.sqlite3"]}})

    cases = {
        "has no manifest.json": lambda c, m: (c / "manifest.json").unlink(),
        "is not valid JSON": lambda c, m: (c / "manifest.json").write_text("{'files':"),
        "not a portal backup manifest": lambda c, m: rewrite(c, {**m, "kind": "something else"}),
        "backup format 2 is not one this portal reads": lambda c, m: rewrite(c, {**m, "format": 2}),
        "a file outside the backup's layout": lambda c, m: rewrite(c, {**m, "files": {
            **m["files"], "uploads/../../secret_key": m["files"][photo]}}),
        "does not match its checksum": lambda c, m: (c / photo).write_bytes(b"\x89PNG other"),
        "is missing": lambda c, m: (c / photo).unlink(),
        "is unknown to this portal": lambda c, m: rewrite(c, {**m, "alembic_revision": "f00dfacef00d"}),
        "This is a backup of a postgresql database": as_postgresql,
        "SQLite restore from": corrupt_database,  # every check passes; the restore itself fails
    }
    for number, (message, change) in enumerate(cases.items()):
        error = one_line_error(invoke(target, "restore", str(damaged(f"damaged-{number}", change))))
        assert message in error, (message, error)
        with target.app_context():
            assert inspect(db.engine).get_table_names() == []
            db.engine.dispose()
        assert not archive.has_files(instance / "uploads") and not list(instance.glob(".restore-*"))

    (instance / "uploads" / "photos").mkdir(parents=True, exist_ok=True)
    (instance / "uploads" / "photos" / "left.png").write_bytes(png_bytes())
    assert "already holds uploaded files" in one_line_error(invoke(target, "restore", str(good)))
    (instance / "uploads" / "photos" / "left.png").unlink()  # empty folders left by the portal are fine
    assert invoke(target, "restore", str(good)).exit_code == 0
    assert (instance / photo).read_bytes() == (good / photo).read_bytes()
    with target.app_context():
        db.engine.dispose()


def test_a_backup_of_an_older_schema_is_upgraded_after_restoring(tmp_path):
    """The schema one migration before the head, built by the migrations themselves."""
    old = make_app(tmp_path / "old", "sqlite:///" + str(tmp_path / "old.sqlite3"))
    with old.app_context():
        script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
        head = script.get_current_head()
        previous = script.get_revision(head).down_revision
        upgrade(revision=previous)
        db.session.execute(text("INSERT INTO region (code, name_zh, name_en) VALUES ('NORTH', '华北大区', 'North')"))
        db.session.commit()
        done = invoke(old, "backup", str(tmp_path / "backup"))
        assert done.exit_code == 0, done.output
        db.engine.dispose()
    assert json.loads((tmp_path / "backup" / "manifest.json").read_text())["alembic_revision"] == previous
    new = make_app(tmp_path / "new", "sqlite:///" + str(tmp_path / "new.sqlite3"))
    result = invoke(new, "restore", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    assert f"schema upgraded to {head}" in result.stdout
    with new.app_context():
        assert MigrationContext.configure(db.session.connection()).get_current_revision() == head
        assert db.session.scalar(text("SELECT name_en FROM region WHERE code = 'NORTH'")) == "North"
        db.session.remove()
        db.engine.dispose()


def test_an_sqlite_backup_is_the_last_committed_state_while_others_write(tmp_path):
    live = tmp_path / "live.sqlite3"
    setup = sqlite3.connect(live, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER, half INTEGER, pad BLOB)")
    with setup:
        setup.execute("BEGIN")
        setup.executemany("INSERT INTO pair (n, half, pad) VALUES (?, ?, randomblob(2000))",
                          [(n, h) for n in range(500) for h in (0, 1)])

    # A writer in the middle of a transaction: the backup neither waits for it nor sees its row.
    writer = sqlite3.connect(live, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO pair (n, half) VALUES (500, 0)")
    archive.copy_sqlite(live, tmp_path / "mid.sqlite3")
    writer.execute("INSERT INTO pair (n, half) VALUES (500, 1)")
    writer.execute("COMMIT")
    copy = sqlite3.connect(tmp_path / "mid.sqlite3")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    assert copy.execute("SELECT count(*), max(n) FROM pair").fetchone() == (1000, 499)
    copy.close()

    # Writers committing pairs all along: every copy holds whole pairs only.
    stop, started = threading.Event(), threading.Event()

    def write_pairs():
        conn = sqlite3.connect(live, isolation_level=None, timeout=30)
        n = 501
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO pair (n, half, pad) VALUES (?, ?, randomblob(500))", [(n, 0), (n, 1)])
            conn.execute("COMMIT")
            n += 1
            started.set()
        conn.close()

    thread = threading.Thread(target=write_pairs)
    thread.start()
    started.wait()
    try:
        counts = []
        for number in range(3):
            archive.copy_sqlite(live, tmp_path / f"busy-{number}.sqlite3")
            copy = sqlite3.connect(tmp_path / f"busy-{number}.sqlite3")
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            halves = copy.execute("SELECT n FROM pair GROUP BY n HAVING count(*) != 2").fetchall()
            assert halves == []
            counts.append(copy.execute("SELECT count(*) FROM pair").fetchone()[0])
            copy.close()
    finally:
        stop.set()
        thread.join()
    assert counts == sorted(counts) and counts[0] >= 1004  # the first pair was committed before
    assert setup.execute("SELECT count(*) FROM pair").fetchone()[0] % 2 == 0
    setup.close()
    writer.close()


def test_the_revision_decision():
    known, heads = {"a1", "b2", "c3"}, {"c3"}
    assert revision_decision("c3", known, heads) == "current"
    assert revision_decision("a1", known, heads) == "older"
    assert revision_decision("d4", known, heads) == "unknown"


@pytest.mark.parametrize("name, ok", [("database.sqlite3", True), ("uploads/photos/a.png", True),
                                      ("uploads/a.png", True), ("database.pgdump", False), ("uploads", False),
                                      ("uploads/../x", False), ("/uploads/a", False), ("uploads//a", False),
                                      ("uploads/./a", False), ("secret_key", False), ("uploads\\..\\x", False),
                                      (7, False)])
def test_only_the_database_and_uploads_are_restorable_names(name, ok):
    assert archive._allowed_name(name, "sqlite") is ok
