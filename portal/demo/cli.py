"""``flask --app portal demo``: demo network, users and content. Idempotent."""

from __future__ import annotations

import io
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import click
import yaml
from flask.cli import with_appcontext
from flask_babel import gettext as _
from PIL import Image
from sqlalchemy import select

from ..assessment import attempts
from ..assessment.models import Attempt
from ..assessment.services import quiz_by_slug
from ..audits import services as audits
from ..audits.loader import current_template
from ..audits import draw as drawing
from ..audits import visit_services
from ..audits.models import Audit, AuditDraw, AuditProgramme, AuditVisit, GoodPracticeStory
from ..auth.models import Outlet, Province, Region
from ..auth.passwords import DEMO_PASSWORD as PUBLISHED_DEMO_PASSWORD
from ..auth.services import create_user, find_user
from ..certification import services as certs
from ..certification.models import Certificate
from ..cliutil import cli_request, fail, needs_schema
from ..content.cli import default_content_root, load_content
from ..content.loader import plan
from ..extensions import db
from ..kb import contributions
from ..learning import services as learning
from ..learning.models import Assignment, Cohort, Course, LessonProgress, PracticalTask, SignOff, TargetedAssignment
from ..learning.views import today
from ..voice import services as voice
from ..voice.models import VoiceMessage

DEMO_FILE = Path(__file__).with_name("network.yaml")
# Deliberately weak and published in README: the demo's users (and only they) get it, through
# create_user(demo_password=True), which bypasses the common-password rule. Never in production.
DEMO_PASSWORD = PUBLISHED_DEMO_PASSWORD


def _upsert(model, code: str, **values) -> tuple[object, bool]:
    obj = db.session.scalar(select(model).where(model.code == code))
    created = obj is None
    if created:
        obj = model(code=code, **values)
        db.session.add(obj)
        db.session.flush()
    return obj, created


def load_demo() -> dict[str, int]:
    """Create what is missing of the demo; leave everything that exists untouched."""
    data = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    created = {"regions": 0, "provinces": 0, "outlets": 0, "users": 0}
    provinces = {}
    for r in data["regions"]:
        region, new = _upsert(Region, r["code"], name_zh=r["name_zh"], name_en=r["name_en"])
        created["regions"] += new
        for p in r["provinces"]:
            province, new = _upsert(Province, p["code"], name_zh=p["name_zh"],
                                    name_en=p["name_en"], region_id=region.id)
            created["provinces"] += new
            provinces[p["code"]] = province
    for o in data["outlets"]:
        _outlet, new = _upsert(Outlet, o["code"], name_zh=o["name_zh"], name_en=o["name_en"],
                               city=o.get("city", ""), province_id=provinces[o["province"]].id,
                               products=list(o.get("products") or []))
        created["outlets"] += new
    db.session.commit()
    for u in data["users"]:
        if find_user(u["username"]) is None:
            start = u.get("start_date")
            create_user(u["username"], u["roles"], DEMO_PASSWORD, name=u["name"], demo_password=True,
                        outlet_code=u.get("outlet"),
                        start_date=start if isinstance(start, date) else None)
            created["users"] += 1
    return created


@click.command("demo")
@with_appcontext
@needs_schema
def demo_command():
    """Load the demo network, demo users (password: portal-demo) and all shipped content."""
    root = default_content_root()
    if not plan(root):  # an installed package carries no content: refuse before creating anything
        fail(_("Nothing under %(path)s that the portal knows how to load.", path=root))
    created = load_demo()
    click.echo("demo: " + ", ".join(f"{n} {what} created" for what, n in created.items()))
    report = load_content(root)

    load_learning_demo(today())
    load_assessment_demo(today())
    load_audit_demo(today())
    load_network_demo(today())
    load_programme_demo(today())
    load_voice_demo(today())
    for problem in report.problems:
        click.echo(str(problem), err=True)
    click.echo(_("demo users: admin, trainer, auditor, tech, newtech (and 38 more technicians); password: %(pw)s",
                 pw=DEMO_PASSWORD))
    if report.problems:
        sys.exit(1)


