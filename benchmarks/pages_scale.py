"""Trainer list pages and downloads at network size, on PostgreSQL.

Builds a network in a fresh database (8 regions, 32 provinces, 8,000 outlets, 30,000 technicians,
60,000 certificates, one quiz with N graded attempts of 10 questions each and their kept
responses), then times the pages through the WSGI stack (Flask test client, signed in as a
trainer: routing, session, queries, templates; no socket) and the 30,000-row downloads.

    createdb -h 127.0.0.1 -U postgres pages_bench
    python benchmarks/pages_scale.py postgresql://postgres@127.0.0.1:5432/pages_bench [attempts] [--reuse] [--only=PATH-PART]

Prints a Markdown table (p50/p95 of 20 requests each after 3 warm-ups).
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, text
from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402
from portal.assessment.services import refresh_discrimination  # noqa: E402
from portal.assessment.models import Attempt, ItemChoice, ItemResponse, Question, QuestionCategory, Quiz  # noqa: E402
from portal.auth.models import Outlet, Province, Region, User, UserRole  # noqa: E402
from portal.certification.models import Certificate, Tier  # noqa: E402
from portal.extensions import db  # noqa: E402

PASSWORD = "bench-pass-1"
BATCH = 10_000


def chunks(rows):
    for i in range(0, len(rows), BATCH):
        yield rows[i:i + BATCH]


def put(model, rows):
    for part in chunks(rows):
        db.session.execute(insert(model.__table__), part)
    db.session.commit()


def build(attempts: int) -> None:
    rng = random.Random(13)
    put(Region, [{"id": r, "code": f"R{r}", "name_zh": f"大区{r}", "name_en": f"Region {r}"} for r in range(1, 9)])
    put(Province, [{"id": p, "code": f"P{p:02d}", "name_zh": f"省{p}", "name_en": f"Province {p}",
                    "region_id": (p - 1) // 4 + 1} for p in range(1, 33)])
    put(Outlet, [{"id": o, "code": f"O{o:05d}", "name_zh": f"网点{o}", "name_en": f"Outlet {o}", "city": "城",
                  "province_id": (o - 1) // 250 + 1} for o in range(1, 8001)])
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    users = [{"id": u, "username": f"t{u:05d}", "name": f"技师{u}", "password_hash": hashed,
              "outlet_id": rng.randint(1, 8000), "start_date": date(2025, 1, 1)} for u in range(1, 30001)]
    users.append({"id": 30001, "username": "trainer", "name": "培训师", "password_hash": hashed})
    put(User, users)
    put(UserRole, [{"user_id": u, "role": "technician"} for u in range(1, 30001)] +
        [{"user_id": 30001, "role": "trainer"}])
    put(Tier, [{"id": t, "code": f"tier{t}", "level": t, "title_zh": f"级别{t}", "title_en": f"Tier {t}"}
               for t in (1, 2, 3)])
    today = date.today()
    certs = []
    for n in range(1, 60001):
        issued = today - timedelta(days=rng.randint(0, 730))
        certs.append({"id": n, "number": f"C-{n:06d}", "tier_id": rng.choice((1, 1, 2, 3)),
                      "user_id": rng.randint(1, 30000), "issued_on": issued,
                      "valid_until": issued + timedelta(days=365),
                      "status": rng.choice(("active",) * 8 + ("suspended", "revoked"))})
    put(Certificate, certs)
    put(QuestionCategory, [{"id": 1, "path": "bench/all"}])
    choices = {"choices": [{"text": f"option {i}", "fraction": 1.0 if i == 0 else 0.0} for i in range(4)]}
    put(Question, [{"id": q, "category_id": 1, "ident": f"q{q}", "type": "single", "text_zh": f"题{q}",
                    "text_en": f"Question {q}", "data_zh": choices, "data_en": choices} for q in range(1, 11)])
    put(Quiz, [{"id": 1, "slug": "bench", "title_zh": "基准", "title_en": "Bench",
                "settings": {"review": "explanations", "pass_mark": 60}}])
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    number: dict[int, int] = {}
    rid = 0
    for start in range(1, attempts + 1, BATCH):
        rows, responses, picks = [], [], []
        for a in range(start, min(start + BATCH, attempts + 1)):
            user = rng.randint(1, 30000)
            number[user] = number.get(user, 0) + 1
            marks = [1.0 if rng.random() < 0.1 * q else 0.0 for q in range(1, 11)]
            score = 10.0 * sum(marks)
            rows.append({"id": a, "quiz_id": 1, "user_id": user, "number": number[user], "status": "submitted",
                         "started_at": when, "submitted_at": when + timedelta(minutes=a % 100000),
                         "items": [{"question": q, "order": None} for q in range(1, 11)],
                         "answers": {}, "scores": marks, "score": score, "passed": score >= 60})
            for q, mark in enumerate(marks, start=1):
                rid += 1
                responses.append({"id": rid, "attempt_id": a, "quiz_id": 1, "user_id": user, "question_id": q,
                                  "position": q - 1, "attempt_number": number[user], "attempt_score": score,
                                  "score": mark, "blank": False})
                picks.append({"response_id": rid, "quiz_id": 1, "user_id": user, "question_id": q,
                              "value": "0" if mark else str(rng.randint(1, 3)),
                              "attempt_number": number[user]})
        db.session.execute(insert(Attempt.__table__), rows)
        db.session.execute(insert(ItemResponse.__table__), responses)
        db.session.execute(insert(ItemChoice.__table__), picks)
        db.session.commit()
    for statement in KEPT:  # what grading keeps by increments, filled at once (as the migration does)
        db.session.execute(text(statement))
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    started = time.perf_counter()
    decided = refresh_discrimination()
    print(f"flask daily's discrimination refresh: {decided} questions in {time.perf_counter() - started:.1f} s")


# The figures grading keeps (assessment_question_stat, _option_stat, _quiz_result), filled from the
# rows inserted above by the same statements as migration a3c7e1f04b92.
KEPT = [
    "INSERT INTO assessment_question_stat (quiz_id, question_id, seen, score_sum, blank) "
    "SELECT quiz_id, question_id, count(*), sum(score), sum(CASE WHEN blank THEN 1 ELSE 0 END) "
    "FROM assessment_response WHERE position >= 0 GROUP BY quiz_id, question_id",
    "INSERT INTO assessment_option_stat (quiz_id, question_id, value, chosen, \"first\") "
    "SELECT quiz_id, question_id, value, count(*), min(CAST(user_id AS BIGINT) * 1000000 + attempt_number) "
    "FROM assessment_response_choice GROUP BY quiz_id, question_id, value",
    "INSERT INTO assessment_quiz_result (quiz_id, user_id, attempts, best, passed, last, score_sum) "
    "SELECT a.quiz_id, a.user_id, count(*), max(coalesce(a.score, 0.0)), "
    "max(CASE WHEN a.passed THEN 1 ELSE 0 END) = 1, max(a.submitted_at), sum(coalesce(a.score, 0.0)) "
    "FROM assessment_attempt a WHERE a.status != 'open' GROUP BY a.quiz_id, a.user_id",
]


def timed(client, url: str, runs: int = 20) -> tuple[float, float, int]:
    for _ in range(3):
        client.get(url)
    took = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        size = len(response.get_data())
        took.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, (url, response.status_code)
    took.sort()
    return statistics.median(took), took[int(0.95 * (runs - 1))], size


def main() -> None:
    url = sys.argv[1]
    attempts = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    reuse = "--reuse" in sys.argv  # time the pages on the database a previous run built
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": tempfile.mkdtemp(), "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "RATELIMIT_ENABLED": False})
    with app.app_context():
        if reuse:
            return measure(app, attempts)
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        build(attempts)
        print(f"built in {time.perf_counter() - started:.0f} s: 30,000 technicians, 60,000 certificates, "
              f"{attempts:,} attempts, {10 * attempts:,} kept responses")
    measure(app, attempts)


def measure(app, attempts: int) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "trainer", "password": PASSWORD, "csrf_token": token}).status_code == 302
    print("| page | p50 ms | p95 ms | bytes |\n|---|---|---|---|")
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), "")
    for name, path in [("certificate register", "/certificates/"),
                       ("register, expiring in 30 days", "/certificates/?expiring=30"),
                       ("register, one region, page 20", "/certificates/?region=3&page=20"),
                       ("technician list", "/technicians/"),
                       ("technician list, holders of tier 2", "/technicians/?tier=2"),
                       ("technician list, one province", "/technicians/?province=7"),
                       ("quiz reports", "/quizzes/reports"),
                       (f"quiz results + item analysis ({attempts:,} attempts)", "/quizzes/bench/report"),
                       ("quiz results, one region", "/quizzes/bench/report?region=2"),
                       ("audit reports", "/audits/reports")]:
        if only and only not in path:
            continue
        p50, p95, size = timed(client, path)
        print(f"| {name} `{path}` | {p50:.0f} | {p95:.0f} | {size:,} |")
    print("\n| download | rows | seconds |\n|---|---|---|")
    for name, path in [("technicians CSV", "/technicians/?format=csv"), ("technicians XLSX", "/technicians/?format=xlsx"),
                       ("certificates CSV", "/certificates/?format=csv"),
                       ("certificates XLSX", "/certificates/?format=xlsx"),
                       ("quiz results CSV", "/quizzes/bench/report?format=csv")]:
        if only and only not in path:
            continue
        started = time.perf_counter()
        response = client.get(path)
        streamed = response.is_streamed  # before reading: get_data() buffers the body
        body = response.get_data()
        took = time.perf_counter() - started
        rows = body.count(b"\n") - 1 if path.endswith("csv") else "(xlsx)"
        print(f"| {name} | {rows} | {took:.1f} (streamed: {streamed}) |")


if __name__ == "__main__":
    main()
