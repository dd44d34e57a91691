"""benchmarks/network_scale.py --quick works: it builds a small network on PostgreSQL, measures
every trainer page and export over gunicorn, runs the exam day and writes its own section of the
benchmarks file, leaving the rest of that file as it was, with every target not met listed first.
--build-only then --reuse measures a kept database without building it and keeps it. (The
figures themselves are never asserted.)"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from portal.config import normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "network_scale.py"
PG_URL = os.environ.get("TEST_DATABASE_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (a PostgreSQL server): the benchmark "
                                          "builds its network on PostgreSQL"),
]


def _labels() -> tuple[list[str], list[str]]:
    spec = importlib.util.spec_from_file_location("network_scale_for_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ids = {"region": 1, "assignment": 1, "cohort": 1, "onboarding_quiz": "q", "quarterly_quiz": "q"}
    return ([label for label, _p, _w in module.pages_to_measure(ids)],
            [label for label, _p in module.exports_to_measure(ids)])


def _table_rows(section: str, heading: str) -> dict[str, list[str]]:
    part = section.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in part.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _check_section(section: str) -> None:
    """Every page and export has a row with a figure and a verdict; each one failing its target is
    in the "Targets not met" list at the top with its figure; the exam day ran and was checked."""
    pages, exports = _labels()
    page_rows = _table_rows(section, "Pages")
    export_rows = _table_rows(section, "Exports")
    missed = section.split("## Targets not met", 1)[1].split("\n## ", 1)[0]
    assert section.index("## Targets not met") < section.index("## Network built")
    for label in pages:
        assert label in page_rows, f"page {label!r} missing from the section"
        p95 = page_rows[label][3]
        assert re.search(r"\d", p95), f"no figure for page {label!r}: {page_rows[label]}"
        assert page_rows[label][-1].startswith(("pass", "fail")), page_rows[label]
        if page_rows[label][-1].startswith("fail"):
            line = next((x for x in missed.splitlines() if f"**{label}**" in x), None)
            assert line is not None, f"failing page {label!r} not in the targets not met"
            assert p95.replace("> ", "") in line and "Cause" in line, line
    for label in exports:
        assert label in export_rows, f"export {label!r} missing from the section"
        assert re.search(r"\d", export_rows[label][2]), f"no time for export {label!r}: {export_rows[label]}"
        assert export_rows[label][-1].startswith(("pass", "fail")), export_rows[label]
        if export_rows[label][-1].startswith("fail"):
            line = next((x for x in missed.splitlines() if f"**{label}**" in x), None)
            assert line is not None and "Cause" in line, f"failing export {label!r} not in the targets not met"
    if "fail" not in "".join(row[-1] for row in [*page_rows.values(), *export_rows.values()]):
        assert missed.strip().startswith(("None", "- **exam day**")), missed
    exam = _table_rows(section, "Exam day")
    assert "error" not in exam, exam.get("error")
    assert int(exam["acknowledged"][0]) > 0, exam  # answers were saved through the server …
    assert re.fullmatch(r"\d+", exam["lost"][0]), exam  # … and checked against the database
    assert int(exam["attempts_checked"][0]) > 0, exam


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), LANG="C.UTF-8")
    if "--quick" in args:  # the exam day runs 4 s, not the quick default of 10: CI time
        args = (*args, "--exam-seconds", "4")
    result = subprocess.run([sys.executable, str(SCRIPT), *args, "--database-url", PG_URL], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _database_exists(name: str) -> bool:
    engine = create_engine(normalise_database_url(PG_URL))
    with engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None
    engine.dispose()
    return found


def test_quick_run_writes_its_section_and_keeps_the_rest(tmp_path):
    original = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    output = tmp_path / "benchmarks.md"
    output.write_text(original, encoding="utf-8")
    database = f"portal_netscale_test_{uuid.uuid4().hex[:10]}"
    _run("--quick", "--reps", "1", "--output", str(output), "--database-name", database)  # one request a page: CI time

    written = output.read_text(encoding="utf-8")
    start, end = "<!-- network-scale:start -->", "<!-- network-scale:end -->"
    assert written.count(start) == 1 and written.count(end) == 1
    head, rest = written.split(start, 1)
    section, tail = rest.split(end, 1)
    # Everything outside the markers is the file as it was (the section replaced, or appended).
    if start in original:
        old_head, old_rest = original.split(start, 1)
        assert head == old_head and tail.strip() == old_rest.split(end, 1)[1].strip()
    else:
        assert head.rstrip() == original.rstrip()
    assert "# Fault-case search benchmarks" in head or start in original  # the search sections stay

    assert "python benchmarks/network_scale.py --quick" in section
    _check_section(section)
    assert "Database built in" in section

    # The throw-away database is gone.
    assert not _database_exists(database)


def test_build_only_then_reuse_measures_the_kept_database_and_keeps_it(tmp_path):
    database = f"portal_netscale_test_{uuid.uuid4().hex[:10]}"
    output = tmp_path / "benchmarks.md"
    try:
        _run("--technicians", "60", "--build-only", "--database-name", database)
        assert _database_exists(database)
        engine = create_engine(normalise_database_url(PG_URL).rsplit("/", 1)[0] + f"/{database}")
        with engine.connect() as conn:
            meta = conn.execute(text("SELECT doc FROM netscale_meta")).scalar_one()
            technicians = conn.execute(text("SELECT count(*) FROM \"user\" WHERE username LIKE 'ns0%'")).scalar_one()
        engine.dispose()
        assert meta["technicians"] == 60 == technicians and meta["ids"]["onboarding_quiz"]

        for _run_number in (1, 2):  # twice: each run sits the exam with accounts of its own
            _run("--quick", "--reuse", "--reps", "1", "--database-name", database, "--output", str(output))
            section = output.read_text(encoding="utf-8")
            assert "this run reused that database (`--reuse`)" in section
            assert f"--technicians 60 --build-only --database-name {database}" in section
            assert "| technicians | 60 |" in section
            _check_section(section)
            assert _database_exists(database)  # a reused database is kept
    finally:
        engine = create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        engine.dispose()
