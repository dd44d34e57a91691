"""benchmarks/network_scale.py --quick works: it builds a small network on PostgreSQL, measures
every trainer page and export over gunicorn and writes its own section of the benchmarks file,
leaving the rest of that file as it was. (The figures themselves are never asserted.)"""

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


def test_quick_run_writes_its_section_and_keeps_the_rest(tmp_path):
    original = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    output = tmp_path / "benchmarks.md"
    output.write_text(original, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT), LANG="C.UTF-8")
    database = f"portal_netscale_test_{uuid.uuid4().hex[:10]}"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output), "--database-url", PG_URL,
         "--database-name", database],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]

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
    pages, exports = _labels()
    page_rows = _table_rows(section, "Pages")
    for label in pages:
        assert label in page_rows, f"page {label!r} missing from the section"
        p95 = page_rows[label][3]
        assert re.search(r"\d", p95), f"no figure for page {label!r}: {page_rows[label]}"
        assert page_rows[label][-1].startswith(("pass", "fail")), page_rows[label]
    export_rows = _table_rows(section, "Exports")
    for label in exports:
        assert label in export_rows, f"export {label!r} missing from the section"
        assert re.search(r"\d", export_rows[label][2]), f"no time for export {label!r}: {export_rows[label]}"
        assert export_rows[label][-1].startswith(("pass", "fail")), export_rows[label]
    assert "## Exam day" in section

    # The throw-away database is gone.
    engine = create_engine(normalise_database_url(PG_URL))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}).first() is None
    engine.dispose()