def load_learning_demo(today: date) -> int:
    """A cohort of the demo's new technician, part-way through onboarding (a day behind), a
    product course assigned to everyone and one overdue, and a targeted lesson. Creates only
    what is missing; returns how many things it created."""
    courses = {c.slug: c for c in db.session.scalars(select(Course).where(Course.active))}
    onboarding = courses.get("onboarding")
    newtech, tech, trainer = find_user("newtech"), find_user("tech"), find_user("trainer")
    if onboarding is None or not (newtech and tech and trainer):
        return 0
    made = 0
    name = "演示班 Demo cohort"
    if db.session.scalar(select(Cohort).where(Cohort.name == name)) is None:
        calendar = learning.calendar()
        start, back = today, 0
        while back < 3:  # three working days ago: today is day 4
            start -= timedelta(days=1)
            back += calendar.is_working_day(start)
        learning.create_cohort(name, onboarding, start, [trainer], [newtech], trainer)
        modules = [m for m in onboarding.modules if m.active]
        for module in modules[:2]:
            for lesson in module.lessons:
                learning.set_done(newtech, lesson)
        for lesson in modules[2].lessons[:2]:
            learning.set_done(newtech, lesson)
        learning.record_visit(newtech, modules[2].lessons[2])
        task = db.session.scalar(select(PracticalTask).where(PracticalTask.course_id == onboarding.id,
                                                             PracticalTask.slug == "seven-step-drill"))
        if task is not None and db.session.scalar(select(SignOff).where(SignOff.task_id == task.id)) is None:
            results = [(True, "")] * len(task.checklist)
            results[-1] = (False, "没有做服务总结")
            learning.record_signoff(task, newtech, trainer, results, "明天再考一次")
        made += 1
    for slug, due in (("2026-q3-r32-inverter-splits", today - timedelta(days=10)),
                      ("2026-q4-heat-pump-water-heaters", today + timedelta(days=30))):
        course = courses.get(slug)
        if course is not None and db.session.scalar(select(Assignment).where(Assignment.course_id == course.id)) is None:
            learning.create_assignment(course, "all", due, trainer)
            if slug.startswith("2026-q3"):
                for lesson in course.lessons():
                    learning.set_done(tech, lesson)
            made += 1
    lesson = next((l for l in onboarding.lessons() if l.slug == "d05-forbidden-phrases"), None)
    if lesson is not None and db.session.scalar(select(TargetedAssignment).where(
            TargetedAssignment.user_id == tech.id)) is None:
        learning.assign_targeted(tech, lesson, "暗访：对客户说了“没有配件，过几天再说”", today + timedelta(days=7), trainer)
        made += 1
    return made


# (username, questions answered right out of 50 on the onboarding final, days ago)
DEMO_FINALS = (("tech", 47, 230), ("zhaolei", 45, 500), ("sunli", 42, 420), ("zhoujie", 38, 300),
               ("zhoujie", 44, 260), ("wuhao", 41, 200), ("zhengyu", 33, 120), ("hemei", 40, 60))


def load_assessment_demo(today: date) -> int:
    """Graded attempts at the onboarding final (so results and item analysis have data), the
    demo technician's quarterly quiz passed, and certificates in several states. Creates only
    what is missing."""


    final, trainer, tech = quiz_by_slug("onboarding-final"), find_user("trainer"), find_user("tech")
    if final is None or trainer is None or tech is None:
        return 0
    made = 0

    def moment(days_ago: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(10, 0), tzinfo=timezone.utc)

    if db.session.scalar(select(Attempt).where(Attempt.quiz_id == final.id)) is None:
        for n, (username, right, days_ago) in enumerate(DEMO_FINALS):
            user = find_user(username)
            if user is not None:
                attempts.take(user, final, moment(days_ago), right=right, seed=1000 + n)
                made += 1
    q3 = db.session.scalar(select(Course).where(Course.slug == "2026-q3-r32-inverter-splits"))
    q3_quiz = quiz_by_slug(q3.quiz) if q3 is not None and q3.quiz else None
    if q3_quiz is not None and db.session.scalar(select(Attempt).where(Attempt.quiz_id == q3_quiz.id)) is None:
        attempts.take(tech, q3_quiz, moment(12), right=16, seed=7)
        made += 1
    if db.session.scalar(select(Certificate)) is None and certs.tier_by_code("certified") is not None:
        first = certs.tier_by_code("certified")
        onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
        with cli_request():
            if onboarding is not None:  # the demo technician meets every tier-1 requirement
                for lesson in onboarding.lessons():
                    learning.set_done(tech, lesson)
                for task in onboarding.tasks():
                    if not learning.latest_signoffs(tech.id, [task.id]).get(task.id):
                        learning.record_signoff(task, tech, trainer, [(True, "")] * len(task.checklist))
                certs.issue(tech, first, today - timedelta(days=200), by=trainer,
                            note="入职考核全部合格",
                            force=not certs.eligibility(tech, first, today).eligible)
            paper = "从纸质档案迁移"
            for username, days_ago, change in (("zhaolei", 340, None), ("sunli", 300, "suspend"),
                                               ("zhoujie", 250, None), ("wuhao", 380, None)):
                user = find_user(username)
                if user is None:
                    continue
                cert = certs.issue(user, first, today - timedelta(days=days_ago), by=trainer, note=paper, force=True)
                if change == "suspend":
                    certs.suspend(cert, "客户投诉调查中", by=trainer)
            certs.sweep(today)  # wuhao's has passed its date
        made += 1
    return made


