"""Shared fixtures: a real app on a real database, per test.

Every test that uses ``app`` runs on SQLite (a fresh file per test) and, when
TEST_DATABASE_URL names a PostgreSQL server, once more on PostgreSQL (a database
created for this test session and emptied after each test).
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
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
              "PORTAL_PROXY_HOPS", "PORTAL_DEFAULT_LOCALE", "PORTAL_TIMEZONE", "PORTAL_CONTENT_DIR",
              "PORTAL_RATELIMIT_STORAGE"):
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


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory) -> Path:
    """An empty SQLite database with the whole schema, made once per test process: each test
    gets a copy of the file (the same result as ``create_all``, without its ~0.2 s)."""
    folder = tmp_path_factory.mktemp("sqlite-schema")
    path = folder / "schema.sqlite3"
    application = make_app(folder, "sqlite:///" + str(path))
    with application.app_context():
        db.create_all()
        db.engine.dispose()
    assert not Path(str(path) + "-wal").exists() or not Path(str(path) + "-wal").stat().st_size
    return path


@pytest.fixture(scope="session")
def demo_instance(tmp_path_factory) -> Path:
    """An instance folder in which ``flask db upgrade`` and ``flask demo`` ran (SQLite), built
    once for the whole run: the first test process to ask builds it, the others wait for it.
    Tests copy it (``copy_demo_instance``) instead of loading the demo again (10–25 s each)."""
    import fcntl
    import subprocess
    import sys

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # one run's folder
    folder = root / "demo-instance"
    with open(root / "demo-instance.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "ready").exists():
            env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")
                   and k not in ("DATABASE_URL", "SECRET_KEY")}
            env.update({"PORTAL_INSTANCE_PATH": str(folder / "instance"), "LANG": "C.UTF-8"})
            flask = str(Path(sys.executable).parent / "flask")
            for args in (["db", "upgrade"], ["demo"]):
                done = subprocess.run([flask, "--app", "portal", *args], cwd=ROOT_DIR, env=env,
                                      capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, done.stderr[-3000:]
            (folder / "ready").touch()
    return folder / "instance"


def copy_demo_instance(template: Path, target: Path) -> Path:
    """A copy of the demo instance folder at ``target``; its SQLite database is
    ``target / "portal.sqlite3"``."""
    shutil.copytree(template, target)
    return target


class SqliteTemplates:
    """SQLite databases with the schema and some shipped content already loaded, each made once per
    test process on first use; a test's database starts as a copy of the one its fixtures need
    (``courses``: content/courses/; ``quizzes``: the question banks and quizzes too), so those
    fixtures cost a file copy instead of ~0.2 s and ~0.7 s of loading on every test."""

    LEVELS = ("courses", "quizzes")

    def __init__(self, schema: Path, folder: Path):
        self.schema, self.folder = schema, folder
        self.made: dict[str, tuple[Path, object]] = {}

    def level_for(self, fixturenames) -> str | None:
        return next((level for level in reversed(self.LEVELS) if level in fixturenames), None)

    def get(self, level: str) -> tuple[Path, object]:
        if level not in self.made:
            path = self.folder / f"{level}.sqlite3"
            shutil.copyfile(self.schema, path)
            application = make_app(self.folder / level, "sqlite:///" + str(path))
            with application.app_context():
                report = load_shipped_courses()
                if level == "quizzes":
                    load_shipped_quizzes()
                db.session.remove()
                db.engine.dispose()
            self.made[level] = (path, report)
        return self.made[level]


@pytest.fixture(scope="session")
def sqlite_templates(sqlite_schema, tmp_path_factory) -> SqliteTemplates:
    return SqliteTemplates(sqlite_schema, tmp_path_factory.mktemp("sqlite-templates"))


def empty_postgres_tables(engine) -> None:
    """Empty the tables a test wrote to and rewind the sequences it used, as ``TRUNCATE … RESTART
    IDENTITY`` of every table would, but in tens of milliseconds instead of most of a second:
    only the tables that hold rows are touched (one query finds them), with foreign-key triggers
    off for the session (``session_replication_role``), so their order does not matter."""
    names = [t.name for t in db.metadata.sorted_tables]
    probe = " UNION ALL ".join(f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM \"{n}\")" for n in names)
    with engine.begin() as conn:
        filled = [row[0] for row in conn.execute(text(probe))]
        used = conn.execute(text("SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
                                 "FROM pg_sequences WHERE last_value IS NOT NULL")).scalars().all()
        if filled:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for name in filled:
                conn.execute(text(f'DELETE FROM "{name}"'))
        for sequence in used:
            conn.execute(text("SELECT setval(:s, 1, false)"), {"s": sequence})


@pytest.fixture
def app(backend, tmp_path, request):
    preloaded = None
    if backend == "sqlite":
        path = tmp_path / "test.sqlite3"
        templates = request.getfixturevalue("sqlite_templates")
        level = templates.level_for(request.fixturenames)
        if level:
            source, report = templates.get(level)
            preloaded = (level, report)
        else:
            source = request.getfixturevalue("sqlite_schema")
        shutil.copyfile(source, path)
        uri = "sqlite:///" + str(path)
    else:
        uri = request.getfixturevalue("pg_shared_url")
    application = make_app(tmp_path, uri)
    application.extensions["test_preloaded"] = preloaded
    with application.app_context():
        yield application
        db.session.remove()
        if backend == "postgresql":
            empty_postgres_tables(db.engine)
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


def load_shipped_courses():
    from portal.learning.loader import load_courses

    report = load_courses(ROOT_DIR / "content" / "courses")
    assert not report.problems, report.problems[:3]
    return report


def load_shipped_quizzes() -> None:
    from portal.assessment.bank import load_banks, load_quizzes

    for report in (load_banks(ROOT_DIR / "quizzes"), load_quizzes(ROOT_DIR / "quizzes")):
        assert not report.problems, [str(p) for p in report.problems[:3]]


@pytest.fixture
def courses(app):
    """The shipped courses (content/courses/), loaded as `content load` does (on SQLite the test's
    database starts as a copy of one where they were loaded: see SqliteTemplates)."""
    preloaded = app.extensions.get("test_preloaded")
    return preloaded[1] if preloaded else load_shipped_courses()


@pytest.fixture
def quizzes(courses, app):
    """The shipped question banks and quizzes (quizzes/), loaded as `content load` does."""
    preloaded = app.extensions.get("test_preloaded")
    if not (preloaded and preloaded[0] == "quizzes"):
        load_shipped_quizzes()


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
