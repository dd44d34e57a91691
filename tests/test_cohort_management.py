"""Managing a cohort after it is made (learning.cohorts) and finding technicians by name or
username (auth.services.TechnicianFilter, shared by /technicians/ and the member picker)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from portal.auth.models import User
from portal.auth.services import TechnicianFilter, technicians_query
from portal.extensions import db
from portal.learning import cohorts as manage
from portal.learning import services as learning
from portal.learning.models import Cohort, CohortEvent, CohortMember, Course

from .conftest import get_csrf, login


@pytest.fixture
def setup(courses, users, make_user):
    """The access matrix's cohort (trainer + tech) and six more technicians: four at Guangzhou
    starting in 2026-05 (two named Wang), two at Foshan starting in 2026-09; a second trainer."""
    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    more = {
        "wangwei": make_user("wangwei", outlet="GD-GZ-01", name="Wang Wei", start_date=date(2026, 5, 4)),
        "wangfang": make_user("wangfang", outlet="GD-GZ-01", name="王芳", start_date=date(2026, 5, 6)),
        "liuyang": make_user("liuyang", outlet="GD-GZ-01", name="刘洋", start_date=date(2026, 5, 11)),
        "zhao": make_user("zhao.min", outlet="GD-GZ-01", name="Zhao Min", start_date=date(2026, 5, 12)),
        "fs1": make_user("fs-one", outlet="GD-FS-01", name="孙一", start_date=date(2026, 9, 1)),
        "fs2": make_user("fs-two", outlet="GD-FS-01", name="孙二", start_date=date(2026, 9, 2)),
        "other": make_user("other-trainer", "trainer", name="Other"),
        "both": make_user("coach", "trainer", "technician", outlet="GD-GZ-01", name="Coach",
                          start_date=date(2026, 5, 5)),
    }
    cohort = learning.create_cohort("Matrix cohort", onboarding, date(2026, 11, 2),
                                    [users["trainer"], more["both"]], [users["technician"]], users["trainer"])
    return {"cohort": cohort, "onboarding": onboarding, **users, **more}


def _members(cohort) -> list[str]:
    db.session.expire_all()
    return sorted(u.username for u in db.session.get(Cohort, cohort.id).members)


def _found(**kw) -> list[str]:
    query = TechnicianFilter(**kw).apply(technicians_query())
    return sorted(db.session.scalars(query.with_only_columns(User.username)))


# --- search --------------------------------------------------------------------------------------


def test_search_by_the_start_of_a_name_or_username_ignoring_case(setup):
    assert _found(q="wang") == ["wangfang", "wangwei"]  # usernames; and "Wang Wei" by name
    assert _found(q="WANG W") == ["wangwei"]  # the name, whatever the case typed
    assert _found(q="王") == ["wangfang"]  # a Chinese family name
    assert _found(q="zhao.") == ["zhao.min"]
    assert _found(q="min") == []  # prefix, not contains: an index range
    assert _found(q="fs-", outlet=setup["fs1"].outlet_id) == ["fs-one", "fs-two"]
    assert _found(q="%") == [] and _found(q="_") == []  # no wildcards


def test_filter_by_start_date_and_place(setup, network):
    assert _found(started_from=date(2026, 5, 5), started_to=date(2026, 5, 11)) == ["coach", "liuyang", "wangfang"]
    assert _found(region=network["region"].id, started_from=date(2026, 9, 1)) == ["fs-one", "fs-two"]


def test_technician_list_searches_by_name_and_username(setup, client):
    login(client, "trainer")
    page = client.get("/technicians/?q=wang&lang=en").get_data(as_text=True)
    assert "Wang Wei" in page and "王芳" in page and "刘洋" not in page
    assert 'value="wang"' in page  # the search box keeps what was typed
    page = client.get("/technicians/?q=刘").get_data(as_text=True)
    assert "刘洋" in page and "Wang Wei" not in page
    csv = client.get("/technicians/?q=wangw&format=csv").get_data(as_text=True)
    assert "wangwei" in csv and "wangfang" not in csv


# --- members -------------------------------------------------------------------------------------


def test_add_everyone_matching_a_filter_exactly_once(setup, client):
    cohort, trainer = setup["cohort"], setup["trainer"]
    other_onboarding = learning.create_cohort("Elsewhere", setup["onboarding"], date(2026, 10, 5),
                                              [setup["other"]], [setup["liuyang"]], setup["other"])
    login(client, "trainer")
    url = f"/learning/cohorts/{cohort.id}/members/add?outlet={setup['wangwei'].outlet_id}&started_from=2026-05-01"
    page = client.get(url + "&lang=en").get_data(as_text=True)
    assert "Add all 5 matching" in page  # wangwei, wangfang, liuyang, zhao.min, coach
    token = get_csrf(client, url)
    response = client.post(url, data={"csrf_token": token, "all": "1"})
    assert response.status_code == 302
    # liuyang is in another cohort; coach trains this one: neither is added; tech was not matched.
    assert _members(cohort) == ["tech", "wangfang", "wangwei", "zhao.min"]
    assert [u.username for u in db.session.get(Cohort, other_onboarding.id).members] == ["liuyang"]
    again = client.post(url, data={"csrf_token": token, "all": "1"})  # idempotent
    assert again.status_code == 302 and _members(cohort) == ["tech", "wangfang", "wangwei", "zhao.min"]
    assert db.session.scalar(select(func.count()).select_from(CohortMember)) == 5
    events = db.session.scalars(select(CohortEvent).where(CohortEvent.cohort_id == cohort.id)).all()
    assert [e.msg_id for e in events] == ["cohort.members-added-filter"]  # nothing added the 2nd time
    assert events[0].params["count"] == 3 and events[0].actor_id == trainer.id
    assert "outlet=" in events[0].params["filter"]


def test_add_everyone_needs_a_filter(setup):
    with pytest.raises(learning.LearningError):
        manage.add_matching(setup["cohort"], TechnicianFilter(), setup["trainer"])


def test_tick_add_and_remove_members_logged_in_the_readers_language(setup, client):
    cohort = setup["cohort"]
    login(client, "trainer")
    url = f"/learning/cohorts/{cohort.id}/members/add?q=fs"
    token = get_csrf(client, url)
    ids = [str(setup["fs1"].id), str(setup["fs2"].id), str(setup["trainer"].id), str(setup["both"].id)]
    assert client.post(url, data={"csrf_token": token, "user": ids}).status_code == 302
    assert _members(cohort) == ["fs-one", "fs-two", "tech"]  # not the trainers (nobody adds themselves)
    members = f"/learning/cohorts/{cohort.id}/members"
    page = client.get(members + "?lang=en").get_data(as_text=True)
    assert "孙一" in page and "陈强" in page
    response = client.post(members, data={"csrf_token": get_csrf(client, members), "user": [str(setup["fs1"].id)]})
    assert response.status_code == 302 and _members(cohort) == ["fs-two", "tech"]
    log = client.get(f"/learning/cohorts/{cohort.id}/settings?lang=en").get_data(as_text=True)
    assert "Members added (2): fs-one, fs-two" in log and "Members removed (1): fs-one" in log
    log_zh = client.get(f"/learning/cohorts/{cohort.id}/settings?lang=zh_CN").get_data(as_text=True)
    assert "Members removed" not in log_zh and "fs-one" in log_zh


# --- settings ------------------------------------------------------------------------------------


def test_rename_and_move_the_start_date_moves_the_schedule(setup, client):
    cohort = setup["cohort"]
    before = [d for _m, d in learning.cohort_days(cohort)]
    login(client, "trainer")
    url = f"/learning/cohorts/{cohort.id}/settings"
    bad = client.post(url + "?lang=en", data={"csrf_token": get_csrf(client, url), "name": " ", "start_date": "2026-11-09"})
    assert bad.status_code == 200 and db.session.get(Cohort, cohort.id).name == "Matrix cohort"
    response = client.post(url, data={"csrf_token": get_csrf(client, url), "name": "Guangzhou Nov",
                                      "start_date": "2026-11-09"})
    assert response.status_code == 302
    db.session.expire_all()
    moved = db.session.get(Cohort, cohort.id)
    assert moved.name == "Guangzhou Nov" and moved.start_date == date(2026, 11, 9)
    after = [d for _m, d in learning.cohort_days(moved)]
    assert after[0] == date(2026, 11, 9) and all((a - b).days == 7 for a, b in zip(after, before))
    # the matrix follows: on 2026-11-05 nobody is behind any more (day 1 is on 11-09)
    assert learning.behind_count(moved, date(2026, 11, 5)) == 0
    assert learning.behind_count(moved, date(2026, 11, 12)) == 1
    progress = learning.course_progress(setup["technician"], moved.course, moved.start_date)
    assert progress.modules[0].date == date(2026, 11, 9)
    page = client.get(url + "?lang=en").get_data(as_text=True)
    assert "Renamed from Matrix cohort to Guangzhou Nov" in page and "Start date moved from" in page


def test_add_a_trainer_but_not_a_member_as_trainer(setup, make_user):
    cohort = setup["cohort"]
    manage.add_trainer(cohort, setup["other"], setup["trainer"])
    assert "other-trainer" in [t.username for t in db.session.get(Cohort, cohort.id).trainers]
    with pytest.raises(learning.LearningError):
        manage.add_trainer(cohort, setup["other"], setup["trainer"])  # already
    member_trainer = make_user("memtrain", "trainer", "technician")
    manage.add_ticked(cohort, [member_trainer.id], setup["trainer"])
    with pytest.raises(learning.LearningError):  # a member does not become their own trainer
        manage.add_trainer(cohort, member_trainer, setup["trainer"])
    with pytest.raises(learning.LearningError):  # not a trainer
        manage.add_trainer(cohort, setup["wangwei"], setup["trainer"])


def test_archive_hides_from_active_lists_stays_readable_and_restores(setup, client):
    cohort = setup["cohort"]
    login(client, "trainer")
    url = f"/learning/cohorts/{cohort.id}/archive"
    token = get_csrf(client, f"/learning/cohorts/{cohort.id}/settings")
    assert client.post(url, data={"csrf_token": token, "archived": "1"}).status_code == 302
    assert "Matrix cohort" not in client.get("/learning/cohorts").get_data(as_text=True)
    assert "Matrix cohort" in client.get("/learning/cohorts?archived=1").get_data(as_text=True)
    assert client.get(f"/learning/cohorts/{cohort.id}").status_code == 200  # readable
    db.session.expire_all()
    assert learning.notify_behind(date(2026, 12, 31)) == 0  # nobody chased in an archived cohort
    with pytest.raises(learning.LearningError):
        manage.add_ticked(db.session.get(Cohort, cohort.id), [setup["fs1"].id], setup["trainer"])
    assert client.post(url, data={"csrf_token": token, "archived": "0"}).status_code == 302
    assert "Matrix cohort" in client.get("/learning/cohorts").get_data(as_text=True)
    assert [e.msg_id for e in manage.events(db.session.get(Cohort, cohort.id))] == ["cohort.restored",
                                                                                   "cohort.archived"]


# --- who -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["other-trainer", "tech", "auditor"])
def test_only_the_cohorts_trainers_and_admins_manage_it(setup, client, who):
    cohort = setup["cohort"]
    login(client, who)
    for path in ("settings", "members", "members/add"):
        assert client.get(f"/learning/cohorts/{cohort.id}/{path}").status_code == 403
    token = get_csrf(client, "/account/password")
    response = client.post(f"/learning/cohorts/{cohort.id}/members/add?q=fs",
                           data={"csrf_token": token, "all": "1"})
    assert response.status_code == 403 and _members(cohort) == ["tech"]
    response = client.post(f"/learning/cohorts/{cohort.id}/archive", data={"csrf_token": token, "archived": "1"})
    assert response.status_code == 403 and db.session.get(Cohort, cohort.id).archived_at is None


def test_an_admin_manages_any_cohort(setup, client):
    login(client, "admin")
    assert client.get(f"/learning/cohorts/{setup['cohort'].id}/members/add").status_code == 200
    assert manage.may_manage(setup["admin"], setup["cohort"])
    assert not manage.may_manage(setup["other"], setup["cohort"])


def test_hostile_searches_answer_without_error(setup, client):
    login(client, "trainer")
    for q in ("\x00", "a\x00b", "\U0010ffff", "\ud7ff", "'; --", "%_", "x" * 500):
        assert client.get("/technicians/", query_string={"q": q}).status_code in (200, 400)  # NUL: refused
        assert client.get(f"/learning/cohorts/{setup['cohort'].id}/members/add",
                          query_string={"q": q, "started_from": "2026-13-40"}).status_code in (200, 400)
