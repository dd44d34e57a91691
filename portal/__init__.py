"""The service-network portal: create_app() builds one Flask application.

Layers, bottom first (``LAYERS``; tests/test_layers.py walks portal/ with ``ast`` and fails on
an import that points up this order, on a sibling domain's views, on a cycle between modules or
between domain packages, and on an import inside a function that is not marked lazy):

* infrastructure — configuration, extensions, database types, languages and time zone, system
  messages, security, inputs, links, Markdown, exports, paging, rate and API limits, error pages,
  template filters, the content-loader registry. Imported by all; imports no domain.
* auth — users, roles, the network of regions/provinces/outlets, sign-in, tokens, the API
  blueprint that the areas above add their endpoints to.
* notifications — the bell: raised by the domains above, imports none of them.
* domains — kb (fault cases and search), learning (courses, cohorts, schedules, sign-offs),
  assessment (question banks, quizzes, attempts), audits (mystery-shopper reports). Siblings may
  use each other's models and services (never views) without a cycle between packages.
* certification — tiers, eligibility, certificates; reads the domains below.
* records — the technician record, dashboards, the technician list, ``flask daily``.
* app — this factory, the role home pages (home/), ``flask demo`` (demo/) and ``flask backup`` /
  ``flask restore`` (backup/: the whole instance, and the search index rebuilt after a restore).

Where a lower layer must reach a higher one (an amended audit reinstates a certificate it
suspended; a case page lists the lessons that teach it; certification reads audit results), the
lower one keeps a small registry that :func:`_connect_modules` fills here.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors, ratelimits, templating
from .assessment import bank as _question_banks  # noqa: F401  (registers its content loaders)
from .assessment import models as _assessment_models  # noqa: F401  (tables for migrations)
from .assessment import quizedit as quiz_editor
from .assessment import services as assessment_services
from .assessment.cli import quizzes_cli
from .assessment.views import bp as assessment_bp
from .assessment.bankviews import bp as bank_bp
from .audits import loader as _audit_forms  # noqa: F401  (registers its content loader)
from .audits.programme_views import bp as audit_programmes_bp  # (programme.py registers its content loader)
from .audits import services as audit_services
from .audits.cli import audits_cli
from .audits.draw_views import bp as audit_draws_bp
from .audits.views import bp as audits_bp
from .audits.coverage_views import bp as audit_coverage_bp
from .audits.visit_views import bp as audit_visits_bp
from .auth import models as _auth_models  # noqa: F401
from .auth.admin_views import bp as admin_bp
from .auth.api import api_user_from_bearer
from .auth.api import bp as api_bp
from .auth.cli import users_cli
from .auth.views import bp as auth_bp
from .auth.views import load_user
from .backup.cli import backup_command, restore_command
from .certification import board as eligibility_board
from .certification import loader as _tiers  # noqa: F401  (registers its content loader)
from .certification import services as certificate_services
from .certification.cli import certs_cli
from .certification.views import bp as certification_bp
from .config import build_config, production_problem
from .content.cli import content_cli
from .demo.cli import demo_command
from .extensions import babel, csrf, db, login_manager, migrate
from .home.views import bp as core_bp
from .i18n import PortalDomain, select_locale_parsed, select_timezone
from .inputs import IdConverter, PortalJSONProvider
from .kb import api as _kb_api  # noqa: F401  (adds /api/v1/cases to the API blueprint)
from .kb import loader as _kb_loader  # noqa: F401  (registers its content loader)
from .kb import services as kb_services
from .kb.cli import search_cli
from .kb.indexing import check_once_per_process
from .kb.views import bp as kb_bp
from .learning import loader as _courses  # noqa: F401  (registers its content loaders)
from .learning import keeper as learning_keeper
from .learning import services as learning_services
from .learning.cli import members_cli as learning_members_cli
from .learning.views import bp as learning_bp
from .learning.views import teaching_links
from .notifications.mail import mail_cli
from .notifications.views import bp as notifications_bp
from .records import api as _record_api  # noqa: F401  (adds /api/v1/technicians/…/record)
from .records.content import bp as content_bp  # also adds `flask content trace`
from .records.daily import daily_command
from .records.dashboard import bp as dashboard_bp
from .records.reminders import bp as reminders_bp
from .records.technicians import bp as technicians_bp
from .security import PortalSessionInterface, enforce_access, refuse_nul_bytes, security_headers
from .voice import models as _voice_models  # noqa: F401  (tables for migrations)
from .voice.views import bp as voice_bp


def _migrations_dir(package: Path) -> str:
    """The repository's migrations/ in a checkout (an editable install included: `flask db
    migrate` writes new revisions there); else the copy the wheel carries as portal/migrations/
    (setup.py copies it in at build time)."""
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "migrations" / "env.py").is_file():
        return str(checkout / "migrations")
    return str(package / "migrations")


MIGRATIONS_DIR = _migrations_dir(Path(__file__).resolve().parent)

# The layer order (bottom first) as module names under portal/; see the docstring above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("infrastructure", ("apidoc", "apilimits", "cliutil", "config", "content", "csvexport", "dbtypes", "errors",
                        "extensions", "i18n", "inputs", "links", "markup", "messages", "paging", "products",
                        "ratelimits", "retention", "security", "templating")),
    ("auth", ("auth",)),
    ("notifications", ("notifications",)),
    ("domains", ("kb", "learning", "assessment", "audits", "voice")),
    ("certification", ("certification",)),
    ("records", ("records",)),
    ("app", ("__init__", "home", "demo", "backup")),
)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: WAL for concurrent readers, enforced foreign keys, wait instead of failing."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_app(test_config: dict | None = None) -> Flask:
    instance_path = os.environ.get("PORTAL_INSTANCE_PATH")
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = test_config["INSTANCE_PATH"]
    kwargs = {"instance_path": os.path.abspath(instance_path)} if instance_path else {}
    app = Flask(__name__, instance_relative_config=True, **kwargs)
    os.makedirs(app.instance_path, exist_ok=True)

    app.config.update(build_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    if problem := production_problem(app.config):
        raise RuntimeError(problem)  # refuse to start: one line naming the setting
    _postgres_session_settings(app)

    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    _read_inputs_safely(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)
    _register_cli(app)
    _connect_modules()
    return app


def _postgres_session_settings(app: Flask) -> None:
    """PostgreSQL sessions run without JIT compilation (``-c jit=off``, unless the engine options
    already pass ``options``): the portal's statements are short page queries, and on tables of
    network size the planner's cost estimate turns JIT on for some of them, adding ~1 s of
    compiling to a query that runs in tens of milliseconds (measured on the marking queue)."""
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("options", "-c jit=off")
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _read_inputs_safely(app: Flask) -> None:
    """Ids in URLs (``<int:...>``) are ASCII digits from 1 to 2⁶³−1, else 404; JSON bodies
    nested too deeply are refused with 400 before they are parsed (see portal/inputs.py)."""
    app.url_map.converters["int"] = IdConverter
    app.json = PortalJSONProvider(app)


def _connect_modules() -> None:
    """Fill the registries through which lower layers reach higher ones (layers point down)."""
    audit_services.CERTIFICATES.update(active=certificate_services.active_certificates,
                                       suspend=certificate_services.suspend, find=certificate_services.find,
                                       reinstate=certificate_services.reinstate,
                                       suspended_users=certificate_services.suspended_users,
                                       issued_since=certificate_services.issued_since)
    quiz_editor.CERTIFICATION.update(exam_slugs=certificate_services.exam_quiz_slugs)
    learning_services.QUIZZES.update(find=assessment_services.quiz_by_slug, passed=assessment_services.passed_attempts,
                                     results=assessment_services.quiz_results)
    learning_keeper.USER_ROWS[_assessment_models.Attempt] = "user_id"  # a quiz pass completes a course
    learning_keeper.INERT[_assessment_models.Attempt] = _assessment_models.Attempt.completes_nothing  # no pass
    learning_keeper.connect()  # keeps learning_assignment_member
    eligibility_board.connect()  # keeps the board's figures: marks them stale on every change
    if teaching_links not in kb_services.TEACHING_LINKS:
        kb_services.TEACHING_LINKS.append(teaching_links)


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale_parsed, timezone_selector=select_timezone)
    babel.domain_instance = PortalDomain()  # replaces Flask-Babel's default Domain
    ratelimits.init_app(app)  # the limiter, and a warning if its counts are not shared
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.session_interface = PortalSessionInterface()
    # Every model module is imported above, so migrations and create_all know every table.


def _register_blueprints(app: Flask) -> None:
    app.register_blueprint(core_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(kb_bp)
    app.register_blueprint(learning_bp)
    app.register_blueprint(assessment_bp)
    app.register_blueprint(bank_bp)
    app.register_blueprint(certification_bp)
    app.register_blueprint(audits_bp)
    app.register_blueprint(audit_programmes_bp)
    app.register_blueprint(voice_bp)
    app.register_blueprint(audit_draws_bp)
    app.register_blueprint(audit_coverage_bp)
    app.register_blueprint(audit_visits_bp)
    app.register_blueprint(technicians_bp)
    app.register_blueprint(reminders_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(content_bp)
    app.register_blueprint(api_bp)
    # API calls authenticate by bearer token or session; auth.api.api_user_from_bearer
    # applies CSRF to the session kind itself.
    csrf.exempt(api_bp)


def _register_hooks(app: Flask) -> None:
    login_manager.user_loader(load_user)
    app.before_request(refuse_nul_bytes)
    app.before_request(check_once_per_process)
    app.before_request(api_user_from_bearer)
    app.before_request(enforce_access)
    app.after_request(security_headers)
    errors.register(app)
    templating.register(app)


def _register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(quizzes_cli)
    app.cli.add_command(learning_members_cli)
    app.cli.add_command(certs_cli)
    app.cli.add_command(audits_cli)
    app.cli.add_command(content_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(daily_command)
    app.cli.add_command(mail_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
