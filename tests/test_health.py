"""/healthz answers 200 when the database does, 503 when it does not."""

from __future__ import annotations

from .conftest import PG_URL, make_app


def test_healthz_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_healthz_down_when_sqlite_file_cannot_be_opened(tmp_path):
    app = make_app(tmp_path, "sqlite:///" + str(tmp_path / "no-such-dir" / "x.sqlite3"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] != "ok"


def test_healthz_down_when_postgres_is_unreachable(tmp_path):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    app = make_app(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:9/portal",
                   SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503


def test_healthz_goes_down_and_up_with_the_database(app, backend, tmp_path):
    """The same running app reports the outage, then recovers."""
    from portal.extensions import db

    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    if backend == "sqlite":
        path = tmp_path / "test.sqlite3"
        db.engine.dispose()
        moved = path.rename(tmp_path / "moved.sqlite3")
        path.mkdir()  # a directory where the database file was: it cannot be opened
        assert client.get("/healthz").status_code == 503
        path.rmdir()
        moved.rename(path)
        db.engine.dispose()
    else:
        assert PG_URL
        original = app.extensions["sqlalchemy"].engines[None]
        from sqlalchemy import create_engine

        app.extensions["sqlalchemy"].engines[None] = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:9/portal",
            connect_args={"connect_timeout": 2})
        assert client.get("/healthz").status_code == 503
        app.extensions["sqlalchemy"].engines[None] = original
    assert client.get("/healthz").status_code == 200


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app, backend):
    from sqlalchemy import text

    from portal.extensions import db

    if backend != "sqlite":
        assert db.engine.dialect.name == "postgresql"
        return
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_secret_key_is_generated_once_per_instance(tmp_path, monkeypatch):
    from portal.config import load_secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_secret_key(str(tmp_path))
    assert len(first) == 64 and load_secret_key(str(tmp_path)) == first
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    monkeypatch.setenv("SECRET_KEY", "env-wins")
    assert load_secret_key(str(tmp_path)) == "env-wins"


def test_postgres_sessions_run_without_jit(postgres, tmp_path):
    """JIT compiling costs ~1 s on big tables for queries that run in milliseconds: the portal's
    PostgreSQL sessions turn it off (portal/__init__.py)."""
    from sqlalchemy import text

    from portal.extensions import db

    application = make_app(tmp_path, postgres.new_database())
    with application.app_context():
        assert db.session.execute(text("SHOW jit")).scalar() == "off"
        db.engine.dispose()
