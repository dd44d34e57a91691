"""Alembic migrations and the models agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

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


def _add_later_columns() -> list[tuple[str, str]]:
    """Columns the models gained after an older revision, added to its tables: a test that writes
    rows with today's models on an older schema needs them, whatever came later. Returns the
    (table, column) added, for :func:`_drop_columns` before upgrading further."""
    inspector = inspect(db.engine)
    tables = set(inspector.get_table_names())
    added = []
    with db.engine.begin() as conn:
        for table in db.metadata.sorted_tables:
            if table.name not in tables:
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    ddl = (f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" '
                           f"{column.type.compile(dialect=conn.dialect)}")
                    if column.server_default is not None:
                        ddl += f" DEFAULT '{column.server_default.arg}'"
                    conn.execute(text(ddl))
                    added.append((table.name, column.name))
    for name in READ_ON_EVERY_START:  # tables today's code reads where the test writes rows
        if name not in tables:
            db.metadata.tables[name].create(db.engine)
            added.append((name, None))
    return added


# A quiz start reads the technician's override (assessment_override): a test passing a quiz on an
# older schema needs the table, created empty and dropped again by _drop_columns.
READ_ON_EVERY_START = ("assessment_override",)


def _drop_columns(added: list[tuple[str, str]]) -> None:
    """Undo :func:`_add_later_columns` (commit the session first)."""
    with db.engine.begin() as conn:
        for table, column in added:
            if column is None:
                conn.execute(text(f'DROP TABLE "{table}"'))
            else:
                conn.execute(text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))


def test_the_kept_members_migration_fills_its_table(backend, tmp_path, request):
    """Assignments made before the table existed: upgrading fills it as the rebuild would (the
    keeper's rows), with no `flask learning-members rebuild` step."""
    from datetime import date, datetime, timedelta, timezone

    from sqlalchemy import select

    from portal.auth.models import Outlet, Province, Region
    from portal.auth.services import create_user
    from portal.learning import keeper
    from portal.learning import services as learning
    from portal.learning.loader import load_courses
    from portal.learning.models import Course

    from .conftest import ROOT_DIR, pass_quiz
    from .test_assignment_members import _kept_rows, _migration

    app = _fresh_app(backend, tmp_path, request)
    with app.app_context():
        upgrade(revision=_migration().down_revision)
        assert "learning_assignment_member" not in inspect(db.engine).get_table_names()
        _add_later_columns()
        south = Region(code="S", name_zh="华南", name_en="South")
        north = Region(code="N", name_zh="华北", name_en="North")
        gd = Province(code="GD", name_zh="广东", name_en="Guangdong", region=south)
        bj = Province(code="BJ", name_zh="北京", name_en="Beijing", region=north)
        db.session.add_all([south, north, gd, bj,
                            Outlet(code="GZ", name_zh="广州", name_en="Guangzhou", province=gd, products=["water-heater"]),
                            Outlet(code="BJ1", name_zh="北京一", name_en="Beijing 1", province=bj)])
        db.session.commit()
        assert not load_courses(ROOT_DIR / "content" / "courses").problems
        from portal.assessment.bank import load_banks, load_quizzes
        load_banks(ROOT_DIR / "quizzes")
        load_quizzes(ROOT_DIR / "quizzes")
        today = date.today()
        early = create_user("early", ["technician"], "pw-123456789", outlet_code="GZ", start_date=today - timedelta(days=300))
        create_user("north", ["technician"], "pw-123456789", outlet_code="BJ1", start_date=today - timedelta(days=300))
        create_user("nowhere", ["technician"], "pw-123456789", start_date=None)
        create_user("trainer", ["trainer"], "pw-123456789")
        courses = list(db.session.scalars(select(Course).where(Course.kind != "onboarding").order_by(Course.slug)))
        lessons_only, with_quiz = courses[:2]  # every lesson done; and the quiz passed too
        assert lessons_only.quiz
        for lesson in lessons_only.lessons() + with_quiz.lessons():
            learning.set_done(early, lesson)
        pass_quiz(early, with_quiz.quiz, datetime.now(timezone.utc))
        learning.create_assignment(lessons_only, "all", today + timedelta(days=10), None)
        learning.create_assignment(with_quiz, "region", today - timedelta(days=5), None, region=south)
        learning.create_assignment(with_quiz, "product", today + timedelta(days=3), None, product="washing-machine")
        late = create_user("late", ["technician"], "pw-123456789", outlet_code="BJ1", start_date=today + timedelta(days=20))
        assert late.id
        db.session.commit()

        upgrade(revision="c2d8e4f6a913")
        filled = _kept_rows()
        keeper.rebuild_all()  # the rule the keeper follows, for every assignment
        assert filled == _kept_rows()
        # Everyone; the south's one (not the technician without an outlet); the washing-machine
        # line: not the outlet listing only water heaters.
        assert len(filled) == 4 + 1 + 3
        rows = {(a, u): (due, completed) for a, u, due, completed in filled}
        first, second = sorted({a for a, _u in rows})[:2]
        assert rows[(first, early.id)][1] is None  # its quiz not passed
        assert rows[(second, early.id)][1] is not None
        assert rows[(first, late.id)] == (today + timedelta(days=34), None)  # joins after: 14 days from then
        db.engine.dispose()


def test_the_question_versions_migration_backfills_version_one_and_the_attempts(backend, tmp_path, request):
    """Questions and attempts made before versions were kept: each question gets version 1 made
    from today's question, and each attempt's items name it."""
    import json

    app = _fresh_app(backend, tmp_path, request)
    with app.app_context():
        upgrade(revision="a7c3e9d1b024")  # the revision before versions
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO assessment_category (id, path) VALUES (1, 'old/bank')"))
            conn.execute(text(
                "INSERT INTO assessment_question (id, category_id, ident, type, difficulty, tags, norms, title, format,"
                " text_zh, text_en, explanation_zh, explanation_en, data_zh, data_en, source, active, created_at,"
                " updated_at) VALUES (1, 1, 'q', 'truefalse', 2, '[]', '[]', '', 'markdown', '对吗', 'Right?', '', '',"
                " '{\"answer\": true}', '{\"answer\": true}', 'content', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            # the user, quiz and attempt tables are as the models have them at that revision
            from portal.assessment.models import Attempt, Quiz
            from portal.auth.models import User

            conn.execute(User.__table__.insert().values(id=1, username="old", name="Old", password_hash="x"))
            conn.execute(Quiz.__table__.insert().values(id=1, slug="old", title_zh="旧", title_en="Old",
                                                        settings={}, sections=[]))
            conn.execute(Attempt.__table__.insert().values(
                id=1, quiz_id=1, user_id=1, status="submitted", answers={"0": True}, scores=[1.0], score=100.0,
                passed=True, items=[{"question": 1, "order": None}, {"question": 99, "order": None}]))
        upgrade()
        with db.engine.begin() as conn:
            rows = conn.execute(text("SELECT question_id, number, type, text_en, data_en FROM "
                                     "assessment_question_version")).all()
            assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(1, 1, "truefalse", "Right?")]
            data = rows[0][4]
            assert (json.loads(data) if isinstance(data, str) else data) == {"answer": True}
            assert conn.execute(text("SELECT version FROM assessment_question")).scalar() == 1
            version_id = conn.execute(text("SELECT id FROM assessment_question_version")).scalar()
            items = conn.execute(text("SELECT items FROM assessment_attempt")).scalar()
            items = json.loads(items) if isinstance(items, str) else items
            assert items == [{"question": 1, "order": None, "version": version_id},
                             {"question": 99, "order": None}]  # a question deleted since: nothing to name


def _insert_as_reflected(conn, table: str, **values) -> None:
    """One row into ``table`` as the database has it now (an older revision): every NOT NULL
    column without a server default gets a plain value of its type."""
    from sqlalchemy import Boolean, Date, DateTime, Integer, MetaData, Numeric, Table
    from datetime import date, datetime, timezone

    reflected = Table(table, MetaData(), autoload_with=conn)
    for column in reflected.columns:
        if column.name in values or column.nullable or column.server_default is not None or column.primary_key:
            continue
        kind = column.type
        values[column.name] = (False if isinstance(kind, Boolean) else 0 if isinstance(kind, (Integer, Numeric))
                               else datetime.now(timezone.utc) if isinstance(kind, DateTime)
                               else date.today() if isinstance(kind, Date) else "")
    conn.execute(reflected.insert().values(**values))


def test_the_issue_21_migrations_keep_every_row_that_hangs_off_users_and_assignments(backend, tmp_path, request):
    """Upgrading to the head and back never copies "user" or learning_assignment (on SQLite, with
    foreign keys on, dropping the copied table would cascade-delete what hangs off it)."""
    app = _fresh_app(backend, tmp_path, request)
    with app.app_context():
        upgrade(revision="a7c2e9f4b1d8")  # before the reminders' user.email and the assignment changes
        with db.engine.begin() as conn:
            _insert_as_reflected(conn, "user", id=1, username="kept", name="Kept", password_hash="x")
            _insert_as_reflected(conn, "notification", user_id=1, key="k", kind="audit-acknowledge", text="x")
            _insert_as_reflected(conn, "learning_course", id=1, slug="c", kind="quarterly", title_zh="c", title_en="c")
            _insert_as_reflected(conn, "learning_assignment", id=1, course_id=1, scope="all")
            _insert_as_reflected(conn, "learning_assignment_member", assignment_id=1, user_id=1)

        def rows():
            with db.engine.connect() as conn:
                return [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                        for t in ("notification", "learning_assignment_member")]

        upgrade()
        assert rows() == [1, 1]
        db.session.remove()
        downgrade(revision="a7c2e9f4b1d8")
        assert rows() == [1, 1]


def test_a_migration_run_in_the_portals_process_keeps_its_logger(tmp_path):
    """Alembic's env.py configures logging from alembic.ini; with the default it disabled every
    logger that existed, the portal's own among them, so whatever ran a migration in-process
    (`flask restore` upgrading an older backup, a test) went silent afterwards — the per-worker
    rate-limit warning disappeared from the log of a later test in the same process."""
    application = make_app(tmp_path, "sqlite:///" + str(tmp_path / "logged.sqlite3"))
    application.logger.info("the portal's logger exists before the migration")
    with application.app_context():
        upgrade()
        db.engine.dispose()
    assert not application.logger.disabled
