"""The eligibility board's kept figures (portal/certification/board.py) against the live
decision, after random sequences of the changes that move them; and the board's pages."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from portal.assessment import attempts
from portal.assessment.services import quiz_by_slug
from portal.audits import services as audits
from portal.audits.loader import load_templates
from portal.audits.models import Audit, AuditTemplate
from portal.auth.models import User
from portal.certification import board
from portal.certification import services as certs
from portal.certification.models import Certificate, EligibilityStatus
from portal.extensions import db
from portal.i18n import local_today
from portal.kb.models import Contribution
from portal.learning import services as learning

from .conftest import login
from .test_audits import PERFECT, TEMPLATE
from portal.certification.loader import load_tiers
from portal.certification.models import Tier

from .test_certification import ctx, make_tier1_eligible, onboarding, q3  # noqa: F401  (ctx: a fixture)

START = date(2026, 11, 20)

# Thresholds low enough that a few random changes cross them, so a change that failed to mark
# its rows stale is seen.
TIERS = """
validity_months: 12
lapse_grace_days: 30
tiers:
  - code: certified
    level: 1
    title: {zh: 初级技师, en: Certified Technician}
    requires:
      courses: [2026-q3-r32-inverter-splits]
      quiz: {slug: onboarding-final, min_score: 90}
      tasks: [onboarding]
  - code: senior
    level: 2
    title: {zh: 中级技师, en: Senior Technician}
    requires:
      months_at_previous: 1
      audits: {count: 1, average: 85, months: 1}
      contributions: 1
      current_quarterly: true
