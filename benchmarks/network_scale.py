#!/usr/bin/env python
"""Network scale: the trainer pages and exports on a service network of full size.

    .venv/bin/python benchmarks/network_scale.py                   # 30,000 technicians (full size)
    .venv/bin/python benchmarks/network_scale.py --quick           # 150 technicians, smoke check (< 2 min)
    .venv/bin/python benchmarks/network_scale.py --technicians 5000
    .venv/bin/python benchmarks/network_scale.py --build-only --database-name ns_full   # build and keep it
    .venv/bin/python benchmarks/network_scale.py --reuse --database-name ns_full        # measure it (again)

Builds the network on PostgreSQL in a database of its own (``--database-name``, default
``portal_netscale``, created on the server named by ``DATABASE_URL``, default the local server;
dropped at the end unless ``--keep``): the schema by ``flask db upgrade``, the shipped content by
``flask content load``, then everything else bulk-inserted with COPY, then the kept tables filled
by the commands in FILL_STEPS. Then it starts gunicorn (PORTAL_ENV=production, 3 workers), signs
in as a trainer and an auditor, times every trainer page and export over HTTP, runs the exam day,
profiles the pages and exports that miss their target and writes its section of docs/benchmarks.md
(between the markers ``<!-- network-scale:start -->`` / ``<!-- network-scale:end -->``; the rest
of the file is kept), with the targets not met listed first.

``--build-only`` stops after building (the database kept, with what a later run needs in the table
``netscale_meta``). ``--reuse`` measures such a database instead of building one: ``flask db
upgrade`` (migrations may have arrived since), fresh exam-day accounts, the FILL_STEPS, then the
same measuring; the section reports the build from ``netscale_meta``. A reused database is never
dropped.

Full size (scaled linearly by ``--technicians``): 5 regional centres, 32 provinces, 8,000 outlets,
30,000 technicians, 120 trainers, 60 auditors; two years of history: ≈1,000,000 graded quiz
attempts with answers, 150,000 submitted audit reports, 60,000 certificates with their event logs,
8 quarterly courses (4 a year) each assigned to every technician, ≈2,000,000 lesson-progress
rows, 5,000,000 search-log rows, onboarding cohorts of about 30.

The quiz attempts and audit reports are copies of a pool of real ones: attempts drawn by the
portal's own ``attempts.start`` and graded by ``attempts.submit`` (answers right, wrong or blank),
reports scored by ``audits.scoring.score_report`` on generated responses.

Exam day: if ``benchmarks/exam_day.py`` exists, its ``run(base_url, accounts, quiz_slug,
duration_s)`` is called against the same server (see EXAM-DAY HOOK below).
"""

from __future__ import annotations

import argparse
from array import array
import cProfile
import datetime as dt
import http.cookiejar
import importlib.util
import io
import json
import os
import platform
import pstats
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

_CALLER_DATABASE_URL = os.environ.get("DATABASE_URL")
for _name in ("DATABASE_URL", "PORTAL_INSTANCE_PATH", "SECRET_KEY", "PORTAL_HTTPS", "PORTAL_PROXY_HOPS"):
    os.environ.pop(_name, None)

import psycopg  # noqa: E402
from sqlalchemy import event, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from portal import create_app  # noqa: E402
from portal.assessment import attempts as quiz_attempts  # noqa: E402
from portal.assessment.models import Question, Quiz  # noqa: E402
from portal.audits.scoring import score_report  # noqa: E402
from portal.auth.models import User  # noqa: E402
from portal.extensions import db  # noqa: E402

VENV_BIN = Path(sys.executable).parent
OUT = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- network-scale:start -->"
END_MARK = "<!-- network-scale:end -->"
PASSWORD = "netscale-bench-Pw-2026"
TRAINER, AUDITOR = "ns-trainer", "ns-auditor"


def exam_username(i: int, batch: str = "") -> str:
    """The exam-day accounts: ns-exam0000… from the build, ns-exam-<batch>-0000… added for a --reuse run."""
    return f"ns-exam-{batch}-{i:04d}" if batch else f"ns-exam{i:04d}"

PAGE_P95_MS = 300.0
EXPORT_S = 30.0
EXPORT_GROWTH_MB = 64.0  # "constant memory": a worker's RSS may not grow more than this during an export

T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def bench_module(name: str):
    """Another script of benchmarks/ as a module (loaded once)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]


# --- sizes ---------------------------------------------------------------------------------------


class Sizes:
    def __init__(self, technicians: int):
        f = technicians / 30000
        self.technicians = technicians
        self.regions = 5
        self.provinces = 32 if technicians >= 3000 else 8
        self.outlets = max(self.provinces, round(8000 * f))
        self.trainers = max(4, round(120 * f))
        self.auditors = max(3, round(60 * f))
        self.audits = round(150000 * f)
        self.certificates = round(60000 * f)
        self.search_logs = round(5000000 * f)
        self.recent_share = 0.4  # technicians who started within the two years (onboarded in the portal)
        self.exam_accounts = 300 if technicians >= 30000 else 20 if technicians >= 300 else 10
        self.quarterly_attempts_mean = 5.2  # retakes until passed; ≈1,000,000 attempts in all


TODAY = dt.date.today()
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
HISTORY_START = TODAY - dt.timedelta(days=730)


def quarters() -> list[tuple[str, dt.date, dt.date]]:
    """The last eight quarters, ending with the current one: (label, first day, due date)."""
    out = []
    year, q = TODAY.year, (TODAY.month - 1) // 3 + 1
    for _ in range(8):
        first = dt.date(year, 3 * q - 2, 1)
        last = (dt.date(year + (q == 4), (3 * q) % 12 + 1, 1) - dt.timedelta(days=1))
        out.append((f"{year}-Q{q}", first, last))
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return list(reversed(out))


# --- COPY helpers --------------------------------------------------------------------------------

_ESC = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def c(value) -> str:
    """One value in COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(value, dt.datetime):
        value = value.isoformat()
    return str(value).translate(_ESC)


def copy(conn, table: str, columns: list[str], lines, label: str | None = None, chunk: int = 20000) -> int:
    """COPY lines (already tab-separated, escaped) into table; returns the row count."""
    n = 0
    started = time.monotonic()
    cols = ", ".join(f'"{col}"' for col in columns)
    with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as cp:
        buf = []
        for line in lines:
            buf.append(line)
            if len(buf) >= chunk:
                cp.write(("\n".join(buf) + "\n").encode())
                n += len(buf)
                buf = []
        if buf:
            cp.write(("\n".join(buf) + "\n").encode())
            n += len(buf)
    conn.commit()
    log(f"  {label or table}: {n:,} rows in {time.monotonic() - started:.1f} s")
    return n


def row(*values) -> str:
    return "\t".join(c(v) for v in values)