# (technician, days ago, answers changed from a perfect visit, story)
DEMO_AUDITS = (
    ("zhaolei", 95, {}, "客户家老人行动不便，赵师傅修好空调后顺手帮忙检查了热水器的漏电保护插头，并耐心教老人使用遥控器的大字模式。"),
    ("tech", 70, {"arrived-in-window": "no", "called-ahead": "no-call", "arrival-time": "11:35", "minutes-late": 35},
     ""),
    ("zhoujie", 60, {"polite-phrases": 3, "listened-plain-words": "no"}, ""),
    ("tech", 25, {"business-card": "no"}, ""),
    ("hemei", 20, {"accepted-gift": "yes"}, ""),
    ("zhengyu", 12, {"site-cleaned": "no", "power-on-demo": "no"}, ""),
    ("sunli", 5, {}, ""),
)


def load_audit_demo(today: date) -> int:
    """Submitted audits over the last three months (one red-line failure, weak sections that
    assigned lessons, an excellent visit whose story a trainer approved) and a draft in
    progress. Creates only what is missing."""


    form, auditor, trainer = current_template("home-service-visit"), find_user("auditor"), find_user("trainer")
    if form is None or auditor is None or db.session.scalar(select(Audit)) is not None:
        return 0
    made = 0
    # What the auditor wrote beside an answer that differs from a perfect visit (and only there: a
    # note must never tell a different story from its answer).
    comments = {"arrived-in-window": "约好 9:00–11:00，11:35 才到",
                "arrival-time": "约定时间段 9:00–11:00",
                "accepted-gift": "收下了客户送的一盒茶叶",
                "site-cleaned": "地上留有包装和灰尘"}
    with cli_request():
        for n, (username, days_ago, changes, story) in enumerate(DEMO_AUDITS):
            technician = find_user(username)
            if technician is None:
                continue
            visited = datetime.combine(today - timedelta(days=days_ago), time(2 + n % 5, 0), tzinfo=timezone.utc)
            moment = visited + timedelta(hours=3)
            audit = audits.start(auditor, technician, form, visited, f"WO-2026-{4100 + n}", "air-conditioner",
                                 technician.outlet.city if technician.outlet else "广州", moment)
            answers = {**audits.model_answers(form.spec), **changes}
            if story:
                answers["story"] = story
            for item, value in answers.items():
                note = (comments.get(item) or "见现场记录") if item in changes else None
                audits.save_answer(audit, item, value, note)
            if "site-cleaned" in changes:
                audits.add_photo(audit, "site-cleaned", _demo_photo())
            audits.submit(audit, moment)
            made += 1
        for story in db.session.scalars(select(GoodPracticeStory).where(GoodPracticeStory.status == "proposed")):
            audits.decide_story(story, trainer, True, datetime.now(timezone.utc))
        tech = find_user("tech")
        if tech is not None:  # an audit the auditor has started and not finished
            now = datetime.now(timezone.utc)
            draft = audits.start(auditor, tech, form, now - timedelta(hours=2), "WO-2026-4200", "air-conditioner",
                                 "广州", now)
            for item in ("arrived-in-window", "called-ahead", "uniform"):
                audits.save_answer(draft, item, audits.model_answers(form.spec)[item])
            made += 1
    return made