"""


@pytest.fixture
def tiers(quizzes, tmp_path, ctx):
    path = tmp_path / "certification" / "tiers.yaml"
    path.parent.mkdir()
    path.write_text(TIERS, encoding="utf-8")
    assert not load_tiers(path.parent).problems
    return {t.code: t for t in db.session.scalars(select(Tier))}


def live(today: date) -> dict:
    """The reference: the board as it was decided before, every technician × active tier."""
    found = {}
    for user, cells in certs.eligibility_board(certs.active_tiers(), today):
        for tier, held, check in cells:
            found[(user.id, tier.id)] = (held is not None, bool(check and check.eligible),
                                         0 if check is None else len(check.unmet))
    return found


def kept(today: date, fresh_only: bool) -> dict:
    query = select(EligibilityStatus)
    if fresh_only:
        query = query.where(~board.is_stale(today))
    return {(r.user_id, r.tier_id): (r.held, r.eligible, r.unmet) for r in db.session.scalars(query)}


def assert_kept_equals_live(today: date) -> None:
    """Every row not marked stale equals the live decision; after a refresh every row is fresh
    and the kept board is the live board."""
    truth = live(today)
    fresh = kept(today, fresh_only=True)
    wrong = {k: (v, truth.get(k)) for k, v in fresh.items() if k in truth and truth[k] != v}
    assert not wrong, f"kept figures not marked stale: {wrong}"
    board.refresh_all(today)
    shown = lambda rows: {k: v for k, v in rows.items() if k in truth}  # noqa: E731  (active technicians)
    assert shown(kept(today, fresh_only=True)) == truth == shown(kept(today, fresh_only=False))


class World:
    """The changes a network makes, each the way the portal makes it."""

    def __init__(self, rng: random.Random, users, template, make_user):
        self.rng, self.users, self.template, self.make_user = rng, users, template, make_user
        self.day = START
        self.techs = [users["technician"], make_user("tech0", "technician", outlet="GD-GZ-01")]
        self.order = 0

    def now(self) -> datetime:
        return datetime.combine(self.day, time(4, 0), tzinfo=timezone.utc)

    def tech(self, active_only: bool = False) -> User:
        return self.rng.choice([t for t in self.techs if t.active or not active_only] or self.techs[:1])

    def lesson_done(self):
        lessons = q3().lessons() + onboarding().lessons()
        learning.set_done(self.tech(), self.rng.choice(lessons), done=self.rng.random() < 0.9)

    def course_done(self):
        tech, course = self.tech(), self.rng.choice([q3(), onboarding()])
        for lesson in course.lessons():
            learning.set_done(tech, lesson)

    def attempt(self):
        slug = self.rng.choice(["onboarding-final", q3().quiz or "onboarding-final"])
        attempts.take(self.tech(), quiz_by_slug(slug), self.now(), right=self.rng.choice([None, None, 0]), seed=1)

    def signoff(self):
        tech, passed = self.tech(), self.rng.random() < 0.8
        for task in onboarding().tasks():
            learning.record_signoff(task, tech, self.users["trainer"],
                                    [(passed, "" if passed else "not yet")] * len(task.checklist))

    def issue(self):
        tech, tier = self.tech(), self.rng.choice(certs.active_tiers())
        if certs.holding(tech, tier) is None:
            certs.issue(tech, tier, self.day - timedelta(days=self.rng.choice([0, 200, 360, 364, 400])),
                        by=self.users["trainer"], note="records", force=True)

    def change_certificate(self):
        cert = db.session.scalar(select(Certificate).order_by(Certificate.id).offset(
            self.rng.randrange(max(1, db.session.query(Certificate).count()))))
        if cert is None:
            return
        trainer = self.users["trainer"]
        try:
            action = self.rng.choice(["suspend", "reinstate", "revoke", "renew"])
            if action == "suspend":
                certs.suspend(cert, "check", by=trainer)
            elif action == "reinstate":
                certs.reinstate(cert, "checked", self.day, by=trainer)
            elif action == "revoke":
                certs.revoke(cert, "fraud", by=trainer)
            else:
                certs.renew(cert, self.day, by=trainer, note="paper", force=True)
        except certs.CertificateError:
            db.session.rollback()

    def audit(self):
        self.order += 1
        answers = dict(PERFECT, polite=str(self.rng.choice([3, 5])), gift=self.rng.choice(["no", "no", "no", "yes"]))
        tech = self.tech(active_only=True)
        if not tech.active:
            return
        report = audits.start(self.users["auditor"], tech, self.template, self.now() - timedelta(days=1),
                              f"WO-{self.order}", "air-conditioner", "广州", self.now())
        for item, value in answers.items():
            audits.save_answer(report, item, value)
        if answers["gift"] == "yes":
            audits.save_answer(report, "gift", "yes", "accepted a gift")
        audits.submit(report, self.now())

    def amend(self):
        report = db.session.scalar(select(Audit).where(Audit.status == "submitted").order_by(Audit.id.desc()))
        if report is not None:
            polite = "3" if str(report.responses.get("polite")) == "5" else "5"
            audits.amend(report, self.users["trainer"], "misread", {"gift": "no", "polite": polite}, None, self.now())

    def contribution(self):
        db.session.add(Contribution(kind="new", author_id=self.tech().id, status="approved", data={"title": "Case"},
                                    reviewed_at=self.now()))
        db.session.commit()

    def assignment(self):
        try:
            learning.create_assignment(self.rng.choice([q3(), onboarding()]), "all",
                                       self.day + timedelta(days=self.rng.choice([0, 10])), self.users["trainer"])
        except learning.LearningError:
            db.session.rollback()

    def late_joiner(self):
        self.techs.append(self.make_user(f"late{len(self.techs)}", "technician", outlet="GD-GZ-01",
                                         start_date=self.day))

    def leave(self):
        tech = self.tech()
        tech.active = not tech.active
        db.session.commit()

    def start_date(self):
        tech = self.tech()
        tech.start_date = self.day - timedelta(days=self.rng.choice([0, 5, 400]))
        db.session.commit()

    def sweep(self):
        certs.sweep(self.day)
        db.session.commit()

    def next_day(self):
        self.day += timedelta(days=self.rng.choice([1, 1, 3, 10, 40]))

    # Weighted to what makes decisions turn on dates alone: certificates of the tier below issued
    # at various ages (expiring, a month held), audits (leaving a 1-month window), quarterly
    # courses falling due, days passing.
    DATE_STEPS = ("issue", "issue", "audit", "audit", "contribution", "course_done", "assignment", "sweep",
                  "change_certificate", "next_day", "next_day", "next_day")

    STEPS = ("lesson_done", "course_done", "attempt", "signoff", "issue", "change_certificate", "audit", "amend",
             "contribution", "assignment", "late_joiner", "leave", "start_date", "sweep",
             "next_day", "next_day")


@pytest.fixture
def audit_template(app, courses, tmp_path):
    folder = tmp_path / "audit-forms"
    folder.mkdir()
    (folder / "test-visit.yaml").write_text(TEMPLATE, encoding="utf-8")
    assert not load_templates(folder).problems
    return db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == "test-visit"))


@pytest.mark.parametrize("seed,steps", [(1, "STEPS"), (2, "STEPS"), (3, "STEPS"), (4, "DATE_STEPS"), (5, "DATE_STEPS"),
                                        (6, "DATE_STEPS"), (7, "DATE_STEPS")])
def test_kept_figures_equal_the_live_decision_after_random_changes(tiers, users, audit_template, make_user, seed,
                                                                   steps):
    """After every change, and after days passing with no change at all: no figure left fresh
    differs from the live decision (so the change marked what it moved, and each figure's
    recheck day came no later than the date changed it); after the refresh, the kept board is
    the live board."""
    world = World(random.Random(seed), users, audit_template, make_user)
    board.refresh_all(world.day)
    done = []
    for _step in range(50):
        name = world.rng.choice(getattr(World, steps))
        getattr(world, name)()
        done.append(name)
        assert_kept_equals_live(world.day)
    assert len(set(done)) >= 7, done


def test_a_change_that_is_rolled_back_leaves_the_figures_fresh_and_a_committed_one_marks_them(tiers, users):
    tech = users["technician"]
    board.refresh_all(START)
    assert kept(START, fresh_only=False) and all(not r.stale for r in db.session.scalars(select(EligibilityStatus)))
    learning.set_done(tech, q3().lessons()[0])
    marked = {(r.user_id, r.stale) for r in db.session.scalars(select(EligibilityStatus))}
    assert marked == {(tech.id, True)}
    board.refresh_all(START)
    tech.name = "renamed"
    db.session.flush()
    db.session.rollback()
    assert all(not r.stale for r in db.session.scalars(select(EligibilityStatus)))


def test_a_refresh_does_not_overwrite_a_mark_made_while_it_decided(tiers, users):
    tech = users["technician"]
    board.refresh_all(START)
    row = db.session.scalar(select(EligibilityStatus).where(EligibilityStatus.user_id == tech.id))
    seen = (row.user_id, row.tier_id, row.version)
    db.session.commit()
    board.mark_users([tech.id])  # a change committed after the version was read
    db.session.commit()
    assert board._refresh_rows([seen], START) == 0
    assert db.session.get(EligibilityStatus, (seen[0], seen[1])).stale


def test_a_figure_is_stale_from_the_day_the_date_alone_may_change_it_and_not_before(tiers, users):
    """A day passing no longer makes every figure stale: only those whose recheck day has come
    (here the senior tier's month at the certified tier completed, then its certificate
    expiring); the certified tier's figure does not depend on the date and stays fresh."""
    tech, certified, senior = users["technician"], tiers["certified"], tiers["senior"]
    cert = certs.issue(tech, certified, START - timedelta(days=10), by=users["trainer"], note="paper", force=True)
    board.refresh_all(START)
    rows = {r.tier_id: r for r in db.session.scalars(select(EligibilityStatus))}
    month = date(2026, 12, 10)  # issued 10 Nov: a month at the tier below from 10 Dec
    assert rows[certified.id].held and rows[certified.id].recheck_on is None
    assert rows[senior.id].recheck_on == month
    assert set(kept(month - timedelta(days=1), fresh_only=True)) == {(tech.id, certified.id), (tech.id, senior.id)}
    assert set(kept(month, fresh_only=True)) == {(tech.id, certified.id)}
    board.refresh_all(month)  # a month held: the next change by date is the certificate's expiry
    row = db.session.get(EligibilityStatus, (tech.id, senior.id))
    assert row.recheck_on == cert.valid_until + timedelta(days=1) and not row.stale
    assert_kept_equals_live(month)
    assert_kept_equals_live(cert.valid_until)
    assert_kept_equals_live(cert.valid_until + timedelta(days=1))


