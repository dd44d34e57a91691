"""Alembic migrations and the models agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal.extensions import db

from .conftest import make_app


def _fresh_app(backend, tmp_path, request):
    if backend == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "migrated.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    return make_app(tmp_path, uri)


def _diff(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(backend, tmp_path, request):
    app = _fresh_app(backend, tmp_path, request)
    with app.app_context():
        upgrade()
        assert _diff(app) == []
        tables = set(inspect(db.engine).get_table_names())
        assert {"user", "user_role", "outlet", "province", "region", "api_token"} <= tables
        db.engine.dispose()


def test_downgrade_then_upgrade(backend, tmp_path, request):
    app = _fresh_app(backend, tmp_path, request)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _diff(app) == []
        db.engine.dispose()