def _demo_photo() -> bytes:
    """A small grey picture standing in for a site photo."""
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (150, 150, 150)).save(out, "PNG")
    return out.getvalue()


SURNAMES = [("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
            ("黄", "Huang"), ("吴", "Wu"), ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"),
            ("胡", "Hu"), ("郭", "Guo"), ("林", "Lin"), ("罗", "Luo")]
GIVEN = [("伟", "Wei"), ("芳", "Fang"), ("军", "Jun"), ("静", "Jing"), ("磊", "Lei"), ("洋", "Yang"),
         ("勇", "Yong"), ("艳", "Yan"), ("杰", "Jie"), ("涛", "Tao"), ("明", "Ming"), ("超", "Chao"),
         ("华", "Hua"), ("鹏", "Peng"), ("斌", "Bin"), ("倩", "Qian")]
OUTLETS = ("GD-GZ-01", "GD-FS-01", "GD-ZH-01", "ZJ-HZ-01", "JS-NJ-01", "SD-QD-01", "BJ-CY-01", "HB-WH-01",
           "SC-CD-01", "SC-MY-01")
NETWORK_SIZE = 32


def _network_people(today: date) -> list:
    """32 more technicians (deterministic names) across the outlets, plus a second trainer and
    auditor; returns the technicians (created or already there)."""
    people = []
    for n in range(NETWORK_SIZE):
        (sz, se), (gz, ge) = SURNAMES[n % 16], GIVEN[(n * 7 + n // 16) % 16]
        username = f"{se}{ge}{n + 1:02d}".lower()
        user = find_user(username)
        if user is None:
            start = today - timedelta(days=8 if n < 6 else 120 + 25 * n)
            user = create_user(username, ["technician"], DEMO_PASSWORD, name=f"{sz}{gz} {se} {ge}", demo_password=True,
                               outlet_code=OUTLETS[n % len(OUTLETS)], start_date=start)
        people.append(user)
    for username, role, name in (("trainer2", "trainer", "周敏 Zhou Min"), ("auditor2", "auditor", "郑洁 Zheng Jie")):
        if find_user(username) is None:
            create_user(username, [role], DEMO_PASSWORD, name=name, demo_password=True)
    return people


def load_network_demo(today: date) -> int:
    """A believable network: technicians in onboarding (some behind), certified at each tier,
    overdue on the quarterly course, suspended after an audit, with lesson progress, exam
    attempts, sign-offs, audits and contributions spread over the past months. Creates only what
    is missing (the marker: the second cohort)."""
    name = "2026 年 11 月广州班 Guangzhou, November 2026"
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    q3 = db.session.scalar(select(Course).where(Course.slug == "2026-q3-r32-inverter-splits"))
    trainer, auditor = find_user("trainer"), find_user("auditor")
    if onboarding is None or trainer is None or db.session.scalar(select(Cohort).where(Cohort.name == name)):
        return 0
    people = _network_people(today)
    trainer2, auditor2 = find_user("trainer2"), find_user("auditor2")

    def moment(days_ago: int, hour: int = 3) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(hour, 0), tzinfo=timezone.utc)

    def lessons_done(user, course, days_ago: int, count: int | None = None):
        for k, lesson in enumerate(course.lessons()[:count]):
            when = moment(max(0, days_ago - k // 5))
            db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=when, last_seen_at=when,
                                          completed_at=when))
        db.session.commit()

    # In onboarding: a second cohort, started six working days ago, at different paces.
    calendar = learning.calendar()
    start, back = today, 0
    while back < 6:
        start -= timedelta(days=1)
        back += calendar.is_working_day(start)
    learning.create_cohort(name, onboarding, start, [trainer, trainer2], people[:6], trainer2)
    for user, share in zip(people[:6], (1.0, 0.9, 0.6, 0.55, 0.3, 0.1)):
        lessons_done(user, onboarding, 6, int(26 * share))

    final = quiz_by_slug("onboarding-final")
    q3_quiz = quiz_by_slug(q3.quiz) if q3 is not None and q3.quiz else None
    first, second, third = (certs.tier_by_code(c) for c in ("certified", "senior", "master"))
    form = current_template("home-service-visit")
    with cli_request():
        for n, user in enumerate(people[6:], start=6):
            days = 60 + 12 * n  # how long ago they finished onboarding
            lessons_done(user, onboarding, days)
            if final is not None:
                attempts.take(user, final, moment(days), right=36 + n % 14, seed=2000 + n)
            for task in onboarding.tasks():
                learning.record_signoff(task, user, trainer if n % 2 else trainer2, [(True, "")] * len(task.checklist))
            if first is not None:
                eligible = certs.eligibility(user, first, today).eligible
                certs.issue(user, first, today - timedelta(days=days - 5), by=trainer,
                            note="入职考核合格" if eligible else "从纸质档案迁移",
                            force=not eligible)
            if n >= 22 and second is not None:
                certs.issue(user, second, today - timedelta(days=days - 380 if days > 400 else 30), by=trainer,
                            note="从纸质档案迁移", force=True)
            if n >= 28 and third is not None:
                certs.issue(user, third, today - timedelta(days=20), by=trainer,
                            note="技术专家评审通过", force=True)
            if q3 is not None and n % 3:  # two in three finished the quarterly course; the rest are overdue
                lessons_done(user, q3, 20)
                if q3_quiz is not None:
                    attempts.take(user, q3_quiz, moment(18), seed=3000 + n)
        # Audits over six months, by both auditors; one red line suspends a certificate.
        if form is not None:
            # Two of them were audited twice, so their records show a trend.
            visits = list(enumerate(people[8:26])) + [(20, people[10]), (21, people[12])]
            for k, user in visits:
                visited = moment(10 + 9 * k, 2 + k % 6)
                audit = audits.start(auditor if k % 2 else auditor2, user, form, visited, f"WO-2026-{5000 + k}",
                                     "air-conditioner", user.outlet.city if user.outlet else "",
                                     visited + timedelta(hours=2))
                perfect = audits.model_answers(form.spec)
                answers = dict(perfect)
                if k % 4 == 1:  # late and did not call: the times agree with the answer
                    answers.update({"arrived-in-window": "no", "called-ahead": "no-call",
                                    "arrival-time": f"{11 + k % 3}:{10 * (k % 5) + 5:02d}",
                                    "minutes-late": 60 * (k % 3) + 10 * (k % 5) + 5})
                if k % 5 == 2:
                    answers.update({"shoe-covers": "no", "protective-mat": "no", "business-card": "no"})
                if k == 7:
                    answers["forbidden-phrase"] = "yes"
                notes = {  # only beside answers that differ from a perfect visit, and saying the same
                    "forbidden-phrase": "对客户说“这个型号就是爱坏”",
                    "arrived-in-window": f"约好 9:00–11:00，{answers['arrival-time']} 才到",
                    "arrival-time": "约定时间段 9:00–11:00"}
                for item, value in answers.items():
                    note = notes.get(item, "见现场记录") if value != perfect[item] else None
                    audits.save_answer(audit, item, value, note)
                audits.submit(audit, visited + timedelta(hours=2))
                if k % 3 == 0:
                    audits.acknowledge(audit, user, "收到，会改进", visited + timedelta(days=2))
        # Field contributions: some waiting for review, one accepted, one not.
        for k, user in enumerate(people[10:14]):
            data = {"title": f"{['洗衣机', '冰箱', '空调', '热水器'][k]}现场经验 {k + 1}",
                    "lang": "zh", "product": ["washing-machine", "refrigerator", "air-conditioner", "water-heater"][k],
                    "error_codes": [], "body": "## 故障现象\n现场记录。\n\n## 处理方法\n按步骤检查并处理。\n"}
            contribution = contributions.submit_new(user, data, "现场整理")
            db.session.commit()
            if k == 0:
                contributions.reject(contribution, trainer, "请补充型号和测量数据")
    return 1


DEMO_PROGRAMME = {
    "slug": "home-service-visit-monthly", "form": "home-service-visit",
    "title": {"zh": "上门服务暗访（每月）", "en": "Home service visits (monthly)"},
    "period": "monthly", "sampling": {"rate": 0.2, "count": None}, "overrides": [],
    "per_year": {"min": 1, "max": 4},
    "weights": {"red_line": {"weight": 3.0, "days": 180},
                "low_ftf": {"weight": 2.0, "below": 0.7, "min_answers": 5, "days": 90},
                "new_certificate": {"weight": 1.5, "days": 60}},
    "blackout": {"onboarding_working_days": 10, "suspended": True},
    "due": {"working_days": None},
}


def _programme() -> AuditProgramme:
    programme = db.session.scalar(select(AuditProgramme).where(AuditProgramme.active.is_(True))
                                  .order_by(AuditProgramme.slug).limit(1))
    if programme is None:
        spec = DEMO_PROGRAMME
        programme = AuditProgramme(slug=spec["slug"], template_slug=spec["form"], title_zh=spec["title"]["zh"],
                                   title_en=spec["title"]["en"], spec=spec, content_hash="demo", source="form")
        db.session.add(programme)
        db.session.commit()
    return programme


def _periods_back(today: date, kind: str, n: int) -> list[str]:
    """The period of ``today`` and the ``n`` before it, oldest first."""
    periods, day = [], today
    for _k in range(n + 1):
        period = drawing.period_of(day, kind)
        periods.append(period)
        day = drawing.period_bounds(period)[0] - timedelta(days=1)
    return periods[::-1]


# What an auditor types when handing a visit back (one language, as a person writes it).
HANDBACK_REASONS = ("客户把上门时间改到了月底，那几天我在外地做培训，赶不过去。",
                    "这位师傅是我以前的同事，他认得我，暗访会露馅。")


def load_programme_demo(today: date) -> int:
    """The audit programme (the one content/ loaded, else the demo's own) and three periods of
    draws, each with a fixed seed and drawn on the period's first working day (this one: today):
    two periods ago every visit done; last period one visit left overdue, one handed back twice
    (so nobody holds it), the rest done, by reports filed and submitted through the audit
    services (which link them to the visits); this period open, at least one with ``auditor``.
    Only what a period lacks: a period already drawn is left as it is."""
    programme = _programme()
    kind = (programme.spec or {}).get("period", "monthly")
    older, previous, current = _periods_back(today, kind, 2)
    cal = learning.calendar()
    made = 0
    for period, story in ((older, "all-done"), (previous, "mixed"), (current, "open")):
        if drawing.existing_draw(programme, period) is not None:
            continue
        day = today if period == current else drawing.first_working_day(period, cal)
        row = drawing.draw(programme, period, seed=f"de{period.replace('-', '').replace('Q', '0')}", today=day, cal=cal)
        made += row.drawn
        if period != current:  # drawn back then (9:00 local), as `flask daily` would have: not today
            row.drawn_at = drawing.local_midnight(day) + timedelta(hours=9)
            db.session.commit()
        with cli_request():
            _play_visits(programme, row, story, today)
    return made


def _visit_moment(row: AuditDraw, k: int, today: date) -> datetime:
    """A moment (10:00 local) in the draw's period, ``k`` steps on, before its due date and today."""
    start, _end = drawing.period_bounds(row.period)
    day = min(start + timedelta(days=4 + 3 * k), row.due_on, today - timedelta(days=1))
    return datetime.combine(day, time(2, 0), tzinfo=timezone.utc)


def _file_report(visit: AuditVisit, auditor, form, visited: datetime, k: int) -> Audit:
    """The report of a planned visit, filed and submitted as an auditor does (submit links it)."""
    technician = visit.technician
    audit = audits.start(auditor, technician, form, visited, f"WO-{visit.period}-{visit.id:04d}", "air-conditioner",
                         (technician.outlet.city if technician.outlet else "") or "广州", visited + timedelta(hours=1))
    answers = audits.model_answers(form.spec)
    changes = ({"business-card": "no"}, {}, {"shoe-covers": "no"})[k % 3]
    for item, value in {**answers, **changes}.items():
        audits.save_answer(audit, item, value, "见现场记录" if item in changes else None)
    return audits.submit(audit, visited + timedelta(hours=3))


def _play_visits(programme: AuditProgramme, row: AuditDraw, story: str, today: date) -> None:
    auditor, auditor2, trainer = find_user("auditor"), find_user("auditor2"), find_user("trainer")
    form = current_template(programme.template_slug)
    if auditor is None or auditor2 is None or trainer is None or form is None:
        return
    visits = list(db.session.scalars(select(AuditVisit).where(AuditVisit.draw_id == row.id)
                                      .order_by(AuditVisit.id)))
    held = lambda who: [v for v in visits if v.auditor_id == who.id and v.status == "open"]  # noqa: E731
    people = {auditor.id: auditor, auditor2.id: auditor2}
    if story == "open":
        if not held(auditor) and held(auditor2):  # a trainer gives one to the demo auditor
            visit_services.assign(held(auditor2)[0], trainer, auditor, datetime.now(timezone.utc))
        return
    k = 0
    if story == "mixed":
        if not held(auditor) and held(auditor2):
            visit_services.assign(held(auditor2)[0], trainer, auditor, _visit_moment(row, 0, today))
        overdue = held(auditor)[0] if held(auditor) else None  # left open: past its due date now
        rest = [v for v in visits if v is not overdue and v.status == "open" and v.auditor_id in people]
        if len(rest) >= 2:  # the second one is handed back, by each auditor in turn: nobody is left
            back = rest[1]
            for n, reason in enumerate(HANDBACK_REASONS):
                holder = people.get(back.auditor_id)
                if holder is None:
                    break
                visit_services.hand_back(back, holder, reason, _visit_moment(row, 1 + n, today))
                back = db.session.get(AuditVisit, back.id)
        visits = [v for v in visits if v is not overdue]
    for visit in visits:
        if visit.status == "open" and visit.auditor_id in people:
            _file_report(visit, people[visit.auditor_id], form, _visit_moment(row, k, today), k)
            k += 1


# Technicians' voice, as they would type it: (sender, named, kind, theme, text, days ago, a trainer's answer).
DEMO_VOICE = (
    ("tech", True, "suggestion", "scheduling",
     "派单系统经常把番禺和花都的单子排在同一个上午，两边开车要一个多小时，后面的客户等得很不耐烦。"
     "能不能按片区派单？", 12,
     "谢谢你提出来。下周起广州先在番禺、花都试行按片区派单，试一个月后再听大家的意见。"),
    ("wuhao", False, "complaint", "parts",
     "R32 外机的四通阀已经缺货快一个月了，每次都要客户等一周以上，差评最后都算在我们师傅头上。", 9, None),
    ("zhengyu", True, "suggestion", "training",
     "Could the heat-pump water heater course have a hands-on afternoon? Watching the videos on my phone "
     "is not the same as opening a real unit in front of a customer.", 6, None),
    ("hemei", False, "complaint", "management",
     "Our team leader keeps the easy jobs near the office for his favourites and the rest of us get the far "
     "ones at the end of the day. Nobody dares to say it at the morning meeting. Please make the rule public.",
     4, None),
    ("zhoujie", False, "suggestion", "training",
     "新人入职培训能不能加一两天跟老师傅上门？光看视频和做题，真到了客户家里还是手忙脚乱。", 2, None),
)


def load_voice_demo(today: date) -> int:
    """Technicians' suggestions and complaints, some named (one answered by a trainer, so its
    sender has the answer in the bell), some anonymous (no sender kept), sent through the voice
    service. Once: nothing when a message exists already."""
    trainer = find_user("trainer")
    if trainer is None or db.session.scalar(select(VoiceMessage.id).limit(1)) is not None:
        return 0
    made = 0
    with cli_request():
        for username, named, kind, theme, text, days_ago, reply in DEMO_VOICE:
            sender = find_user(username)
            if sender is None:
                continue
            sent = datetime.combine(today - timedelta(days=days_ago), time(3, 0), tzinfo=timezone.utc)
            message, _receipt = voice.send(sender, kind, theme, text, named, sent)
            if reply:
                voice.answer(message, trainer, reply, sent + timedelta(days=2), f"/voice/{message.id}")
            made += 1
    return made
