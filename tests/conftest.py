"""Shared fixtures: a real app on a real database, per test.

Every test that uses ``app`` runs on SQLite (a fresh file per test) and, when
TEST_DATABASE_URL names a PostgreSQL server, once more on PostgreSQL (a database
created for this test session and emptied after each test).
"""

from __future__ import annotations

import contextvars
import os
import re
import uuid
from pathlib import Path
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.config import normalise_database_url
from portal.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "correct-horse-42"

# Settings the environment could leak into tests; each test decides its own.
for _name in ("DATABASE_URL", "PORTAL_INSTANCE_PATH", "SECRET_KEY", "PORTAL_HTTPS",
              "PORTAL_PROXY_HOPS", "PORTAL_DEFAULT_LOCALE", "PORTAL_TIMEZONE"):
    os.environ.pop(_name, None)


def pytest_report_header(config):
    return [f"databases under test: {', '.join(BACKENDS)}"
            + ("" if PG_URL else " (set TEST_DATABASE_URL to add PostgreSQL)")]


@pytest.fixture(autouse=True)
def english_shell(monkeypatch):
    """CLI messages follow LANG; tests read them in English unless they set it."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)


class PostgresServer:
    """Creates throw-away databases on the server named by TEST_DATABASE_URL."""

    def __init__(self, url: str):
        self.url = make_url(normalise_database_url(url))
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new_database(self) -> str:
        name = f"portal_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres():
    if not PG_URL:
        pytest.fail("this test needs TEST_DATABASE_URL (a PostgreSQL server); .ci/run sets it")
    server = PostgresServer(PG_URL)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def pg_shared_url(request):
    """One PostgreSQL database for the whole session; tables emptied after each test."""
    if "postgresql" not in BACKENDS:
        return None
    server = request.getfixturevalue("postgres")
    url = server.new_database()
    instance = request.getfixturevalue("tmp_path_factory").mktemp("pg-schema")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "test-secret"})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return url


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as it would in a server process.

    The test itself holds an app context for direct database work; without this,
    requests would reuse that context's ``g`` (and with it the signed-in user and
    the chosen language) from one request to the next.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(tmp_path, database_uri: str, **extra):
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "SECRET_KEY": "test-secret",
        # Fast but real hashing; test_auth checks the production default separately.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(extra)
    application = create_app(config)
    application.test_client_class = IsolatedClient
    return application


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def app(backend, tmp_path, request):
    if backend == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "test.sqlite3")
    else:
        uri = request.getfixturevalue("pg_shared_url")
    application = make_app(tmp_path, uri)
    with application.app_context():
        if backend == "sqlite":
            db.create_all()
        yield application
        db.session.remove()
        if backend == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- data helpers ---------------------------------------------------------------------


@pytest.fixture
def network(app):
    """One region, one province, two outlets."""
    from portal.auth.models import Outlet, Province, Region

    region = Region(code="SOUTH", name_zh="华南大区", name_en="South Region")
    province = Province(code="GD", name_zh="广东", name_en="Guangdong", region=region)
    gz = Outlet(code="GD-GZ-01", name_zh="广州天河网点", name_en="Guangzhou Tianhe", city="广州",
                province=province)
    fs = Outlet(code="GD-FS-01", name_zh="佛山顺德网点", name_en="Foshan Shunde", city="佛山",
                province=province)
    db.session.add_all([region, province, gz, fs])
    db.session.commit()
    return {"region": region, "province": province, "outlets": [gz, fs]}


@pytest.fixture
def make_user(app):
    from portal.auth.services import create_user

    def make(username, *roles, password=PASSWORD, outlet=None, name="", **kwargs):
        return create_user(username, list(roles) or ["technician"], password, name=name,
                           outlet_code=outlet, start_date=kwargs.pop("start_date", date(2026, 3, 2)),
                           **kwargs)

    return make


@pytest.fixture
def users(make_user, network):
    """One user per role, plus nothing else."""
    return {
        "technician": make_user("tech", "technician", outlet="GD-GZ-01", name="陈强"),
        "trainer": make_user("trainer", "trainer", name="李敏"),
        "auditor": make_user("auditor", "auditor", name="王芳"),
        "admin": make_user("admin", "admin", name="Admin"),
    }


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def get_csrf(client, path: str = "/login") -> str:
    response = client.get(path)
    return csrf_from(response.get_data(as_text=True))


def login(client, username: str, password: str = PASSWORD, **headers):
    token = get_csrf(client)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}, headers=headers)


@pytest.fixture
def login_as(client, users):
    def do(role_or_username: str):
        username = users[role_or_username].username if role_or_username in users else role_or_username
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do


# --- knowledge base -------------------------------------------------------------------

def png_bytes(width=40, height=30, color=(200, 30, 30), **save) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, save.pop("format", "PNG"), **save)
    return out.getvalue()


SAMPLE_CASES = [
    {"slug": "demo-e1-zh", "key": "demo-e1", "lang": "zh", "title": "格力式代码 E1 高压保护",
     "product": "air-conditioner", "error_codes": ["E1"], "models": ["KFR-35GW"],
     "components": ["高压开关", "室外风机"], "symptoms": ["显示E1", "开机几分钟停机"],
     "body": "## 故障现象\n显示 E1，压缩机停机。\n\n## 安全注意\n- 断电操作。\n"},
    {"slug": "demo-e1-en", "key": "demo-e1", "lang": "en", "title": "Gree-style E1 high-pressure protection",
     "product": "air-conditioner", "error_codes": ["E1"], "models": ["KFR-35GW"],
     "components": ["high-pressure switch", "outdoor fan motor"],
     "symptoms": ["shows E1", "stops after a few minutes"],
     "body": "## Symptoms\nE1 shows and the compressor stops.\n\n## Safety\n- Isolate the power.\n"},
    {"slug": "demo-fan-en", "key": "demo-fan", "lang": "en", "title": "Outdoor fan not spinning",
     "product": "air-conditioner", "error_codes": [], "models": [],
     "components": ["outdoor fan motor", "fan capacitor"], "symptoms": ["outdoor fan not turning"],
     "body": "## Symptoms\nThe outdoor fan does not turn; check the capacitor.\n"},
    {"slug": "demo-drain-zh", "key": "demo-drain", "lang": "zh", "title": "洗衣机不排水",
     "product": "washing-machine", "error_codes": ["E21"], "models": ["XQG100"],
     "components": ["排水泵"], "symptoms": ["不排水"],
     "body": "## 故障现象\n洗衣机不排水，显示 E21。\n"},
]


@pytest.fixture
def kb_cases(app):
    """A handful of published cases, indexed."""
    from portal.kb import indexing
    from portal.kb.services import create_case

    cases = {}
    for data in SAMPLE_CASES:
        data = dict(data)
        slug = data.pop("slug")
        cases[slug] = create_case(data, slug=slug)
    db.session.commit()
    indexing.rebuild()
    return cases


@pytest.fixture
def kb_data(kb_cases, users):
    """Cases, a pending contribution with a photo, and the photo's file."""
    from portal.kb import contributions

    data = {"title": "热水器点不着火", "lang": "zh", "product": "water-heater",
            "error_codes": ["E1"], "body": "## 故障现象\n打不着火。\n"}
    contribution = contributions.submit_new(users["technician"], data, "在客户家遇到",
                                            [png_bytes()])
    return {"cases": kb_cases, "contribution": contribution, "photo": contribution.photos[0]}


