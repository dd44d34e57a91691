#!/usr/bin/env python
"""Audit coverage at network scale: the coverage page, its lists and its CSV on PostgreSQL.

    .venv/bin/python benchmarks/audit_coverage.py                  # 30,000 technicians (full size)
    .venv/bin/python benchmarks/audit_coverage.py --technicians 3000 --runs 5   # a quick look

Builds, in a database of its own (``--database-name``, default ``portal_audit_coverage``, on the
server of ``DATABASE_URL``, default the local one; dropped at the end unless ``--keep``): the schema
(``create_all``), 5 regions, 32 provinces, 8,000 outlets, 30,000 technicians, 60 auditors, 150,000
submitted reports over two years (about a third of the technicians never audited), twelve monthly
draws of ~3,000 visits each (past periods mostly done, each done visit linked to its own report;
the current period open, some overdue, some without an auditor, some handed back) — all by COPY —
then the kept ``audit_last_visit`` rebuilt from the reports. Then it times, in-process through the
Flask test client signed in as a trainer, p50/p95 of the coverage page at network, region,
province and outlet level, the lists behind the figures and the CSV, and writes its section of
docs/benchmarks.md between ``<!-- audit-coverage:start -->`` / ``<!-- audit-coverage:end -->``
(the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal import create_app  # noqa: E402
from portal.audits import coverage as cov  # noqa: E402
from portal.auth.services import create_user  # noqa: E402
from portal.extensions import db  # noqa: E402

START_MARK, END_MARK = "<!-- audit-coverage:start -->", "<!-- audit-coverage:end -->"
PAGE_P95_MS = 300.0
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def copy_rows(conn, table: str, columns: list[str], rows) -> int:
    n = 0
    with conn.cursor() as cur:
        with cur.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
    return n


def build(conn, technicians: int, rng: random.Random, today: dt.date, now: dt.datetime) -> dict:
    scale = technicians / 30000
    n_outlets = max(32, round(8000 * scale))
    n_reports = round(150000 * scale)
    visits_per_month = max(30, round(3000 * scale))
    stamp = now
    copy_rows(conn, "region", ["id", "code", "name_zh", "name_en"],
              [(i, f"R{i}", f"大区{i}", f"Region {i}") for i in range(1, 6)])
    copy_rows(conn, "province", ["id", "code", "name_zh", "name_en", "region_id"],
              [(i, f"P{i:02d}", f"省{i}", f"Province {i}", (i - 1) % 5 + 1) for i in range(1, 33)])
    copy_rows(conn, "outlet", ["id", "code", "name_zh", "name_en", "city", "province_id", "products"],
              [(i, f"O{i:05d}", f"网点{i}", f"Outlet {i}", "", (i - 1) % 32 + 1, "[]") for i in range(1, n_outlets + 1)])
    first_tech = 1000
    tech_ids = list(range(first_tech, first_tech + technicians))
    tech_outlet = {t: rng.randint(1, n_outlets) for t in tech_ids}
    auditor_ids = list(range(first_tech + technicians, first_tech + technicians + 60))
    people = [(t, f"t{t}", f"技师{t}", "x", True, tech_outlet[t], 1, False, stamp) for t in tech_ids]
    people += [(a, f"a{a}", f"暗访员{a}", "x", True, None, 1, False, stamp) for a in auditor_ids]
    copy_rows(conn, "user", ["id", "username", "name", "password_hash", "active", "outlet_id", "auth_version",
                             "must_change_password", "created_at"], people)
    copy_rows(conn, "user_role", ["user_id", "role"],
              [(t, "technician") for t in tech_ids] + [(a, "auditor") for a in auditor_ids])
    conn.execute("SELECT setval(pg_get_serial_sequence('\"user\"', 'id'), %s)", (auditor_ids[-1] + 1,))
    conn.execute("INSERT INTO audit_template (id, slug, version, title_zh, title_en, spec, content_hash, current, "
                 "created_at) VALUES (1, 'home-visit', 1, '上门', 'Home visit', '{}', 'x', true, now())")
    conn.execute("INSERT INTO audit_programme (id, slug, template_slug, title_zh, title_en, spec, content_hash, "
                 "source, active, created_at, updated_at) VALUES (1, 'home-visit-monthly', 'home-visit', '月', "
                 "'Monthly', '{}', 'x', 'file', true, now(), now())")
    # a month list: the current one and the eleven before it
    months = []
    y, m = today.year, today.month
    for _ in range(12):
        months.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    months.reverse()
    audited = tech_ids[: round(len(tech_ids) * 0.68)]  # the rest: never audited
    reports = []
    audit_id = 0

    def report(tech, when):
        nonlocal audit_id
        audit_id += 1
        reports.append((audit_id, 1, rng.choice(auditor_ids), tech, when, f"W{audit_id}", "ac", "x", "submitted",
                        "{}", "{}", 80.0, "pass", False, "{}", "[]", when, when, when, ""))
        return audit_id

    visits, handbacks = [], []
    visit_id = 0
    for i, (yy, mm) in enumerate(months):
        period = f"{yy}-{mm:02d}"
        current = i == len(months) - 1
        first = dt.date(yy, mm, 1)
        due = (dt.date(yy + (mm == 12), mm % 12 + 1, 1) - dt.timedelta(days=1))
        conn.execute("INSERT INTO audit_draw (id, programme_id, period, seed, spec, candidates, drawn_at, due_on, "
                     "eligible, excluded, drawn, unassigned) VALUES (%s, 1, %s, 'ab', '{}', '{}', now(), %s, 0, "
                     "'{}', 0, 0)", (i + 1, period, due))
        for tech in rng.sample(tech_ids, visits_per_month):
            visit_id += 1
            auditor = None if rng.random() < 0.02 else rng.choice(auditor_ids)
            if current:
                status = "done" if rng.random() < 0.3 else "open"
                due_on = today + dt.timedelta(days=rng.randint(-5, 20))
            else:
                status = "done" if rng.random() < 0.93 else rng.choice(("open", "cancelled"))
                due_on = due
            linked = None
            if status == "done" and auditor is not None:
                when = dt.datetime.combine(first + dt.timedelta(days=rng.randint(0, 25)), dt.time(3),
                                           tzinfo=dt.timezone.utc)
                linked = report(tech, min(when, now))
            elif status == "done":
                status = "open"
            visits.append((visit_id, i + 1, 1, period, tech, tech_outlet[tech], auditor, due_on, status, "[]",
                           linked, stamp))
            if auditor is not None and rng.random() < 0.03:
                handbacks.append((visit_id, rng.choice([a for a in auditor_ids if a != auditor]), "far", stamp))
    while len(reports) < n_reports:  # unplanned and older reports, over two years
        report(rng.choice(audited), now - dt.timedelta(days=rng.uniform(0, 730)))
    copy_rows(conn, "audit", ["id", "template_id", "auditor_id", "technician_id", "visited_at", "work_order",
                              "product", "city", "status", "responses", "comments", "score", "result",
                              "red_line_failed", "section_scores", "failed_items", "created_at", "updated_at",
                              "submitted_at", "technician_comment"], reports)
    copy_rows(conn, "audit_visit", ["id", "draw_id", "programme_id", "period", "technician_id", "outlet_id",
                                    "auditor_id", "due_on", "status", "reasons", "audit_id", "created_at"], visits)
    copy_rows(conn, "audit_visit_handback", ["visit_id", "auditor_id", "reason", "at"], handbacks)
    conn.commit()
    return {"technicians": technicians, "outlets": n_outlets, "auditors": len(auditor_ids), "reports": len(reports),
            "visits": len(visits), "handbacks": len(handbacks), "visits_per_month": visits_per_month}


def write_section(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{START_MARK}\n{section.rstrip()}\n{END_MARK}\n"
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        _old, tail = rest.split(END_MARK, 1)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--technicians", type=int, default=30000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--database-name", default="portal_audit_coverage")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    rng = random.Random(16)
    server = make_url(args.database_url.replace("postgresql+psycopg://", "postgresql://"))
    admin_dsn = server.set(database="postgres").render_as_string(hide_password=False)
    bench_url = server.set(database=args.database_name).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database_name}"')
    workdir = tempfile.TemporaryDirectory(prefix="audit-coverage-")
    results, built = [], {}
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": bench_url.replace("postgresql://", "postgresql+psycopg://"),
                          "INSTANCE_PATH": workdir.name, "SECRET_KEY": "bench", "TESTING": True,
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        with app.app_context():
            db.create_all()
            today = cov.today()
            now = dt.datetime.now(dt.timezone.utc)
            started = time.perf_counter()
            with psycopg.connect(bench_url) as conn:
                built = build(conn, args.technicians, rng, today, now)
                conn.execute("ANALYZE")
                conn.commit()
            built["build_s"] = time.perf_counter() - started
            started = time.perf_counter()
            kept = cov.rebuild_kept()
            db.session.commit()
            built["kept_rows"], built["rebuild_s"] = kept, time.perf_counter() - started
            create_user("bench-trainer", ["trainer"], "bench-password-1", name="Trainer")
            with psycopg.connect(bench_url, autocommit=True) as conn:
                conn.execute("ANALYZE")
                region = conn.execute("SELECT code FROM region ORDER BY code LIMIT 1").fetchone()[0]
                province = conn.execute("SELECT code FROM province ORDER BY code LIMIT 1").fetchone()[0]
                outlet = conn.execute("SELECT o.code FROM outlet o JOIN \"user\" u ON u.outlet_id = o.id "
                                      "GROUP BY o.code ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
            db.session.remove()
        client = app.test_client()
        with app.app_context():
            page = client.get("/login").get_data(as_text=True)
            token = CSRF_RE.search(page)
            response = client.post("/login", data={"username": "bench-trainer", "password": "bench-password-1",
                                                   "csrf_token": token.group(1) or token.group(2)})
            assert response.status_code == 302, response.status_code
        targets = [
            ("page", "network", "/audits/coverage/"),
            ("page", f"region {region}", f"/audits/coverage/?region={region}"),
            ("page", f"province {province}", f"/audits/coverage/?province={province}"),
            ("page", f"outlet {outlet}", f"/audits/coverage/?outlet={outlet}"),
            ("list", "never audited, network", "/audits/coverage/list?what=never"),
            ("list", "audited in 12 months, network", "/audits/coverage/list?what=audited12"),
            ("list", "overdue, network", "/audits/coverage/list?what=overdue"),
            ("list", "planned, network, page 20", "/audits/coverage/list?what=planned&page=20"),
            ("list", "unplanned reports, network", "/audits/coverage/list?what=unplanned"),
            ("list", "0 visits this year, network", "/audits/coverage/list?what=visits&n=0"),
            ("list", f"open, region {region}", f"/audits/coverage/list?what=open&region={region}"),
            ("export", "CSV, network", "/audits/coverage/export.csv"),
            ("export", f"CSV, province {province}", f"/audits/coverage/export.csv?province={province}"),
        ]
        for kind, label, url in targets:
            times = []
            for i in range(args.runs + 2):
                started = time.perf_counter()
                response = client.get(url)
                body = response.get_data()
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (url, response.status_code)
                if i >= 2:
                    times.append(elapsed)
            results.append((kind, label, url, statistics.median(times), percentile(times, 0.95), len(body)))
            print(f"{kind:7s} {label:40s} p50 {results[-1][3]:7.1f} ms  p95 {results[-1][4]:7.1f} ms", flush=True)
    finally:
        try:
            with app.app_context():
                db.engine.dispose()
        except Exception:  # noqa: BLE001 — the app may not have been made
            pass
        if not args.keep:
            with psycopg.connect(admin_dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database_name}" WITH (FORCE)')
        workdir.cleanup()
    met = sum(1 for kind, *_rest, p95, _size in results if p95 <= PAGE_P95_MS)
    lines = ["## Audit coverage (issue 16)", "",
             f"`python benchmarks/audit_coverage.py{'' if args.technicians == 30000 else f' --technicians {args.technicians}'}`"
             f" on {dt.date.today().isoformat()}, PostgreSQL, in-process (Flask test client, one trainer), "
             f"{args.runs} timed runs after 2 warm-ups; {platform.python_version()} on {platform.machine()}.", "",
             f"Built by COPY in {built.get('build_s', 0):.0f} s: {built.get('technicians', 0):,} technicians, "
             f"{built.get('outlets', 0):,} outlets, {built.get('auditors', 0)} auditors, "
             f"{built.get('reports', 0):,} submitted reports (two years), {built.get('visits', 0):,} planned visits "
             f"(12 monthly draws of {built.get('visits_per_month', 0):,}), {built.get('handbacks', 0):,} hand-backs. "
             f"Kept tables (`audit_last_visit`, `audit_visit_year`) rebuilt from the raw rows in {built.get('rebuild_s', 0):.1f} s "
             f"({built.get('kept_rows', 0):,} rows).", "",
             f"Target: p95 ≤ {PAGE_P95_MS:.0f} ms. {met} of {len(results)} meet it.", "",
             "| kind | what | p50 ms | p95 ms | bytes |", "|---|---|---:|---:|---:|"]
    lines += [f"| {kind} | {label} (`{url}`) | {p50:.0f} | {p95:.0f} | {size:,} |"
              for kind, label, url, p50, p95, size in results]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", section)


if __name__ == "__main__":
    main()