def test_the_migration_marks_the_rows_kept_before_it_stale(tiers, users):
    """Rows decided before recheck days were kept have none: the migration marks them all stale,
    so none is trusted past a day its decision may have changed."""
    import importlib.util
    from pathlib import Path

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    board.refresh_all(START)
    path = next(Path("migrations/versions").glob("*_b7e3d91f5c28_*.py"))
    spec = importlib.util.spec_from_file_location("recheck_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    connection = db.session.connection()
    module.op = Operations(MigrationContext.configure(connection))
    module.downgrade()
    module.upgrade()
    db.session.commit()
    assert kept(START, fresh_only=False) and kept(START, fresh_only=True) == {}


@pytest.mark.parametrize("only", [False, True])
def test_the_download_is_the_live_board_batch_by_batch_with_stale_figures_refreshed(
        app, client, tiers, users, audit_template, make_user, monkeypatch, only):
    """The board's CSV (every technician, read a few at a time from the kept figures) equals the
    board decided live for every technician, the way the download was made before, also when
    figures were stale (marked by a change, or past their recheck day)."""
    import csv
    import io

    from flask_babel import ngettext

    from portal.certification.rules import effective_status, status_label
    from portal.csvexport import place, word

    monkeypatch.setattr(board, "EXPORT_BATCH", 2)
    world = World(random.Random(7), users, audit_template, make_user)
    for _n in range(6):
        world.late_joiner()
    make_tier1_eligible(world.techs[-1], users["trainer"])
    for _step in range(25):
        getattr(world, world.rng.choice(World.STEPS))()
    board.refresh_all(START)  # figures of an earlier day: past many recheck days today
    board.mark_users([world.techs[2].id])
    db.session.commit()
    login(client, "trainer")
    raw = client.get("/certificates/eligibility?format=csv" + ("&only=eligible" if only else "")).get_data()
    got = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))[1:]
    today = local_today()
    with app.test_request_context():
        def cell(held, check):
            if held:
                return status_label(effective_status(held, today))
            return word("eligible") if check.eligible else ngettext(
                "%(num)d requirement unmet", "%(num)d requirements unmet", len(check.unmet))

        expected = [[u.username, u.name, *place(u.outlet)] + [cell(h, e) for _t, h, e in cells]
                    for u, cells in certs.eligibility_board(certs.active_tiers(), today, only_eligible=only)]
    expected.sort(key=lambda row: row[0])
    assert got == expected and len(expected) >= (1 if only else 7)