def fix_sequences(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("""SELECT table_name, column_name FROM information_schema.columns
                       WHERE table_schema = 'public' AND column_default LIKE 'nextval%'""")
        for table, column in cur.fetchall():
            cur.execute(f"""SELECT setval(pg_get_serial_sequence('"{table}"', '{column}'),
                            GREATEST((SELECT MAX("{column}") FROM "{table}"), 1))""")
    conn.commit()


# --- building ------------------------------------------------------------------------------------


REGIONS = [("north", "华北大区", "North"), ("east", "华东大区", "East"), ("south", "华南大区", "South"),
           ("west", "西部大区", "West"), ("northeast", "东北大区", "Northeast")]
PRODUCTS = ["air_conditioner", "washing_machine", "refrigerator", "water_heater"]
SEARCHES = ["E1", "E4", "H6", "F7", "KFR-35GW", "XQG70", "室外机不转", "不制冷", "漏水", "噪音大", "不加热",
            "outdoor fan not spinning", "not cooling", "water leak", "显示E8", "压缩机不启动", "BCD-216",
            "冷藏室结冰", "门打不开", "排水慢", "P5", "通讯故障", "制热效果差", "遥控器失灵"]


class Builder:
    def __init__(self, conn, app, sizes: Sizes, rng: random.Random):
        self.conn, self.app, self.s, self.rng = conn, app, sizes, rng
        self.counts: dict[str, int] = {}
        self.ids: dict[str, object] = {}

    def q(self, sql: str, *args):
        with self.conn.cursor() as cur:
            cur.execute(sql, args or None)
            return cur.fetchall()

    def next_id(self, table: str) -> int:
        return (self.q(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')[0][0] or 0) + 1

    STEPS = ["network", "people", "courses", "cohorts", "progress_and_signoffs", "quiz_attempts", "certificates",
             "audits", "search_logs"]

    def build(self) -> None:
        for step in [getattr(self, name) for name in self.STEPS]:
            started = time.monotonic()
            log(f"building: {step.__name__}")
            step()
            self.counts[f"time:{step.__name__}"] = time.monotonic() - started
        fix_sequences(self.conn)
        vacuum(self.conn)

    # network -------------------------------------------------------------------------------
    def network(self) -> None:
        s, rng = self.s, self.rng
        rid0, pid0, oid0 = self.next_id("region"), self.next_id("province"), self.next_id("outlet")
        self.regions = list(range(rid0, rid0 + s.regions))
        copy(self.conn, "region", ["id", "code", "name_zh", "name_en"],
             (row(rid0 + i, f"ns-{code}", zh, en) for i, (code, zh, en) in enumerate(REGIONS[:s.regions])))
        self.provinces = list(range(pid0, pid0 + s.provinces))
        self.province_region = {p: self.regions[i % s.regions] for i, p in enumerate(self.provinces)}
        copy(self.conn, "province", ["id", "code", "name_zh", "name_en", "region_id"],
             (row(p, f"NS{i:02d}", f"省份{i:02d}", f"Province {i:02d}", self.province_region[p])
              for i, p in enumerate(self.provinces)))
        self.outlets = list(range(oid0, oid0 + s.outlets))
        self.outlet_province = {o: self.provinces[i % s.provinces] for i, o in enumerate(self.outlets)}

        def products(i):
            return [] if i % 3 else rng.sample(PRODUCTS, rng.randint(1, 3))

        copy(self.conn, "outlet", ["id", "code", "name_zh", "name_en", "city", "province_id", "products"],
             (row(o, f"NS-{i:05d}", f"网点{i:05d}", f"Outlet {i:05d}", f"City {i % 400}", self.outlet_province[o],
                  products(i)) for i, o in enumerate(self.outlets)))
        self.counts.update(regions=s.regions, provinces=s.provinces, outlets=s.outlets)

    # people --------------------------------------------------------------------------------
    def people(self) -> None:
        s, rng = self.s, self.rng
        with self.app.app_context():
            pw = generate_password_hash(PASSWORD, method=self.app.config["PASSWORD_HASH_METHOD"])
        users, roles = [], []
        next_uid = [self.next_id("user")]

        def add(username, name, role, outlet=None, start=None, created=None) -> int:
            uid = next_uid[0]
            next_uid[0] += 1
            users.append(row(uid, username, name, pw, True, "zh", outlet, start, False, 1, created))
            roles.append(row(uid, role))
            return uid

        self.techs: list[int] = []
        self.tech_start: dict[int, dt.date] = {}
        self.tech_outlet: dict[int, int] = {}
        created = dt.datetime.combine(HISTORY_START - dt.timedelta(days=30), dt.time(2), dt.timezone.utc)
        self.trainers = [add(TRAINER if i == 0 else f"ns-trainer{i:03d}", f"培训师{i:03d}", "trainer", created=created)
                         for i in range(s.trainers)]
        self.auditors = [add(AUDITOR if i == 0 else f"ns-auditor{i:03d}", f"暗访员{i:03d}", "auditor", created=created)
                         for i in range(s.auditors)]
        days = (TODAY - HISTORY_START).days
        for i in range(s.technicians):
            outlet = self.outlets[i % len(self.outlets)]
            if rng.random() < s.recent_share:
                start = HISTORY_START + dt.timedelta(days=rng.randint(0, days - 1))
            else:
                start = HISTORY_START - dt.timedelta(days=rng.randint(30, 3000))
            start = start - dt.timedelta(days=start.weekday() % 5 if start.weekday() >= 5 else 0)
            uid = add(f"ns{i:06d}", f"技师{i:06d}", "technician", outlet, start,
                      dt.datetime.combine(min(start, TODAY), dt.time(1), dt.timezone.utc))
            self.techs.append(uid)
            self.tech_start[uid] = start
            self.tech_outlet[uid] = outlet
        # Exam-day accounts: new technicians in the current cohort, allowed to take the final.
        self.exam_users = [add(exam_username(i), f"考生{i:04d}", "technician", self.outlets[i % len(self.outlets)],
                               TODAY - dt.timedelta(days=14), NOW - dt.timedelta(days=15))
                           for i in range(s.exam_accounts)]
        copy(self.conn, "user", ["id", "username", "name", "password_hash", "active", "locale", "outlet_id",
                                 "start_date", "must_change_password", "auth_version", "created_at"], users)
        copy(self.conn, "user_role", ["user_id", "role"], roles)
        self.counts.update(technicians=len(self.techs), trainers=len(self.trainers), auditors=len(self.auditors),
                           exam_accounts=len(self.exam_users))

    # courses, quizzes, assignments ------------------------------------------------------------
    def courses(self) -> None:
        onboarding = self.q("SELECT id, quiz FROM learning_course WHERE kind = 'onboarding' ORDER BY id")[0]
        self.onboarding_id, self.onboarding_quiz = onboarding
        shipped = {quarter: (cid, slug, quiz) for cid, slug, quiz, quarter in self.q(
            "SELECT id, slug, quiz, quarter FROM learning_course WHERE kind = 'quarterly' ORDER BY quarter")}
        template_id, _slug, template_quiz = next(iter(shipped.values()))
        self.quarterly: list[tuple[int, str, dt.date, dt.date]] = []  # (course id, quiz slug, first day, due)
        self.pool_of: dict[str, str] = {}  # a copied quiz draws the template's questions: the same attempt pool
        for label, first, due in quarters():
            if label in shipped:
                cid, _slug, quiz = shipped[label]
            else:
                slug = f"{label.lower()}-netscale"
                quiz = slug
                self.pool_of[quiz] = template_quiz
                self.q("""INSERT INTO assessment_quiz (slug, title_zh, title_en, settings, sections, active)
                          SELECT %s, %s || title_zh, %s || title_en, settings, sections, true
                          FROM assessment_quiz WHERE slug = %s RETURNING id""",
                       quiz, f"{label} ", f"{label} ", template_quiz)
                cid = self.q("""INSERT INTO learning_course (slug, kind, quarter, product, quiz, title_zh, title_en,
                                   summary_zh, summary_en, active, created_at, updated_at)
                                SELECT %s, 'quarterly', %s, product, %s, %s || title_zh, %s || title_en, summary_zh,
                                       summary_en, true, %s, %s FROM learning_course WHERE id = %s RETURNING id""",
                             slug, label, quiz, f"{label} ", f"{label} ", NOW, NOW, template_id)[0][0]
                for mid, mslug, pos, tzh, ten in self.q(
                        "SELECT id, slug, position, title_zh, title_en FROM learning_module WHERE course_id = %s "
                        "AND active ORDER BY position", template_id):
                    new_mid = self.q("""INSERT INTO learning_module (course_id, slug, position, title_zh, title_en,
                                        active) VALUES (%s, %s, %s, %s, %s, true) RETURNING id""",
                                     cid, mslug, pos, tzh, ten)[0][0]
                    self.q("""INSERT INTO learning_lesson (course_id, module_id, slug, position, title_zh, title_en,
                                  body_zh, body_en, minutes_zh, minutes_en, cases, active)
                              SELECT %s, %s, slug, position, title_zh, title_en, body_zh, body_en, minutes_zh,
                                     minutes_en, cases, true FROM learning_lesson
                              WHERE module_id = %s AND active RETURNING id""", cid, new_mid, mid)
            self.quarterly.append((cid, quiz, first, due))
        self.conn.commit()
        self.lessons = {cid: [r[0] for r in self.q(
            "SELECT l.id FROM learning_lesson l JOIN learning_module m ON m.id = l.module_id "
            "WHERE l.course_id = %s AND l.active AND m.active ORDER BY m.position, l.position", cid)]
            for cid in [self.onboarding_id] + [q[0] for q in self.quarterly]}
        self.onboarding_tasks = [r[0] for r in self.q(
            "SELECT id FROM learning_task WHERE course_id = %s AND active", self.onboarding_id)]
        aid = self.next_id("learning_assignment")
        self.assignments = []
        lines = []
        for cid, _quiz, first, due in self.quarterly:
            lines.append(row(aid, cid, "all", None, None, due, self.trainers[0],
                             dt.datetime.combine(first, dt.time(2), dt.timezone.utc)))
            self.assignments.append(aid)
            aid += 1
        copy(self.conn, "learning_assignment", ["id", "course_id", "scope", "region_id", "product", "due_date",
                                                "created_by_id", "created_at"], lines)
        self.counts["quarterly courses"] = len(self.quarterly)

    # cohorts ------------------------------------------------------------------------------
    def cohorts(self) -> None:
        recent = sorted((u for u in self.techs if self.tech_start[u] >= HISTORY_START), key=self.tech_start.get)
        cid = self.next_id("learning_cohort")
        cohorts, trainers, members = [], [], []
        self.cohort_ids = []
        for index in range(0, len(recent), 30):
            group = recent[index:index + 30]
            start = self.tech_start[group[0]]
            cohorts.append(row(cid, f"NS cohort {start.isoformat()} #{index // 30 + 1}", self.onboarding_id, start,
                               self.trainers[0], dt.datetime.combine(start, dt.time(1), dt.timezone.utc)))
            trainers.append(row(cid, self.trainers[(index // 30) % len(self.trainers)]))
            if self.trainers[(index // 30) % len(self.trainers)] != self.trainers[0]:
                trainers.append(row(cid, self.trainers[0]))
            members.extend(row(cid, u) for u in group)
            self.cohort_ids.append(cid)
            cid += 1
        # The exam-day accounts: one cohort that started two weeks ago.
        start = TODAY - dt.timedelta(days=14)
        cohorts.append(row(cid, "NS exam-day cohort", self.onboarding_id, start, self.trainers[0], NOW))
        trainers.append(row(cid, self.trainers[0]))
        members.extend(row(cid, u) for u in self.exam_users)
        copy(self.conn, "learning_cohort", ["id", "name", "course_id", "start_date", "created_by_id", "created_at"],
             cohorts)
        copy(self.conn, "learning_cohort_trainer", ["cohort_id", "user_id"], trainers)
        copy(self.conn, "learning_cohort_member", ["cohort_id", "user_id"], members)
        self.counts["cohorts"] = len(cohorts)

    # lesson progress and sign-offs ------------------------------------------------------------------
    def progress_and_signoffs(self) -> None:
        rng = self.rng
        onboarding = self.lessons[self.onboarding_id]
        self.completed: dict[tuple[int, int], dt.datetime] = {}  # (user, course) → lessons done at
        self.onboarded: dict[int, dt.datetime] = {}

        def at(day: dt.date, hour: int = 3) -> dt.datetime:
            return dt.datetime.combine(day, dt.time(hour, rng.randint(0, 59)), dt.timezone.utc)

        first_pid = self.next_id("learning_progress")

        def lines():
            pid = first_pid
            for user in self.techs + self.exam_users:
                start = self.tech_start.get(user, TODAY - dt.timedelta(days=14))
                if start >= HISTORY_START:
                    elapsed = (TODAY - start).days
                    done = len(onboarding) if elapsed > 20 else min(len(onboarding), elapsed * 3)
                    for k, lesson in enumerate(onboarding[:done + 1]):
                        day = min(start + dt.timedelta(days=k * 14 // len(onboarding)), TODAY)
                        finished = at(day) if k < done else None
                        yield row(pid, user, lesson, at(day, 1), finished or at(day, 2), finished)
                        pid += 1
                    if done == len(onboarding):
                        self.onboarded[user] = at(min(start + dt.timedelta(days=14), TODAY), 5)
                        self.completed[(user, self.onboarding_id)] = self.onboarded[user]
                for cid, _quiz, first, due in self.quarterly:
                    if start > due or user in self.exam_users:
                        continue
                    current = first <= TODAY <= due
                    p = 0.55 if current else 0.9
                    if rng.random() > p + 0.05:
                        continue
                    lessons = self.lessons[cid]
                    finish_all = rng.random() < p / (p + 0.05)
                    n = len(lessons) if finish_all else rng.randint(1, len(lessons) - 1)
                    base = max(first, start)
                    span = max(1, (min(due, TODAY) - base).days)
                    last = None
                    for k, lesson in enumerate(lessons[:n]):
                        day = base + dt.timedelta(days=min(span, rng.randint(0, span)))
                        last = at(day)
                        yield row(pid, user, lesson, last - dt.timedelta(minutes=20), last, last)
                        pid += 1
                    if finish_all:
                        self.completed[(user, cid)] = last

        self.counts["lesson progress"] = copy(
            self.conn, "learning_progress", ["id", "user_id", "lesson_id", "started_at", "last_seen_at",
                                             "completed_at"], lines(), chunk=50000)
        with self.app.app_context():
            tasks = {t_id: json.loads(json.dumps(items)) for t_id, items in self.q(
                "SELECT id, checklist FROM learning_task WHERE course_id = %s AND active", self.onboarding_id)}

        first_sid = self.next_id("learning_signoff")

        def signoffs():
            sid = first_sid
            for user, when in self.onboarded.items():
                for task, checklist in tasks.items():
                    items = [{"item": i.get("zh") or i.get("en") or "", "passed": True, "comment": ""}
                             for i in checklist]
                    yield row(sid, user, task, self.trainers[user % len(self.trainers)], 1, True, items, "", when)
                    sid += 1

        self.counts["sign-offs"] = copy(self.conn, "learning_signoff",
                                        ["id", "user_id", "task_id", "trainer_id", "attempt", "passed", "items",
                                         "comment", "created_at"], signoffs())

    # quiz attempts ------------------------------------------------------------------------------
    def _attempt_pool(self, slug: str, size: int) -> tuple[list, list]:
        """Real attempts at the quiz, drawn and graded by the portal: (passed pool, failed pool),
        each entry (the COPY columns lang … passed, the responses grading kept for it: (question,
        position, attempt score, score, blank, the choices' (question, value)) each)."""
        rng = self.rng
        passed, failed = [], []
        with self.app.app_context():
            quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug))
            users = db.session.scalars(select(User).where(User.id.in_(self.techs[:4 * size]))
                                       .order_by(User.id)).all()
            for n, user in enumerate(users):
                if n >= size and passed and failed:
                    break
                lang = "zh" if n % 4 else "en"
                when = NOW - dt.timedelta(days=800)
                attempt = quiz_attempts.start(user, quiz, lang, when, seed=rng.randrange(1 << 30))
                questions = {q.id: q for q in db.session.scalars(
                    select(Question).where(Question.id.in_([i["question"] for i in attempt.items])))}
                # Half strong, half weak: both pools get filled whatever the pass mark.
                ability = rng.choice([0.9, 0.95, 1.0, 1.0]) if n % 2 else rng.choice([0.3, 0.45, 0.55, 0.65])
                answers = {}
                for index, item in enumerate(attempt.items):
                    question = questions[item["question"]]
                    roll = rng.random()
                    if roll < ability:
                        answers[str(index)] = quiz_attempts.model_answer(question, item, lang)
                    elif roll < ability + (1 - ability) * 0.8:
                        right = quiz_attempts.model_answer(question, item, lang)
                        if question.type == "single":
                            options = len(question.data(lang)["choices"])
                            answers[str(index)] = (right + 1) % options
                        elif question.type == "truefalse":
                            answers[str(index)] = not right
                        elif question.type == "multiple":
                            answers[str(index)] = right[:1] if len(right) > 1 else []
                        elif question.type in ("short", "numerical"):
                            answers[str(index)] = "0"
                attempt.answers = answers
                attempt.answer_langs = {key: lang for key in answers}
                db.session.commit()
                attempt = quiz_attempts.submit(attempt, when + dt.timedelta(minutes=20))
                choices: dict[int, list] = {}
                for rid, qid, value in db.session.execute(db.text(
                        "SELECT response_id, question_id, value FROM assessment_response_choice WHERE response_id IN "
                        "(SELECT id FROM assessment_response WHERE attempt_id = :a) ORDER BY id"), {"a": attempt.id}):
                    choices.setdefault(rid, []).append((qid, c(value)))
                kept = tuple((qid, pos, c(attempt_score), c(score), c(blank), tuple(choices.get(rid, ())))
                             for rid, qid, pos, attempt_score, score, blank in db.session.execute(db.text(
                                 "SELECT id, question_id, position, attempt_score, score, blank FROM assessment_response "
                                 "WHERE attempt_id = :a ORDER BY id"), {"a": attempt.id}))
                (passed if attempt.passed else failed).append((
                    "\t".join([c(attempt.lang), c(attempt.items), c(attempt.answers), c(attempt.answer_langs),
                               c(attempt.scores), c(attempt.score), c(attempt.passed)]), kept))
            # The pool's attempts go, and what grading kept for them (no other attempts exist yet).
            db.session.execute(db.text("DELETE FROM assessment_attempt WHERE quiz_id = :q"), {"q": quiz.id})
            for table in ("assessment_question_stat", "assessment_option_stat", "assessment_quiz_result"):
                db.session.execute(db.text(f"DELETE FROM {table} WHERE quiz_id = :q"), {"q": quiz.id})
            db.session.commit()
            if not passed or not failed:  # the ability mix makes both likely; make sure
                raise SystemExit(f"attempt pool for {slug}: {len(passed)} passed, {len(failed)} failed")
            return passed, failed

    def quiz_attempts(self) -> None:
        rng, s = self.rng, self.s
        pool_size = 60 if s.technicians >= 10000 else 10 if s.technicians >= 1000 else 6
        quiz_ids = dict(self.q("SELECT slug, id FROM assessment_quiz"))
        pools = {}
        # Only the quizzes attempts are copied for; a quarterly quiz copied from the template (same
        # settings and sections, so the same questions) takes copies of the template's attempts.
        for slug in [self.onboarding_quiz] + [q[1] for q in self.quarterly]:
            source = self.pool_of.get(slug, slug)
            if source not in pools:
                pools[source] = self._attempt_pool(source, pool_size)
            pools[slug] = pools[source]
        log(f"  attempt pools: {len({id(p) for p in pools.values()})} quizzes × {pool_size}+ real attempts")
        self.passed_at: dict[tuple[int, str], dt.datetime] = {}

        first_aid = self.next_id("assessment_attempt")
        # Each copied attempt (in id order): its quiz, user, number and pool entry, for its kept responses.
        copied = [array("l") for _ in range(4)]
        entries: list = []
        entry_index: dict[int, int] = {}

        def lines():
            aid = first_aid

            def one(user, slug, number, started, passed):
                nonlocal aid
                good, bad = pools[slug]
                body, kept = rng.choice(good if passed else bad)
                line = "\t".join([str(aid), str(quiz_ids[slug]), str(user), str(number), c(started),
                                  c(started + dt.timedelta(minutes=60)), c(started + dt.timedelta(minutes=25)),
                                  "submitted", "\\N", body])
                if id(kept) not in entry_index:
                    entry_index[id(kept)] = len(entries)
                    entries.append(kept)
                for column, value in zip(copied, (quiz_ids[slug], user, number, entry_index[id(kept)])):
                    column.append(value)
                aid += 1
                return line

            for user in self.techs:
                start = self.tech_start[user]
                if user in self.onboarded:  # the onboarding final: up to 3 tries
                    when = self.onboarded[user] - dt.timedelta(hours=2)
                    tries = rng.choices([1, 2, 3], [0.7, 0.22, 0.08])[0]
                    for n in range(1, tries + 1):
                        passed = n == tries and rng.random() < 0.97
                        yield one(user, self.onboarding_quiz, n, when - dt.timedelta(days=tries - n), passed)
                        if passed:
                            self.passed_at[(user, self.onboarding_quiz)] = when + dt.timedelta(minutes=25)
                for cid, slug, first, due in self.quarterly:
                    done = self.completed.get((user, cid))
                    if done is None and (start > due or rng.random() < 0.5):
                        continue
                    tries = max(1, min(12, round(rng.expovariate(1 / s.quarterly_attempts_mean) + 0.5)))
                    base = done or dt.datetime.combine(min(due, TODAY), dt.time(6), dt.timezone.utc)
                    for n in range(1, tries + 1):
                        passed = done is not None and n == tries
                        when = base - dt.timedelta(hours=3 * (tries - n)) + dt.timedelta(minutes=5)
                        yield one(user, slug, n, when - dt.timedelta(minutes=25), passed)
                        if passed:
                            self.passed_at[(user, slug)] = when

        columns = ["id", "quiz_id", "user_id", "number", "started_at", "deadline", "submitted_at", "status",
                   "open_slot", "lang", "items", "answers", "answer_langs", "scores", "score", "passed"]
        self.counts["quiz attempts"] = copy(self.conn, "assessment_attempt", columns, lines(), chunk=20000)
        self._kept_responses(first_aid, copied, entries)
        # Drop the completions whose quiz was not passed (the course is complete only with the quiz).
        for (user, cid) in list(self.completed):
            slug = next((q[1] for q in self.quarterly if q[0] == cid), self.onboarding_quiz)
            if (user, slug) not in self.passed_at:
                self.completed.pop((user, cid))

    def _kept_responses(self, first_aid: int, copied: list, entries: list) -> None:
        """What grading keeps for each attempt (its responses and chosen options, then the quiz
        report figures summed from them, as the migration that added them fills them), written for
        the copied attempts: each the responses of the pool attempt it copies."""
        first_rid, first_cid = self.next_id("assessment_response"), self.next_id("assessment_response_choice")

        def each():
            """(response id, attempt id, quiz, user, number, kept response) in id order."""
            rid = first_rid
            for k, (quiz, user, number, entry) in enumerate(zip(*copied)):
                for response in entries[entry]:
                    yield rid, first_aid + k, quiz, user, number, response
                    rid += 1

        def responses():
            for rid, aid, quiz, user, number, (qid, pos, attempt_score, score, blank, _ch) in each():
                yield f"{rid}\t{aid}\t{quiz}\t{user}\t{qid}\t{pos}\t{number}\t{attempt_score}\t{score}\t{blank}"

        def choices():
            cid = first_cid
            for rid, _aid, quiz, user, number, response in each():
                for qid, value in response[5]:
                    yield f"{cid}\t{rid}\t{quiz}\t{user}\t{qid}\t{value}\t{number}"
                    cid += 1

        self.counts["kept responses"] = copy(
            self.conn, "assessment_response", ["id", "attempt_id", "quiz_id", "user_id", "question_id", "position",
                                               "attempt_number", "attempt_score", "score", "blank"],
            responses(), chunk=50000)
        copy(self.conn, "assessment_response_choice", ["id", "response_id", "quiz_id", "user_id", "question_id",
                                                       "value", "attempt_number"], choices(), chunk=50000)
        started = time.monotonic()
        for sql in bench_module("pages_scale").KEPT:  # the statements migration a3c7e1f04b92 fills them with
            self.conn.execute(sql)
        self.conn.commit()
        log(f"  quiz report figures summed in {time.monotonic() - started:.1f} s")

    # certificates ------------------------------------------------------------------------------
    def certificates(self) -> None:
        rng, s = self.rng, self.s
        tiers = dict(self.q("SELECT level, id FROM cert_tier"))
        want = s.certificates
        n1, n2 = round(want * 0.47), round(want * 0.33)
        n3 = want - n1 - n2
        holders1 = rng.sample(self.techs, min(n1, len(self.techs)))
        holders2 = rng.sample(holders1, min(n2, len(holders1)))
        holders3 = rng.sample(holders2, min(n3, len(holders2)))
        certs, events = [], []
        cert_id, first_event = self.next_id("cert_certificate"), self.next_id("cert_event")

        def event(action, before, after, at, by, rule="", reason="", valid_until=None):
            events.append(row(first_event + len(events), cert_id, action, before, after, at, by, rule, reason, "",
                              {}, False, [], valid_until))

        self.cert_of: dict[int, int] = {}
        statuses = ["active"] * 80 + ["expired"] * 8 + ["suspended"] * 4 + ["lapsed"] * 6 + ["revoked"] * 2
        for level, holders in ((1, holders1), (2, holders2), (3, holders3)):
            for user in holders:
                status = rng.choice(statuses)
                if status == "active":
                    issued = TODAY - dt.timedelta(days=rng.randint(0, 364))
                else:
                    issued = TODAY - dt.timedelta(days=rng.randint(200, 700))
                valid = issued + dt.timedelta(days=365)
                if status == "expired":
                    valid = min(valid, TODAY - dt.timedelta(days=1))
                created = dt.datetime.combine(issued, dt.time(4), dt.timezone.utc)
                certs.append(row(cert_id, f"NS{secrets.token_hex(6).upper()}", tiers[level], user, issued, valid, status,
                                 "" if status == "active" else f"benchmark: {status}", "", {}, False, created, created))
                event("issued", None, "active", created, self.trainers[0], valid_until=valid)
                if issued < TODAY - dt.timedelta(days=365) and status == "active":
                    event("renewed", "active", "active", created, self.trainers[0], valid_until=valid)
                if status != "active":  # the action is named as the status it leads to
                    by_rule = status in ("expired", "lapsed")
                    event(status, "active", status, dt.datetime.combine(min(valid, TODAY), dt.time(5), dt.timezone.utc),
                          None if by_rule else self.trainers[0], "sweep" if by_rule else "", f"benchmark: {status}")
                self.cert_of.setdefault(user, cert_id)
                cert_id += 1
        copy(self.conn, "cert_certificate", ["id", "number", "tier_id", "user_id", "issued_on", "valid_until",
                                             "status", "status_reason", "status_msg_id", "status_params", "forced",
                                             "created_at", "updated_at"], certs)
        copy(self.conn, "cert_event", ["id", "certificate_id", "action", "from_status", "to_status", "at", "by_id",
                                       "rule", "reason", "reason_msg_id", "reason_params", "forced", "evidence",
                                       "valid_until"], events)
        self.counts["certificates"], self.counts["certificate events"] = len(certs), len(events)

    # audits ------------------------------------------------------------------------------
    def audits(self) -> None:
        rng, s = self.rng, self.s
        template_id, spec = self.q("SELECT id, spec FROM audit_template WHERE current ORDER BY id LIMIT 1")[0]
        items = [item for section in spec["sections"] for item in section["items"]]
        pool = []
        for _ in range(400):
            care = rng.choice([0.8, 0.9, 0.95, 0.98])
            responses = {}
            for item in items:
                kind = item["type"]
                if kind == "yesno":
                    good = item.get("pass_when", "yes")
                    bad = "no" if good == "yes" else "yes"
                    p_bad = 0.004 if item.get("red_line") else 1 - care
                    responses[item["id"]] = bad if rng.random() < p_bad else good
                elif kind == "rating":
                    responses[item["id"]] = rng.choice([3, 4, 5, 5] if rng.random() < care else [1, 2, 3])
                elif kind == "choice":
                    options = [o["id"] for o in item["options"]]
                    responses[item["id"]] = options[0] if rng.random() < care else rng.choice(options)
            scored = score_report(spec, responses)
            pool.append("\t".join([c(responses), c({}), c(scored.score), c(scored.result), c(scored.red_line_failed),
                                   c(scored.section_scores), c(scored.failed_items)]))
        days = (TODAY - HISTORY_START).days

        first_aid = self.next_id("audit")

        def lines():
            aid = first_aid
            for n in range(s.audits):
                tech = self.techs[rng.randrange(len(self.techs))]
                visited = dt.datetime.combine(HISTORY_START + dt.timedelta(days=rng.randrange(days)),
                                              dt.time(rng.randint(1, 10), rng.randint(0, 59)), dt.timezone.utc)
                submitted = visited + dt.timedelta(hours=3)
                yield "\t".join([str(aid), str(template_id), str(self.auditors[n % len(self.auditors)]), str(tech),
                                 c(visited), f"WO{n:08d}", rng.choice(PRODUCTS), f"City {tech % 400}", "submitted",
                                 rng.choice(pool), c(submitted), c(submitted), c(submitted),
                                 c(submitted + dt.timedelta(days=2) if n % 3 else None), ""])
                aid += 1

        self.counts["audit reports"] = copy(
            self.conn, "audit", ["id", "template_id", "auditor_id", "technician_id", "visited_at", "work_order",
                                 "product", "city", "status", "responses", "comments", "score", "result",
                                 "red_line_failed", "section_scores", "failed_items", "created_at", "updated_at",
                                 "submitted_at", "acknowledged_at", "technician_comment"], lines(), chunk=20000)
        # Each submitted report's failed items, one row each, as scoring keeps them (audit_failed_item).
        started = time.monotonic()
        self.conn.execute("""INSERT INTO audit_failed_item (audit_id, item_id)
                             SELECT DISTINCT a.id, f.item FROM audit a, json_array_elements_text(a.failed_items) AS f(item)
                             WHERE a.status = 'submitted' AND a.id >= %s""", (first_aid,))
        self.conn.commit()
        log(f"  audit_failed_item: filled in {time.monotonic() - started:.1f} s")

    # search log ------------------------------------------------------------------------------
    def search_logs(self) -> None:
        rng, s = self.rng, self.s
        seconds = (TODAY - HISTORY_START).days * 86400
        base = dt.datetime.combine(HISTORY_START, dt.time(0), dt.timezone.utc)
        words = SEARCHES + [f"E{n}" for n in range(1, 40)] + [f"未知故障{n}" for n in range(300)]

        first_sid = self.next_id("kb_search_log")

        def lines():
            sid = first_sid
            for n in range(s.search_logs):
                query = rng.choice(words)
                results = 0 if query.startswith("未知") else rng.randint(1, 30)
                lang = "en" if query.isascii() and " " in query else "zh"
                when = base + dt.timedelta(seconds=rng.randrange(seconds))
                user = self.techs[rng.randrange(len(self.techs))]
                yield (f"{sid}\t{query}\t{query.lower()}\t{lang}\t{results}\t{'t' if results and n % 3 else 'f'}\t"
                       f"{user}\t{when.isoformat()}")
                sid += 1

        self.counts["search-log rows"] = copy(
            self.conn, "kb_search_log", ["id", "query", "norm", "lang", "results", "opened", "user_id", "created_at"],
            lines(), chunk=100000)


# --- serving and measuring -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


class Client:
    """A cookie-keeping HTTP client (no redirects followed) that times whole responses."""

    def __init__(self, base: str, timeout: float):
        self.base, self.timeout = base, timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def get(self, path: str, data: dict | None = None, timeout: float | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds); status "timeout" when no complete answer came within ``timeout``."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        started = time.perf_counter()
        try:
            response = self.opener.open(self.base + path, body, timeout=timeout or self.timeout)
            status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        except (TimeoutError, socket.timeout, urllib.error.URLError, ConnectionError) as error:
            if isinstance(error, urllib.error.URLError) and not isinstance(error.reason, (TimeoutError, socket.timeout)):
                raise
            status, payload = "timeout", b""
        return status, payload, time.perf_counter() - started

    def login(self, username: str) -> None:
        _s, page, _t = self.get("/login")
        match = CSRF_RE.search(page.decode())
        status, _b, _t = self.get("/login", {"username": username, "password": PASSWORD,
                                            "csrf_token": match.group(1) or match.group(2)})
        if status != 302:
            raise SystemExit(f"sign-in as {username} failed: HTTP {status}")


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def workers_of(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


class RssSampler:
    def __init__(self, master: int):
        self.master = master
        self.peak: dict[int, int] = {}
        self.base = {pid: rss_kb(pid) for pid in workers_of(master)}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in workers_of(self.master):
                self.peak[pid] = max(self.peak.get(pid, 0), rss_kb(pid))
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def growth(self) -> tuple[float, float]:
        """(peak RSS of the worker that grew most, its growth), in MB."""
        best = (0.0, 0.0)
        for pid, peak in self.peak.items():
            grown = (peak - self.base.get(pid, peak)) / 1024
            if grown >= best[1]:
                best = (peak / 1024, grown)
        return best


class Server:
    def __init__(self, env: dict, workers: int, timeout: int):
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(env, PORTAL_BASE_URL=self.base)
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--workers", str(workers), "--timeout", str(timeout),
             "--bind", f"127.0.0.1:{self.port}", "portal:create_app()"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ready(self) -> None:
        """Wait until it answers (it was started early: its workers boot while the network is built),
        then let every worker open its search index."""
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=5)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise SystemExit("gunicorn did not start: " + self.process.stderr.read().decode()[-2000:])
                time.sleep(0.3)
        self.warm_up()

    def warm_up(self) -> None:
        for _ in range(2 * self.workers):  # every worker's first request opens its search index
            Client(self.base, 60).get("/cases?q=E1")

    def recycle(self, workers: int) -> None:
        """After a request we stopped waiting for: kill the workers still busy with it (gunicorn
        starts new ones), so the next page is not queued behind abandoned work."""
        for pid in workers_of(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if len(workers_of(self.process.pid)) >= workers:
                try:
                    urllib.request.urlopen(self.base + "/healthz", timeout=5)
                    break
                except OSError:
                    pass
        self.warm_up()

    def stop(self):
        self.process.send_signal(signal.SIGQUIT)  # quick shutdown: measuring is over, nothing to finish
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def measure_page(client: Client, path: str, reps: int, budget_s: float, timeout: float) -> dict:
    """The first request is a warm-up, not counted, unless it alone took more than half the
    budget: then it is the only figure (n=1). A request that gets no complete answer within
    ``timeout`` ends the page's measurement with "timeout"."""
    times, status, size = [], None, 0
    spent = 0.0
    for _ in range(reps + 1):
        status, payload, took = client.get(path, timeout=timeout)
        if status != 200:
            return {"status": status, "times": times[1:] if len(times) > 1 else times, "bytes": len(payload),
                    "timeout": timeout}
        times.append(took)
        size = len(payload)
        spent += took
        if len(times) == 1 and took > budget_s / 2:
            break
        if spent > budget_s and len(times) >= 2:
            break
    counted = times[1:] if len(times) > 1 else times
    return {"status": status, "times": counted, "bytes": size, "timeout": timeout}


def measure_export(client: Client, master: int, path: str, runs: int, timeout: float) -> dict:
    out = {"times": [], "peak": 0.0, "growth": 0.0, "rows": 0, "bytes": 0, "status": None, "timeout": timeout}
    for _ in range(runs):
        with RssSampler(master) as sampler:
            status, payload, took = client.get(path, timeout=timeout)
        out["status"] = status
        if status == "timeout":
            out["peak"], out["growth"] = sampler.growth()
        if status != 200:
            break
        peak, growth = sampler.growth()
        out["times"].append(took)
        out["peak"], out["growth"] = max(out["peak"], peak), max(out["growth"], growth)
        out["bytes"] = len(payload)
        out["rows"] = payload.count(b"\n") - 1 if b"format=xlsx" not in path.encode() and "xlsx" not in path else None
        if took > timeout / 4:  # one slow run is evidence enough
            break
    return out


# --- profiling a slow page in-process ---------------------------------------------------------


def profile_page(app, path: str, username: str) -> dict:
    """One request to ``path`` in-process under cProfile, with every SQL statement timed."""
    statements: list[tuple[float, str]] = []
    with app.app_context():
        engine = db.engine

        def before(conn, cursor, statement, params, context, executemany):
            conn.info.setdefault("t", []).append(time.perf_counter())

        def after(conn, cursor, statement, params, context, executemany):
            statements.append((time.perf_counter() - conn.info["t"].pop(), statement))

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    match = CSRF_RE.search(page)
    client.post("/login", data={"username": username, "password": PASSWORD,
                                "csrf_token": match.group(1) or match.group(2)})
    statements.clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    response = client.get(path)
    response.get_data()
    profiler.disable()
    total = time.perf_counter() - started
    with app.app_context():
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_cc, calls, own, cum, _callers) in stats.stats.items():
        short = filename.replace(str(ROOT) + "/", "")
        if "site-packages/" in short:
            short = short.split("site-packages/", 1)[1]
        rows.append((own, cum, calls, f"{short}:{line}({name})"))
    own_top = sorted(rows, reverse=True)[:6]
    portal_cum = sorted((r for r in rows if r[3].startswith("portal/")), key=lambda r: -r[1])[:6]
    shapes: dict[str, list[float]] = {}
    for took, statement in statements:
        shape = re.sub(r"\s+", " ", re.sub(r"IN \(__\[POSTCOMPILE[^)]*\)\)|\(%\(.*?\)s(, %\(.*?\)s)*\)", "(…)",
                                           statement))[:110]
        shapes.setdefault(shape, []).append(took)
    top_sql = sorted(shapes.items(), key=lambda kv: -sum(kv[1]))[:3]
    return {"total": total, "status": response.status_code, "queries": len(statements),
            "sql_s": sum(t for t, _s in statements), "own": own_top, "portal": portal_cum,
            "top_sql": [(len(v), sum(v), k) for k, v in top_sql]}


# --- the run -----------------------------------------------------------------------------------


def pages_to_measure(ids: dict) -> list[tuple[str, str, str]]:
    """(name, path, who) for each page."""
    region, assignment, cohort = ids["region"], ids["assignment"], ids["cohort"]
    onboarding, quarterly = ids["onboarding_quiz"], ids["quarterly_quiz"]
    return [
        ("trainer home", "/trainer", "trainer"),
        ("dashboard", "/dashboard/", "trainer"),
        ("dashboard by outlet", "/dashboard/?by=outlet", "trainer"),
        ("certificate eligibility board", "/certificates/eligibility", "trainer"),
        ("certificate register", "/certificates/", "trainer"),
        ("certificate register, one region", f"/certificates/?region={region}", "trainer"),
        ("certificate register, status suspended", "/certificates/?status=suspended", "trainer"),
        ("certificate register, expiring in 30 days", "/certificates/?expiring=30", "trainer"),
        ("assignment report (current quarter)", f"/learning/assignments/{assignment}", "trainer"),
        ("assignments list", "/learning/assignments", "trainer"),
        ("assignment overdue list (progress per person)", f"/learning/assignments/{assignment}/overdue", "trainer"),
        ("assignment overdue list, one region", f"/learning/assignments/{assignment}/overdue?region={region}",
         "trainer"),
        ("assignment: change the due date", f"/learning/assignments/{assignment}/due", "trainer"),
        ("cohort matrix", f"/learning/cohorts/{cohort}", "trainer"),
        ("cohorts list", "/learning/cohorts", "trainer"),
        ("archived cohorts list", "/learning/cohorts?archived=1", "trainer"),
        ("cohort members", f"/learning/cohorts/{cohort}/members", "trainer"),
        ("cohort settings and log", f"/learning/cohorts/{cohort}/settings", "trainer"),
        ("cohort member picker", f"/learning/cohorts/{cohort}/members/add", "trainer"),
        ("cohort member picker, one region", f"/learning/cohorts/{cohort}/members/add?region={region}", "trainer"),
        ("cohort member picker, username search", f"/learning/cohorts/{cohort}/members/add?q=ns0123", "trainer"),
        ("cohort member picker, started since", f"/learning/cohorts/{cohort}/members/add?started_from="
                                                f"{(TODAY - dt.timedelta(days=60)).isoformat()}", "trainer"),
        ("quiz report: onboarding final", f"/quizzes/{onboarding}/report", "trainer"),
        ("quiz report: quarterly quiz", f"/quizzes/{quarterly}/report", "trainer"),
        ("quiz reports list", "/quizzes/reports", "trainer"),
        ("quiz editor: new quiz (category choices)", "/quizzes/new", "trainer"),
        ("quiz editor: quarterly quiz", f"/quizzes/{quarterly}/edit", "trainer"),
        ("quiz export: quarterly quiz (.quiz.yaml)", f"/quizzes/{quarterly}/export", "trainer"),
        ("quiz report: every attempt, onboarding final", f"/quizzes/{onboarding}/report/attempts", "trainer"),
        ("quiz report: every attempt, one region", f"/quizzes/{onboarding}/report/attempts?region={region}", "trainer"),
        ("quiz marking queue: onboarding final", f"/quizzes/{onboarding}/marking", "trainer"),
        ("quiz marking queue, marked", f"/quizzes/{onboarding}/marking?state=marked", "trainer"),
        ("quiz own rules (overrides)", f"/quizzes/{onboarding}/overrides", "trainer"),
        ("question bank", "/assessment/bank/", "trainer"),
        ("question bank, text search", "/assessment/bank/?q=R32", "trainer"),
        ("question bank, hard by facility", "/assessment/bank/?facility=hard", "trainer"),
        ("question bank, one question (key, versions, regrade count)", "/assessment/bank/1", "trainer"),
        ("question bank, preview", "/assessment/bank/1/preview", "trainer"),
        ("question bank, editor", "/assessment/bank/1/edit", "trainer"),
        ("audit reports", "/audits/reports", "trainer"),
        ("audit reports by outlet", "/audits/reports?by=outlet", "trainer"),
        ("technicians list", "/technicians/", "trainer"),
        ("technicians list, one region", f"/technicians/?region={region}", "trainer"),
        ("technicians list, username search", "/technicians/?q=ns01", "trainer"),
        ("technicians list, name search", "/technicians/?q=" + urllib.parse.quote("技师0001"), "trainer"),
        ("search-gap report", "/cases/reports/gaps", "trainer"),
        # reminder forms: the preview counts every person the reminder reaches (one COUNT)
        ("reminder form: overdue of an assignment", f"/reminders/new/overdue?assignment={assignment}", "trainer"),
        ("reminder form: every technician", "/reminders/new/technicians", "trainer"),
        ("reminder form: one region", f"/reminders/new/technicians?region={region}", "trainer"),
        ("reminders sent", "/reminders/", "trainer"),
        ("auditor home", "/auditor", "auditor"),
        ("auditor's audits", "/audits/", "auditor"),
    ]


def exports_to_measure(ids: dict) -> list[tuple[str, str]]:
    assignment, cohort = ids["assignment"], ids["cohort"]
    onboarding, quarterly = ids["onboarding_quiz"], ids["quarterly_quiz"]
    out = []
    for fmt in ("csv", "xlsx"):
        out += [
            (f"certificate register ({fmt})", f"/certificates/?format={fmt}"),
            (f"eligibility board ({fmt})", f"/certificates/eligibility?format={fmt}"),
            (f"technicians ({fmt})", f"/technicians/?format={fmt}"),
            (f"assignment report ({fmt})", f"/learning/assignments/{assignment}?format={fmt}"),
            (f"cohort matrix ({fmt})", f"/learning/cohorts/{cohort}?format={fmt}"),
            (f"quiz results: quarterly ({fmt})", f"/quizzes/{quarterly}/report?format={fmt}"),
            (f"quiz item analysis: onboarding final ({fmt})", f"/quizzes/{onboarding}/report?format=items-{fmt}"),
            (f"audit scores by month ({fmt})", f"/audits/reports?export=monthly&format={fmt}"),
            (f"audit failed items ({fmt})", f"/audits/reports?export=pareto&format={fmt}"),
            (f"audit red-line incidents ({fmt})", f"/audits/reports?export=red-lines&format={fmt}"),
            (f"search gaps ({fmt})", f"/cases/reports/gaps?format={fmt}"),
            (f"targeted lessons ({fmt})", f"/learning/targeted?format={fmt}"),
        ]
    return out


def run_exam_day(base: str, accounts: list[tuple[str, str]], quiz_slug: str, duration_s: float,
                 database_url: str, **options) -> dict | None:
    """EXAM-DAY HOOK: benchmarks/exam_day.py (written separately) drives many technicians taking
    the quiz at once and checks what was stored against ``database_url`` (this script took
    DATABASE_URL out of the environment, so it is passed). Called when the module exists; its
    figures go into this section."""
    if not (BENCH / "exam_day.py").exists():
        return None
    return bench_module("exam_day").run(base, accounts, quiz_slug, duration_s, database_url=database_url, **options)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def fmt_s(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds >= 1 else fmt_ms(seconds)


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


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# The kept tables the app keeps up to date by its own events. Rows copied in behind its back (a
# build), or a migration that arrived after a build (a --reuse run), leave them behind: these
# commands bring them to what the app would have written, in this order, on both paths.
FILL_STEPS: list[tuple[str, ...]] = [
    ("learning-members", "rebuild"),  # the kept assignment members (learning_assignment_member)
    ("quizzes", "keep-responses"),  # kept responses and quiz report figures of attempts that have none
    ("search", "gaps-rebuild"),  # kept search gaps per day (kb_search_gap_day) from the copied search log
    ("daily",),  # eligibility board rows decided, discrimination indexes, the expiry sweep
]


def flask(app, *args: str) -> float:
    """``flask --app portal <args>`` run in this process (the app's own command line: no second
    interpreter to start); the seconds it took. A failing command stops the run."""
    started = time.monotonic()
    log("flask " + " ".join(args))
    result = app.test_cli_runner().invoke(args=list(args))
    if result.exit_code != 0:
        raise SystemExit(f"flask {' '.join(args)} failed (exit {result.exit_code}): {result.output[-2000:]}"
                         + (f" {result.exception!r}" if result.exception else ""))
    return time.monotonic() - started


def vacuum(conn) -> None:
    """VACUUM ANALYZE, as autovacuum would have done on a database that grew by use: rows just
    bulk-copied (or rewritten by the fill steps) are not yet marked all-visible, so index-only
    scans would read the table's pages instead (220 ms instead of 3 ms for the dashboard's
    audit aggregate at full size), and the planner has no statistics."""
    log("VACUUM ANALYZE")
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False


def fill_kept(app) -> list[tuple[str, float]]:
    return [("flask " + " ".join(step), flask(app, *step)) for step in FILL_STEPS]


def read_meta(conn) -> dict:
    """What --build-only stored about the network (the latest build in this database)."""
    try:
        doc = conn.execute("SELECT doc FROM netscale_meta ORDER BY ctid DESC LIMIT 1").fetchone()
    except psycopg.errors.UndefinedTable:
        doc = None
    if not doc:
        raise SystemExit("this database has no netscale_meta: build it with --build-only first")
    return doc[0]


def add_exam_batch(conn, n: int, batch: str) -> list[str]:
    """Fresh exam-day accounts for a --reuse run, each a copy of the build's first one (its roles,
    cohort, lessons and sign-offs): the onboarding final allows a few attempts a day apart, so the
    build's own accounts cannot sit it on every run. Added before the fill steps, which keep the
    kept tables right for them."""
    template = conn.execute('SELECT id FROM "user" WHERE username = %s', (exam_username(0),)).fetchone()
    if template is None:
        raise SystemExit(f"no {exam_username(0)} account to copy the exam-day accounts from")

    def columns(table: str) -> list[str]:
        return [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s AND column_name <> 'id' ORDER BY ordinal_position", (table,))]

    def clone(table: str, key: str, values: dict) -> int | None:
        """Copy the template's rows of ``table`` (``key`` = the template) with ``values`` put in."""
        cols = columns(table)
        chosen = ", ".join(f"%({c})s" if c in values else f'"{c}"' for c in cols)
        quoted = ", ".join(f'"{c}"' for c in cols)
        returning = " RETURNING id" if table == "user" else ""
        cur = conn.execute(f'INSERT INTO "{table}" ({quoted}) SELECT {chosen} FROM "{table}" '
                           f'WHERE "{key}" = %(template)s{returning}', dict(values, template=template[0]))
        return cur.fetchone()[0] if returning else None

    names = []
    for i in range(n):
        username = exam_username(i, batch)
        uid = clone("user", "id", {"username": username, "name": f"考生 {batch}-{i:04d}", "created_at": NOW})
        for table in ("user_role", "learning_cohort_member", "learning_progress", "learning_signoff"):
            clone(table, "user_id", {"user_id": uid})
        names.append(username)
    conn.commit()
    fix_sequences(conn)
    return names


def measure_all(server: Server, items: list, measure, describe, kind: str) -> list:
    """Each (label, path, …) measured by ``measure(path, …)``, in turn: a request given up on
    recycles the busy workers so the next one does not queue behind it."""
    out = []
    for label, path, *rest in items:
        result = measure(path, *rest)
        if result["status"] == "timeout":
            server.recycle(server.workers)
        out.append((label, path, *rest, result))
        log(f"{kind} {label}: HTTP {result['status']}, " + (describe(result) if result["times"] else "–"))
    return out


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--technicians", type=int, default=None, help="network size (default 30,000; --quick: 150)")
    parser.add_argument("--quick", action="store_true", help="a small network, a few repetitions (< 2 min)")
    parser.add_argument("--output", type=Path, default=OUT, help="the Markdown file to write the section into")
    parser.add_argument("--database-url", default=_CALLER_DATABASE_URL or "postgresql://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server (any database on it; default $DATABASE_URL or the local server)")
    parser.add_argument("--database-name", default="portal_netscale", help="the database created (and dropped) for the run")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--build-only", action="store_true",
                        help="build the network, keep the database and stop (no measuring)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the network an earlier --build-only left in --database-name: no building, "
                             "and the database is kept (flask db upgrade and the fill steps are run first)")
    parser.add_argument("--reps", type=int, default=None, help="requests per page (default 25; --quick: 3)")
    parser.add_argument("--page-budget", type=float, default=None, help="seconds of requests per page at most (default 30; --quick: 2)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--page-timeout", type=float, default=None, help="give up on a page after (default 30 s)")
    parser.add_argument("--export-timeout", type=float, default=None, help="give up on an export after (default 60 s)")
    parser.add_argument("--exam-seconds", type=float, default=None)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if args.reuse and args.build_only:
        parser.error("--reuse measures an existing build; --build-only makes one")
    reps = args.reps or (3 if args.quick else 25)
    budget = args.page_budget or (2.0 if args.quick else 30.0)
    page_timeout = args.page_timeout or (8.0 if args.quick else 30.0)  # 100 × the target: no use waiting longer
    export_timeout = args.export_timeout or (12.0 if args.quick else 60.0)  # 2 × the target
    exam_seconds = args.exam_seconds or (10.0 if args.quick else 120.0)
    profile_budget = 1.0 if args.quick else 300.0  # --quick: one profile shows the profiling works
    rng = random.Random(args.seed)
    command = "python benchmarks/network_scale.py" + (" --quick" if args.quick else "") + (
        f" --technicians {args.technicians}" if args.technicians else "")

    server_url = make_url(args.database_url.replace("postgresql+psycopg://", "postgresql://"))
    admin_dsn = server_url.set(database="postgres").render_as_string(hide_password=False)
    name = args.database_name
    bench_url = server_url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        if args.reuse:
            args.keep = True  # a reused database is never dropped
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                raise SystemExit(f"no database {name} to reuse: build it with --build-only --database-name {name}")
        else:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    workdir = tempfile.TemporaryDirectory(prefix="netscale-")
    instance = Path(workdir.name) / "instance"
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY",)}
    env.update({"DATABASE_URL": bench_url, "PORTAL_INSTANCE_PATH": str(instance), "LANG": "C.UTF-8",
                "PORTAL_ENV": "production", "PORTAL_TRUSTED_HOSTS": "127.0.0.1",
                "PORTAL_BASE_URL": "http://127.0.0.1"})
    server = None
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": bench_url, "INSTANCE_PATH": str(instance / "bench"),
                          "SECRET_KEY": "netscale-" + secrets.token_hex(8)})
        # The schema first (a reused build may predate migrations that arrived since).
        schema_s = flask(app, "db", "upgrade")
        if not args.build_only:  # its workers boot while the network is built and filled
            server = Server(env, args.workers, timeout=int(max(page_timeout, export_timeout)) + 5)
        conn = psycopg.connect(bench_url)
        conn.execute("SET synchronous_commit = off")
        if args.reuse:
            meta = read_meta(conn)
            sizes = Sizes(meta["technicians"])
            counts, ids = meta["counts"], meta["ids"]
            # A build made before the builder wrote the kept quiz responses: keep-responses would fill
            # them one attempt at a time (tens of ms each, hours at full size). Build again instead.
            unkept = conn.execute("SELECT count(*) FROM assessment_attempt a WHERE a.status != 'open' AND NOT EXISTS "
                                  "(SELECT 1 FROM assessment_response r WHERE r.attempt_id = a.id)").fetchone()[0]
            if unkept > 50000:
                raise SystemExit(f"{name}: {unkept:,} graded attempts have no kept responses (built before the "
                                 "builder wrote them); `flask quizzes keep-responses` would take hours at this size: "
                                 f"build it again with --build-only --database-name {name}")
            exam_users = add_exam_batch(conn, counts.get("exam_accounts", sizes.exam_accounts),
                                        dt.datetime.now(dt.timezone.utc).strftime("%y%m%d%H%M%S"))
            log(f"reusing {name}: {meta['technicians']:,} technicians built {meta.get('built_at', 'earlier')}; "
                f"{len(exam_users)} fresh exam-day accounts")
            command = (f"{meta.get('command', 'python benchmarks/network_scale.py --build-only')} "
                       f"--database-name {name}, then python benchmarks/network_scale.py --reuse"
                       f"{' --quick' if args.quick else ''} --database-name {name}")
        else:
            schema_s += flask(app, "content", "load")
            sizes = Sizes(args.technicians or (150 if args.quick else 30000))
            builder = Builder(conn, app, sizes, rng)
            build_started = time.monotonic()
            builder.build()
            build_s = time.monotonic() - build_started
            counts = builder.counts
            ids = {"region": builder.regions[0], "assignment": builder.assignments[-1],
                   "cohort": builder.cohort_ids[-1] if builder.cohort_ids else 1,
                   "onboarding_quiz": builder.onboarding_quiz, "quarterly_quiz": builder.quarterly[-2][1]}
            exam_users = [exam_username(i) for i in range(sizes.exam_accounts)]
        # --build-only leaves the kept tables to the --reuse run, which fills them with the code it
        # measures (migrations that arrive in between may change what they hold).
        fill = [] if args.build_only else fill_kept(app)
        if fill:
            vacuum(conn)
        db_size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        if not args.reuse:
            log(f"built in {build_s:.0f} s (+ schema and content {schema_s:.0f} s, kept tables "
                f"{sum(t for _s, t in fill):.0f} s), database {db_size}")
            # What a later --reuse run needs to measure this database again without building it.
            meta = {"ids": ids, "technicians": sizes.technicians, "counts": counts, "build_s": build_s,
                    "schema_s": schema_s, "fill": fill, "db_size": db_size,
                    "command": command + (" --build-only" if args.build_only else ""),
                    "built_at": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"}
            conn.execute("CREATE TABLE IF NOT EXISTS netscale_meta (doc jsonb)")
            conn.execute("INSERT INTO netscale_meta (doc) VALUES (%s)", (json.dumps(meta),))
            conn.commit()
        conn.close()
        if args.build_only:
            args.keep = True
            log(f"built and kept database {name}; stopping (--build-only)")
            return 0

        server.ready()
        log(f"gunicorn on {server.base} ({args.workers} workers)")
        clients = {"trainer": Client(server.base, 60), "auditor": Client(server.base, 60)}
        clients["trainer"].login(TRAINER)
        clients["auditor"].login(AUDITOR)
        # The sign-in lives in the database (user_session), so it holds on recycled workers too.
        load_before = os.getloadavg()
        pages = measure_all(
            server, pages_to_measure(ids), lambda path, who: measure_page(clients[who], path, reps, budget, page_timeout),
            lambda r: f"p50 {fmt_ms(pct(r['times'], 50))} p95 {fmt_ms(pct(r['times'], 95))} n={len(r['times'])}",
            "page")
        exports = measure_all(
            server, exports_to_measure(ids),
            lambda path: measure_export(clients["trainer"], server.process.pid, path, 1 if args.quick else 2,
                                        export_timeout),
            lambda r: f"{fmt_s(max(r['times']))}, worker peak {r['peak']:.0f} MB (+{r['growth']:.0f})", "export")

        # --- EXAM-DAY HOOK ------------------------------------------------------------------
        accounts = [(username, PASSWORD) for username in exam_users]
        log(f"exam day: {len(accounts)} technicians for {exam_seconds:.0f} s")
        try:
            # --quick: a short exam (sign-in takes its first seconds), so a technician thinks 1 s
            # between saves instead of 5 and still saves several answers.
            exam = run_exam_day(server.base, accounts, ids["onboarding_quiz"], exam_seconds, bench_url,
                                **({"think_s": 1.0} if args.quick else {}))
        except Exception as error:  # the hook's failure is reported, not hidden
            exam = {"error": f"{type(error).__name__}: {error}"}
        # --------------------------------------------------------------------------------------

        load_after = os.getloadavg()
        log(f"exam day done: {exam.get('acknowledged') if isinstance(exam, dict) else exam} saves acknowledged")
        server.stop()
        server = None
        measured = [(label, path, who, r, page_outcome(r)) for label, path, who, r in pages] + [
            (label, path, "trainer", r, export_outcome(r)) for label, path, r in exports]
        profiles = {}
        spent = 0.0
        # Quickest failing requests first, so the budget covers as many as it can; those that got no
        # answer over HTTP are left out (one profiled request would take longer still).
        failing = sorted((m for m in measured if not m[4][0] and m[3]["status"] == 200 and m[3]["times"]),
                         key=lambda m: max(m[3]["times"]))
        for label, path, who, _r, _o in failing:
            if spent > profile_budget:
                break
            t = time.monotonic()
            profiles[path] = profile_page(app, path, TRAINER if who == "trainer" else AUDITOR)
            spent += time.monotonic() - t
            log(f"profiled {label}")
        results = dict(sizes=sizes, counts=counts, meta=meta, reused=args.reuse, fill=fill, db_size=db_size,
                       schema_s=schema_s, pages=pages, exports=exports, exam=exam, profiles=profiles, reps=reps,
                       budget=budget, workers=args.workers, command=command, exam_seconds=exam_seconds,
                       profile_budget=profile_budget,
                       exam_accounts=len(accounts), load=(load_before, load_after))
        write_section(args.output, render(results))
        log(f"wrote the network-scale section of {args.output} (run took {(time.monotonic() - T0) / 60:.1f} min)")
    finally:
        if server is not None:
            server.stop()
        try:
            db.session.remove()
            db.engine.dispose()
        except Exception:
            pass
        if not args.keep:
            with psycopg.connect(admin_dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped {name}")
        workdir.cleanup()
    return 0


def page_outcome(res: dict) -> tuple[bool, str, str]:
    """(target met, the measured figure, the table's result cell) of one page."""
    if res["status"] == "timeout":
        return False, f"no answer within {fmt_s(res['timeout'])}", f"fail (no answer within {fmt_s(res['timeout'])})"
    if res["status"] != 200 or not res["times"]:
        return False, f"HTTP {res['status']}", f"fail (HTTP {res['status']})"
    p95 = pct(res["times"], 95)
    ok = p95 * 1000 <= PAGE_P95_MS
    return ok, f"p95 {fmt_ms(p95)} (n={len(res['times'])})", "pass" if ok else "fail"


def export_outcome(res: dict) -> tuple[bool, str, str]:
    """(both targets met, the measured figures, the table's result cell) of one export."""
    if res["status"] == "timeout":
        return (False, f"no last byte within {fmt_s(res['timeout'])}, worker +{res['growth']:,.0f} MB",
                f"fail (no last byte within {fmt_s(res['timeout'])})")
    if res["status"] != 200 or not res["times"]:
        return False, f"HTTP {res['status']}", f"fail (HTTP {res['status']})"
    took = max(res["times"])
    why = (["slow"] if took > EXPORT_S else []) + (["memory grows"] if res["growth"] > EXPORT_GROWTH_MB else [])
    return not why, f"{fmt_s(took)}, worker +{res['growth']:,.0f} MB", "fail (" + ", ".join(why) + ")" if why else "pass"


def page_cells(res: dict) -> list:
    """n, p50, p95, max, size of one page's row."""
    times, limit = res["times"], fmt_s(res["timeout"])
    if res["status"] == "timeout":
        return [len(times), "–", f"> {limit}", f"> {limit}", "–"]
    if res["status"] != 200 or not times:
        return [0, "–", "–", "–", "–"]
    return [len(times), fmt_ms(pct(times, 50)), fmt_ms(pct(times, 95)), fmt_ms(max(times)),
            f"{res['bytes'] / 1024:,.0f} KB"]


def export_cells(res: dict) -> list:
    """rows, time, worker peak, growth of one export's row."""
    if res["status"] == "timeout":
        return ["–", f"> {fmt_s(res['timeout'])}", f"{res['peak']:,.0f} MB", f"+{res['growth']:,.0f} MB"]
    if res["status"] != 200 or not res["times"]:
        return ["–"] * 4
    rows = f"{res['rows']:,}" if res["rows"] is not None else f"({res['bytes'] / 1024:,.0f} KB)"
    return [rows, fmt_s(max(res["times"])), f"{res['peak']:,.0f} MB", f"+{res['growth']:,.0f} MB"]


def table(header: list[str], rows: list[list]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(str(cell) for cell in cells) + " |" for cells in rows])


def diagnose(prof: dict) -> tuple[str, str]:
    """(the cause a profile shows, what would fix it), one sentence each."""
    py_s = prof["total"] - prof["sql_s"]
    where = ", ".join(f"`{fn.split('(')[-1].rstrip(')')}` ({fn.split(':')[0]})" for _o, _c, _n, fn in prof["portal"][1:3])
    n, took, shape = prof["top_sql"][0] if prof["top_sql"] else (0, 0.0, "")
    if prof["queries"] > 200:
        return (f"one query per row (N+1): {prof['queries']:,} SQL statements for one request, `{shape[:70]}…` "
                f"alone {n:,} times; under {where}",
                "load the related rows with the list in one query (a join or one grouped query per page), "
                "not one query per row")
    if prof["sql_s"] > py_s:
        return (f"the database: {fmt_s(prof['sql_s'])} of {fmt_s(prof['total'])} in {prof['queries']:,} SQL "
                f"statements, most in `{shape[:70]}…` ({n:,}×, {fmt_s(took)}); under {where}",
                "an index that serves that statement, or a figure kept by the events that change it (or refreshed "
                "by `flask daily`) instead of aggregating the whole table on each request")
    return (f"Python work over many rows: {fmt_s(py_s)} of {fmt_s(prof['total'])} outside SQL "
            f"({prof['queries']:,} statements), under {where}",
            "let the database count and page (SQL aggregation, LIMIT/OFFSET) or keep the figure, so a request "
            "loads only the rows it shows")


def not_met(r: dict) -> list[str]:
    """One line per target not met: what was measured, the cause profiling found, what would fix it."""
    out = []
    for label, path, _who, res, (ok, figure, _cell) in r["measured"]:
        if ok:
            continue
        kind, target = (("export", f"≤ {EXPORT_S:.0f} s, +{EXPORT_GROWTH_MB:.0f} MB") if "format=" in path
                        else ("page", f"p95 ≤ {PAGE_P95_MS:.0f} ms"))
        prof = r["profiles"].get(path)
        if prof is not None:
            cause, fix = diagnose(prof)
            why = f"Cause (profiled): {cause}. Fix: {fix}."
        elif res["status"] == "timeout":
            why = "Cause: not profiled (no answer over HTTP: one profiled request would take longer still)."
        elif res["status"] != 200:
            why = "Cause: the request failed (see the server's log); not profiled."
        else:
            why = (f"Cause: not profiled in this run (the profiling time budget, {r['profile_budget']:.0f} s, "
                   "was spent on quicker ones; a run without --quick profiles more).")
        out.append(f"- {kind} **{label}** (`{path}`): {figure}; target {target}. {why}")
    exam = r["exam"]
    if isinstance(exam, dict):
        if "error" in exam:
            out.append(f"- **exam day**: the load script failed: {exam['error']}.")
        else:
            checks = [("save_p95_ms", 200, "save p95 {:,.0f} ms; target ≤ 200 ms"),
                      ("lost", 0, "{} answers lost; target 0"),
                      ("regraded_differently", 0, "{} attempts graded differently; target 0"),
                      ("status_5xx", 0, "{} 5xx answers; target 0")]
            for key, limit, text in checks:
                if exam.get(key) is not None and exam[key] > limit:
                    out.append(f"- **exam day**: {text.format(exam[key])} ({exam.get('users')} technicians, load "
                               f"average {exam.get('load_before')} → {exam.get('load_after')} on {os.cpu_count()} "
                               "cores). Cause: not profiled by this script (the save endpoint under concurrent load; "
                               "see the exam-day figures below).")
    return out


def render(r: dict) -> str:
    s: Sizes = r["sizes"]
    counts, meta = r["counts"], r["meta"]
    r["measured"] = [(label, path, who, res, page_outcome(res)) for label, path, who, res in r["pages"]] + [
        (label, path, "trainer", res, export_outcome(res)) for label, path, res in r["exports"]]
    out = ["# Network scale", "",
           "Written by `benchmarks/network_scale.py`; do not edit by hand (re-run the script).", "",
           f"- Command: `{r['command']}`",
           f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC (run took "
           f"{(time.monotonic() - T0) / 60:.1f} min)"]
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")
    out.append(f"- Machine: nproc {os.cpu_count()}, memory {int(mem) / 1024 / 1024:.1f} GiB, "
               f"Python {platform.python_version()}, {platform.platform()}")
    out.append(f"- Server: gunicorn, {r['workers']} sync workers, PORTAL_ENV=production, PostgreSQL; "
               f"each page requested {r['reps']} times after one warm-up (fewer when a page's requests "
               f"exceeded {r['budget']:.0f} s in all), over HTTP from one client on the same machine, signed in "
               f"as a trainer (auditor pages as an auditor). Exports: time to the last byte; peak RSS of the "
               f"worker that served it (VmRSS sampled every 20 ms) and its growth over the request.")
    lb, la = r["load"]
    out.append(f"- Load: the machine is shared with other work; 1-minute load average {lb[0]:.1f} when "
               f"measuring began, {la[0]:.1f} when it ended (2 cores: above 2 means requests waited for a CPU).")
    out += ["", "## Targets not met", ""]
    missed = not_met(r)
    out += missed or ["None: every page, export and exam-day figure meets its target."]
    out += ["", "## Network built", ""]
    fill = ", ".join(f"`{step}` {seconds:.0f} s" for step, seconds in r["fill"])
    if r["reused"]:
        out.append(f"Built earlier ({meta.get('built_at', 'date not recorded')}, {meta['db_size']} then) in "
                   f"{meta['build_s']:.0f} s of bulk COPY (plus {meta['schema_s']:.0f} s for `flask db upgrade` and "
                   f"`flask content load`); this run reused that database (`--reuse`): `flask db upgrade` "
                   f"{r['schema_s']:.0f} s, {r['exam_accounts']} fresh exam-day accounts, then the kept tables "
                   f"filled: {fill}. {r['db_size']} on disk now.")
    else:
        out.append(f"Database built in {meta['build_s']:.0f} s of bulk COPY (plus {r['schema_s']:.0f} s for "
                   f"`flask db upgrade` and `flask content load`), then the kept tables filled: {fill}; "
                   f"{r['db_size']} on disk.")
    out.append("")
    keys = ("regions", "provinces", "outlets", "technicians", "trainers", "auditors", "exam_accounts",
            "quarterly courses", "cohorts", "lesson progress", "sign-offs", "quiz attempts", "certificates",
            "certificate events", "audit reports", "search-log rows")
    out += table(["rows", "count"], [[key.replace("_", " "), f"{counts[key]:,}"] for key in keys if key in counts])
    steps = sorted((k[5:] for k in counts if k.startswith("time:")),
                   key=lambda k: Builder.STEPS.index(k) if k in Builder.STEPS else len(Builder.STEPS))
    out += ["", "Build time by step: " + ", ".join(f"{k} {counts['time:' + k]:.0f} s" for k in steps) + "."]
    out += ["", "## Pages", "", f"Target: p95 ≤ {PAGE_P95_MS:.0f} ms.", ""]
    out += table(["page", "path", "n", "p50", "p95", "max", "size", "result"],
                 [[label, f"`{path}`", *page_cells(res), outcome[2]]
                  for label, path, _w, res, outcome in r["measured"] if "format=" not in path])
    met = sum(1 for *_x, outcome in r["measured"][:len(r["pages"])] if outcome[0])
    out += ["", f"{met} of {len(r['pages'])} pages meet the target.", "", "## Exports", "",
            f"Target: ≤ {EXPORT_S:.0f} s to the last byte for 30,000 rows, and constant memory: the serving "
            f"worker grows by at most {EXPORT_GROWTH_MB:.0f} MB.", ""]
    out += table(["export", "path", "rows", "time", "worker peak RSS", "growth", "result"],
                 [[label, f"`{path}`", *export_cells(res), outcome[2]]
                  for label, path, _w, res, outcome in r["measured"][len(r["pages"]):]])
    met = sum(1 for *_x, outcome in r["measured"][len(r["pages"]):] if outcome[0])
    out += ["", f"{met} of {len(r['exports'])} exports meet both targets.", "", "## Exam day", ""]
    exam = r["exam"]
    if exam is None:
        out.append("Not measured: `benchmarks/exam_day.py` is not present. When it is, this script calls its "
                   f"`run(base_url, accounts, quiz_slug, duration_s)` with {r['exam_accounts']} technician accounts "
                   "enrolled in an onboarding cohort (allowed to take the onboarding final) for "
                   f"{r['exam_seconds']:.0f} s, and writes its figures here.")
    else:
        out += [f"`benchmarks/exam_day.py` `run()` with {r['exam_accounts']} technician accounts on the "
                f"onboarding final for {r['exam_seconds']:.0f} s:", ""]
        out += table(["figure", "value"], [[key, str(f"{value:,.3f}" if isinstance(value, float) else value)
                                            .replace("|", "/")]
                                           for key, value in (exam.items() if isinstance(exam, dict)
                                                              else [("result", exam)])])
    out += ["", "## Where the time goes on failing pages and exports", ""]
    failing = [(label, path) for label, path, _w, _res, outcome in r["measured"] if not outcome[0]]
    if not failing:
        out.append("Nothing fails its target.")
    else:
        out.append("One request of each failing page or export in-process (Flask test client, same database) under "
                   "cProfile with every SQL statement timed; quickest first, within a time budget. cProfile slows "
                   "Python code, so the totals are above the HTTP figures.")
    for label, path in failing:
        out += ["", f"### {label} (`{path}`)", ""]
        prof = r["profiles"].get(path)
        if prof is None:
            out.append("Not profiled: it got no answer over HTTP, or the profiling time budget was spent.")
            continue
        py_s = prof["total"] - prof["sql_s"]
        out += [f"{fmt_s(prof['total'])} in all: {prof['queries']:,} SQL statements taking {fmt_s(prof['sql_s'])}, "
                f"{fmt_s(py_s)} in Python. Cause: {diagnose(prof)[0]}.", ""]
        out += table(["portal function (cumulative)", "cumulative", "calls"],
                     [[f"`{fn}`", fmt_s(cum), f"{calls:,}"] for _own, cum, calls, fn in prof["portal"]])
        out.append("")
        out += table(["most own time", "own", "calls"],
                     [[f"`{fn}`", fmt_s(own), f"{calls:,}"] for own, _cum, calls, fn in prof["own"]])
        if prof["top_sql"]:
            out.append("")
            out += table(["SQL statement (shape)", "times run", "total"],
                         [[f"`{shape.replace('|', '/')}`", f"{n:,}", fmt_s(total)] for n, total, shape in prof["top_sql"]])
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
