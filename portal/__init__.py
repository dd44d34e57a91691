"""The service-network portal: create_app() builds one Flask application."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import build_config, production_problem
from .extensions import babel, csrf, db, limiter, login_manager, migrate

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


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


def _read_inputs_safely(app: Flask) -> None:
    """Ids in URLs (``<int:...>``) are ASCII digits from 1 to 2⁶³−1, else 404; JSON bodies
    nested too deeply are refused with 400 before they are parsed (see portal/inputs.py)."""
    from .inputs import IdConverter, PortalJSONProvider

    app.url_map.converters["int"] = IdConverter
    app.json = PortalJSONProvider(app)


def _connect_modules() -> None:
    """Hand lower modules the functions of higher ones they call (layers point down)."""
    from .audits import services as audits
    from .certification import services as certification

    audits.CERTIFICATES.update(find=certification.find, reinstate=certification.reinstate)


def _init_extensions(app: Flask) -> None:
    from .i18n import PortalDomain, select_locale_parsed, select_timezone
    from .security import PortalSessionInterface

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale_parsed, timezone_selector=select_timezone)
    babel.domain_instance = PortalDomain()  # replaces Flask-Babel's default Domain
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.session_interface = PortalSessionInterface()

    # Models must be imported for metadata (migrations, create_all) to know them.
    from .auth import models as _auth_models  # noqa: F401
    from .kb import models as _kb_models  # noqa: F401
    from .learning import models as _learning_models  # noqa: F401
    from .assessment import models as _assessment_models  # noqa: F401
    from .certification import models as _certification_models  # noqa: F401
    from .audits import models as _audit_models  # noqa: F401
    from . import notifications as _notifications  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from .api import bp as api_bp
    from .assessment.views import bp as assessment_bp
    from .certification.views import bp as certification_bp
    from .audits.views import bp as audits_bp
    from .technicians import bp as technicians_bp
    from .notifications import bp as notifications_bp
    from .dashboard import bp as dashboard_bp
    from .auth.admin_views import bp as admin_bp
    from .auth.views import bp as auth_bp
    from .home.views import bp as core_bp
    from .kb import api as _kb_api  # noqa: F401  (registers /api/v1/cases on api_bp)
    from .kb.views import bp as kb_bp
    from .learning.views import bp as learning_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(kb_bp)
    app.register_blueprint(learning_bp)
    app.register_blueprint(assessment_bp)
    app.register_blueprint(certification_bp)
    app.register_blueprint(audits_bp)
    app.register_blueprint(technicians_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(api_bp)
    # API calls authenticate by bearer token or session; security.api_user_from_bearer
    # applies CSRF to the session kind itself.
    csrf.exempt(api_bp)


def _register_hooks(app: Flask) -> None:
    from . import errors, templating
    from .auth.views import load_user
    from .security import api_user_from_bearer, enforce_access, refuse_nul_bytes, security_headers

    from .kb.indexing import check_once_per_process

    login_manager.user_loader(load_user)
    app.before_request(refuse_nul_bytes)
    app.before_request(check_once_per_process)
    app.before_request(api_user_from_bearer)
    app.before_request(enforce_access)
    app.after_request(security_headers)
    errors.register(app)
    templating.register(app)


def _register_cli(app: Flask) -> None:
    from .assessment.cli import quizzes_cli
    from .certification.cli import certs_cli
    from .auth.cli import users_cli
    from .content.cli import content_cli
    from .demo.cli import demo_command
    from .kb.cli import search_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(quizzes_cli)
    app.cli.add_command(certs_cli)
    app.cli.add_command(content_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(demo_command)
    from .notifications import daily_command

    app.cli.add_command(daily_command)