# --- the page ---------------------------------------------------------------------------------


@pytest.fixture
def many(tiers, users, make_user, monkeypatch):
    from portal.certification import views

    monkeypatch.setattr(views, "BOARD_PAGE", 3)
    made = [make_user(f"t{i:02d}", "technician", outlet="GD-GZ-01" if i % 2 else None) for i in range(7)]
    return made


def _rows(html: str) -> list[str]:
    import re

    return re.findall(r'data-row="([^"]+)"', html)


def test_the_board_is_paginated_by_username(app, client, many):
    login(client, "trainer")
    first = client.get("/certificates/eligibility").get_data(as_text=True)
    second = client.get("/certificates/eligibility?page=2").get_data(as_text=True)
    names = sorted(["tech"] + [u.username for u in many])
    assert _rows(first) == names[:3] and _rows(second) == names[3:6]
    last = client.get("/certificates/eligibility?page=99").get_data(as_text=True)
    assert _rows(last) == names[6:]
    assert 'data-total="8"' in first and len(_rows(first)) <= 3


def test_eligible_only_and_its_counts_read_the_kept_figures(app, client, many, users):
    from .test_certification import make_tier1_eligible

    make_tier1_eligible(many[3], users["trainer"])
    login(client, "trainer")
    page = client.get("/certificates/eligibility?only=eligible").get_data(as_text=True)
    assert _rows(page) == [many[3].username]
    assert 'data-eligible-count="certified" data-n="1"' in page and 'data-total="1"' in page
    outlet_only = client.get(f"/certificates/eligibility?outlet={many[3].outlet_id}&only=eligible")
    assert _rows(outlet_only.get_data(as_text=True)) == [many[3].username]
    tier = certs.tier_by_code("senior")
    senior = client.get(f"/certificates/eligibility?only=eligible&tier={tier.id}").get_data(as_text=True)
    assert _rows(senior) == [] and "data-cell=\"t03/certified\"" not in senior