ROOT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def courses(app):
    """The shipped courses (content/courses/), loaded as `content load` does."""
    from portal.learning.loader import load_courses

    report = load_courses(ROOT_DIR / "content" / "courses")
    assert not report.problems, report.problems[:3]
    return report


@pytest.fixture
def quizzes(courses):
    """The shipped question banks and quizzes (quizzes/), loaded as `content load` does."""
    from portal.assessment.bank import load_banks, load_quizzes

    for report in (load_banks(ROOT_DIR / "quizzes"), load_quizzes(ROOT_DIR / "quizzes")):
        assert not report.problems, [str(p) for p in report.problems[:3]]


def pass_quiz(user, slug: str, when=None):
    """A graded, passing attempt by the user at the quiz (all answers right)."""
    from datetime import datetime, timezone

    from portal.assessment import attempts, services

    quiz = services.quiz_by_slug(slug)
    assert quiz is not None, slug
    return attempts.take(user, quiz, when or datetime.now(timezone.utc), seed=1)


@pytest.fixture
def learning_data(courses, users):
    """A cohort with the technician, an assignment and a targeted lesson."""
    from sqlalchemy import select as _select

    from portal.learning import services as learning
    from portal.learning.models import Course

    onboarding = db.session.scalar(_select(Course).where(Course.slug == "onboarding"))
    quarterly = db.session.scalar(_select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    cohort = learning.create_cohort("Matrix cohort", onboarding, date(2026, 11, 2), [users["trainer"]],
                                    [users["technician"]], users["trainer"])
    assignment = learning.create_assignment(quarterly, "all", date(2026, 12, 31), users["trainer"])
    return {"cohort": cohort.id, "assignment": assignment.id, "onboarding": onboarding,
            "quarterly": quarterly}