def test_the_counts_are_exact_when_few_figures_are_stale_and_say_how_many_wait_when_many_are(
        app, client, many, users, monkeypatch):
    from .test_certification import make_tier1_eligible

    def awaiting(html: str) -> int:
        import re

        return int(re.search(r'data-awaiting="(\d+)"', html).group(1))

    today = local_today()
    board.refresh_all(today)
    make_tier1_eligible(many[5], users["trainer"])  # marks two figures, of a technician on page 2
    login(client, "trainer")
    first = client.get("/certificates/eligibility").get_data(as_text=True)
    assert 'data-eligible-count="certified" data-n="1"' in first and awaiting(first) == 0
    monkeypatch.setattr(board, "REQUEST_BUDGET", 4)
    board.mark_everyone()  # e.g. a content load: 16 figures stale, more than the page may refresh
    db.session.commit()
    page = client.get("/certificates/eligibility?lang=en").get_data(as_text=True)
    assert awaiting(page) == 16 - 3 * 2  # the page's own three technicians × two tiers are refreshed
    assert "10 figures await their refresh" in page
    assert "10 个数字待更新" in client.get("/certificates/eligibility?lang=zh_CN").get_data(as_text=True)
    assert 'data-eligible-count="certified" data-n="1"' in page  # as last decided
    assert board.refresh_all(today) == 10
    assert awaiting(client.get("/certificates/eligibility").get_data(as_text=True)) == 0


def test_flask_daily_refreshes_every_stale_figure(app, runner, tiers, users):
    result = runner.invoke(args=["daily"])
    assert result.exit_code == 0, result.output
    assert "eligibility board:" in result.output
    with app.test_request_context():
        assert len(kept(local_today(), fresh_only=True)) == 2  # one technician × two tiers




# --- the trainer's overdue lists, page by page ------------------------------------------------


def test_the_overdue_list_and_an_assignments_overdue_technicians_are_paginated(app, client, tiers, users, make_user,
                                                                                monkeypatch):
    import re

    from portal.learning import views as learning_views
    from portal.learning.models import Assignment
    from portal.records import dashboard

    monkeypatch.setattr(dashboard, "OVERDUE_PAGE", 2)
    monkeypatch.setattr(learning_views, "REPORT_PAGE", 2)
    for n in range(4):
        make_user(f"late{n}", "technician", outlet="GD-GZ-01")
    today = local_today()
    assignment = Assignment(course_id=q3().id, scope="all", due_date=today - timedelta(days=3))
    db.session.add(assignment)
    db.session.commit()
    login(client, "trainer")
    home = client.get("/trainer").get_data(as_text=True)
    assert re.search(r'href="/dashboard/overdue"><span class="stat">5</span>', home)
    seen = []
    for page in (1, 2, 3):
        html = client.get(f"/dashboard/overdue?page={page}").get_data(as_text=True)
        assert "<span data-count>5</span>" in html
        rows = re.findall(r'<tr data-overdue><th scope="row"><a href="/technicians/([^"/]+)', html)
        assert len(rows) <= 2
        seen += rows
    assert sorted(seen) == sorted(["tech"] + [f"late{n}" for n in range(4)])
    first = client.get(f"/learning/assignments/{assignment.id}").get_data(as_text=True)
    second = client.get(f"/learning/assignments/{assignment.id}?page=2").get_data(as_text=True)

    def overdue_items(html):
        part = html[html.index('data-section="overdue"'):]
        return re.findall(r"<li>.*?\(([a-z0-9]+)\)", part[:part.index("</section>")])

    assert len(overdue_items(first)) == 2 and len(overdue_items(second)) == 2
    assert not set(overdue_items(first)) & set(overdue_items(second))
