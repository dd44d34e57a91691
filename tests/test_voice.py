"""Technicians' voice: an anonymous message cannot be traced to its sender by any trainer page,
export, API response or database row; named ones are answered and the sender told; nobody
answers their own; who may see what."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, event, func, select

from portal.auth.models import Outlet, Province, User
from portal.auth.services import hash_password
from portal.extensions import db, limiter
from portal.i18n import local_today
from portal.notifications import Notification
from portal.voice.models import VoiceAnswer, VoiceMessage

from .conftest import PASSWORD, csrf_from, get_csrf, login

X_ID = 987_654  # the anonymous sender's id: distinctive, so that it can be looked for in pages
X_USERNAME, X_NAME, X_EMAIL = "xsender", "匿名测试员甲", "x.sender@example.com"
X_ADDRESS, X_AGENT = "10.77.66.55", "VoiceProbe/1.0 (x-agent-marker)"
TEXT = "派单总是偏向少数人，备件申请拖两周。marker-7f3a"


@pytest.fixture
def x_user(users, network):
    """Technician X at the small outlet GD-GZ-01 (with "tech": two technicians)."""
    user = User(id=X_ID, username=X_USERNAME, name=X_NAME, email=X_EMAIL, password_hash=hash_password(PASSWORD),
                outlet_id=network["outlets"][0].id, start_date=date(2026, 3, 2))
    user.set_roles(["technician"])
    db.session.add(user)
    db.session.commit()
    return user


def _client(app, username):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(client, username).status_code == 302
    return client


def _send(client, **fields):
    token = get_csrf(client, "/voice/new")
    data = {"csrf_token": token, "kind": "complaint", "theme": "management", "text": TEXT,
            "identity": "anonymous", **fields}
    return client.post("/voice/new", data=data, environ_base={"REMOTE_ADDR": X_ADDRESS},
                       headers={"User-Agent": X_AGENT})


def _receipt(client) -> str:
    page = client.get("/voice/").get_data(as_text=True)
    match = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", page)
    assert match, page[-2000:]
    return match.group(0)


def _snapshot() -> dict[str, set[tuple]]:
    db.session.remove()
    with db.engine.connect() as conn:
        return {t.name: {tuple(_cell(c) for c in r) for r in conn.execute(t.select())}
                for t in db.metadata.sorted_tables}


def _cell(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, (list, dict)) else value


def _api_get_urls(app, public_id: str) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") and "GET" in rule.methods:
            urls.append(rule.build({name: public_id for name in rule.arguments}, append_unknown=False)[1])
    return sorted(urls)


def _walk_api(clients, urls) -> dict:
    return {(who, url): client.get(url).get_data(as_text=True) for who, client in clients.items() for url in urls}


X_MARKS = (str(X_ID), X_USERNAME, X_NAME, X_EMAIL)


def _marks(body: str) -> dict:
    return {mark: body.count(mark) for mark in X_MARKS}


def test_an_anonymous_message_cannot_be_traced_to_its_sender(app, users, x_user, caplog):
    trainer, admin = _client(app, "trainer"), _client(app, "admin")
    api_urls = _api_get_urls(app, "Zz" * 11)
    assert "/api/v1/openapi.json" in api_urls and len(api_urls) >= 4
    api_before = _walk_api({"trainer": trainer, "admin": admin}, api_urls)
    x = _client(app, X_USERNAME)
    x.get("/voice/new")

    before = _snapshot()
    caplog.set_level(logging.DEBUG)
    response = _send(x)
    assert response.status_code == 302 and response.headers["Location"] == "/voice/"
    after = _snapshot()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    receipt = _receipt(x)

    message = db.session.scalar(select(VoiceMessage))
    assert message.text == TEXT and not message.named and message.sender_id is None
    public_id = message.id
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", public_id)

    # The database: every row the send wrote or changed.
    written = {name: after[name] - before[name] for name in after if after[name] - before[name]}
    assert set(written) >= {"voice_message"} and len(written["voice_message"]) == 1
    traces = (X_ID, str(X_ID), X_USERNAME, X_NAME, X_EMAIL, X_ADDRESS, X_AGENT)
    message_bits = (TEXT, "marker-7f3a", public_id, receipt, message.receipt_hash)
    for table, rows in written.items():
        for row in rows:
            cells = [str(c) for c in row]
            if table.startswith("voice"):
                assert not any(t in row or any(str(t) in c for c in cells) for t in traces), (table, row)
            else:  # e.g. the sender's session seen again: nothing of the message
                assert not any(bit in c for bit in message_bits for c in cells), (table, row)
    # A day, never a time: the message table has no timestamp at all.
    assert not [c.name for c in VoiceMessage.__table__.columns if isinstance(c.type, DateTime)]
    # X's outlet has 2 technicians and is the only small one of the province and region: no place.
    assert (message.outlet_id, message.province_id, message.region_id) == (None, None, None)
    # No log line and no rate-limit key names the sender.
    assert not any(mark in logged for mark in X_MARKS)
    assert not [k for k in getattr(limiter.storage, "storage", {}) if str(X_ID) in str(k) or X_USERNAME in str(k)]
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0

    # Every trainer page and the export, as a trainer and as an administrator.
    pages = ["/voice/inbox", "/voice/inbox?theme=management", "/voice/inbox?kind=complaint&period=30",
             "/voice/inbox?region=-", "/voice/inbox?province=-&outlet=-", f"/voice/{public_id}",
             "/voice/inbox/export.csv", "/voice/inbox/export.csv?theme=management"]
    for who, client in (("trainer", trainer), ("admin", admin)):
        for url in pages:
            response = client.get(url)
            body = response.get_data(as_text=True)
            assert response.status_code == 200, (who, url)
            assert "marker-7f3a" in body or url.startswith("/voice/inbox?theme") or "export" in url, (who, url)
            assert not any(mark in body for mark in X_MARKS), (who, url)
        export = client.get("/voice/inbox/export.csv").get_data(as_text=True).lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(export)))
        assert len(rows) == 2 and rows[1][0] == public_id and TEXT in rows[1]

    # Every other page a trainer or administrator can open without arguments, X's record and
    # account: a page that shows the message never names X, and X's pages never show the message.
    plain = sorted(r.rule for r in app.url_map.iter_rules() if "GET" in r.methods and not r.arguments
                   and not r.rule.startswith(("/api/", "/static")) and r.endpoint != "auth.logout")
    assert len(plain) > 40
    for who, client in (("trainer", trainer), ("admin", admin)):
        for url in plain + [f"/technicians/{X_USERNAME}", f"/admin/users/{X_USERNAME}"]:
            body = client.get(url).get_data(as_text=True)
            if "marker-7f3a" in body or public_id in body:
                assert not any(mark in body for mark in X_MARKS), (who, url)
            if X_USERNAME in url:
                assert "marker-7f3a" not in body and public_id not in body, (who, url)

    # The API: no response names the message, and none says more about X than before.
    api_after = _walk_api({"trainer": trainer, "admin": admin}, api_urls)
    for key, body in api_after.items():
        assert "marker-7f3a" not in body and public_id not in body, key
        assert _marks(body) == _marks(api_before[key]), key
    by_id = [url for url in _api_get_urls(app, public_id) if public_id in url]
    assert by_id
    for key, body in _walk_api({"trainer": trainer, "admin": admin}, by_id).items():
        assert "marker-7f3a" not in body and not any(mark in body for mark in X_MARKS), key

    # The sender: no list entry, only the receipt, which reads the message (and nothing else).
    mine = x.get("/voice/").get_data(as_text=True)
    assert public_id not in mine and "marker-7f3a" not in mine
    assert x.get(f"/voice/{public_id}").status_code == 404
    token = get_csrf(x, "/voice/receipt")
    read = x.post("/voice/receipt", data={"csrf_token": token, "code": receipt.lower()}).get_data(as_text=True)
    assert "marker-7f3a" in read


def _outlet(code, province):
    outlet = Outlet(code=code, name_zh=f"{code}网点", name_en=f"Outlet {code}", city="", province=province)
    db.session.add(outlet)
    db.session.commit()
    return outlet


def _placed(text):
    row = db.session.scalar(select(VoiceMessage).where(VoiceMessage.text == text))
    return row.outlet_id, row.province_id, row.region_id


def test_each_level_is_shown_only_when_it_stands_for_5_technicians(app, users, x_user, make_user, network):
    """Outlet if it has 5 active technicians; else the province if its small outlets together
    have 5; else the region if its small outlets in provinces not shown have 5; else nothing."""
    region, gd = network["region"], network["province"]
    gz, fs = network["outlets"]  # GZ: "tech" and X (2); FS: nobody yet
    gx = Province(code="GX", name_zh="广西", name_en="Guangxi", region=region)
    db.session.add(gx)
    db.session.commit()
    nn = _outlet("GX-NN-01", gx)
    for n in range(2):
        make_user(f"nn{n}", "technician", outlet=nn.code)
    make_user("nngone", "technician", outlet=nn.code).active = False  # a deactivated one is nobody
    db.session.commit()

    # None: the region's small outlets hold 4 active technicians (GZ 2, NN 2).
    x = _client(app, X_USERNAME)
    page = x.get("/voice/new").get_data(as_text=True)
    assert 'data-small-outlet="none"' in page and "no place is shown" in page
    assert _send(x, text="level none marker-none").status_code == 302
    assert _placed("level none marker-none") == (None, None, None)

    # Region: a third NN technician makes 5 in the region's small outlets, none of its provinces 5.
    make_user("nn2", "technician", outlet=nn.code)
    page = x.get("/voice/new").get_data(as_text=True)
    assert 'data-small-outlet="region"' in page and "only your region is shown" in page
    assert _send(x, text="level region marker-region").status_code == 302
    assert _placed("level region marker-region") == (None, None, region.id)

    # Province: a second small GD outlet with 3 makes GD's small outlets 5; GX (3) is then alone
    # among the region's small outlets in provinces not shown: its technicians show no place.
    sz = _outlet("GD-SZ-01", gd)
    for n in range(3):
        make_user(f"sz{n}", "technician", outlet=sz.code)
    page = x.get("/voice/new").get_data(as_text=True)
    assert 'data-small-outlet="province"' in page and "only your province is shown" in page
    assert _send(x, text="level province marker-province").status_code == 302
    assert _placed("level province marker-province") == (None, gd.id, region.id)
    nn0 = _client(app, "nn0")
    assert 'data-small-outlet="none"' in nn0.get("/voice/new").get_data(as_text=True)
    assert _send(nn0, text="gx alone marker-gx").status_code == 302
    assert _placed("gx alone marker-gx") == (None, None, None)

    # Outlet: 5 at FS. A large outlet's technicians do not count for the province's small ones.
    for n in range(5):
        make_user(f"fs{n}", "technician", outlet=fs.code)
    big = _client(app, "fs0")
    assert "data-small-outlet" not in big.get("/voice/new").get_data(as_text=True)
    assert _send(big, text="large outlet marker-big").status_code == 302
    assert _placed("large outlet marker-big") == (fs.id, gd.id, region.id)
    # A named message keeps its sender's outlet whatever its size.
    assert _send(nn0, identity="named", text="named marker-named").status_code == 302
    assert _placed("named marker-named") == (nn.id, gx.id, region.id)

    trainer = _client(app, "trainer")
    inbox = trainer.get("/voice/inbox").get_data(as_text=True)
    for label in ("(outlet not shown)", "(province not shown)", "(no place shown)"):
        assert label in inbox, label
    assert fs.code in inbox and gz.code not in inbox and sz.code not in inbox
    # Group counts link to the lists they count.
    lists = {"/voice/inbox?province=GD&outlet=-": {"marker-province"},
             "/voice/inbox?region=SOUTH&province=-": {"marker-region"},
             "/voice/inbox?region=-": {"marker-none", "marker-gx"},
             "/voice/inbox?province=-": {"marker-region", "marker-none", "marker-gx"},
             f"/voice/inbox?outlet={fs.code}": {"marker-big"}}
    markers = {"marker-none", "marker-region", "marker-province", "marker-gx", "marker-big", "marker-named"}
    for url, expected in lists.items():
        assert 'href="' + url.replace("&", "&amp;") + '"' in inbox or url == "/voice/inbox?province=-", url
        body = trainer.get(url).get_data(as_text=True)
        assert {m for m in markers if m in body} == expected, url
    region_only = db.session.scalar(select(VoiceMessage).where(VoiceMessage.text.contains("marker-region")))
    detail = trainer.get(f"/voice/{region_only.id}").get_data(as_text=True)
    assert "South Region" in detail and "(province not shown)" in detail and "Guangdong" not in detail
    export = trainer.get("/voice/inbox/export.csv?region=SOUTH&province=-").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(export)))
    assert [(r["region"], r["province"], r["outlet"]) for r in rows] == [("SOUTH", "", "")]


def test_a_named_message_is_answered_and_its_sender_told(app, users, x_user):
    x = _client(app, X_USERNAME)
    assert _send(x, identity="named", kind="suggestion", theme="parts").status_code == 302
    message = db.session.scalar(select(VoiceMessage))
    assert message.named and message.sender_id == X_ID and message.outlet_id == x_user.outlet_id
    assert message.id in x.get("/voice/").get_data(as_text=True)

    trainer = _client(app, "trainer")
    detail = trainer.get(f"/voice/{message.id}").get_data(as_text=True)
    assert X_NAME in detail  # named: trainers see who sent it
    token = csrf_from(detail)
    response = trainer.post(f"/voice/{message.id}/answer", data={"csrf_token": token, "text": "已安排下周改进。"})
    assert response.status_code == 302
    note = db.session.scalar(select(Notification).where(Notification.user_id == X_ID))
    assert note.msg_id == "voice.answered" and note.params["name"] == "李敏" and note.link == f"/voice/{message.id}"
    assert "李敏" in x.get("/notifications/").get_data(as_text=True)
    assert "已安排下周改进。" in x.get(f"/voice/{message.id}").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VoiceMessage, message.id).status == "read"

    # Trainers mark it closed and correct its theme.
    response = trainer.post(f"/voice/{message.id}/update",
                            data={"csrf_token": token, "status": "closed", "theme_tag": "tools"})
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(VoiceMessage, message.id)
    assert (row.status, row.theme, row.theme_tag) == ("closed", "parts", "tools")
    assert message.id in trainer.get("/voice/inbox?theme=tools&status=closed").get_data(as_text=True)
    assert message.id not in trainer.get("/voice/inbox?theme=parts").get_data(as_text=True)


def test_nobody_answers_their_own_message(app, users, make_user):
    make_user("both", "technician", "trainer", outlet="GD-GZ-01", name="双角色")
    both = _client(app, "both")
    assert _send(both, identity="named").status_code == 302
    message = db.session.scalar(select(VoiceMessage))
    page = both.get(f"/voice/{message.id}").get_data(as_text=True)
    assert "another trainer answers it" in page and "/answer" not in page
    token = csrf_from(page)
    assert both.post(f"/voice/{message.id}/answer", data={"csrf_token": token, "text": "self"}).status_code == 403
    assert both.post(f"/voice/{message.id}/update", data={"csrf_token": token, "status": "closed",
                                                          "theme_tag": ""}).status_code == 403
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(VoiceAnswer)) == 0
    assert db.session.get(VoiceMessage, message.id).status == "new"
    other = _client(app, "trainer")
    token = get_csrf(other, f"/voice/{message.id}")
    assert other.post(f"/voice/{message.id}/answer", data={"csrf_token": token, "text": "ok"}).status_code == 302


def test_who_sees_what(app, users, x_user, make_user):
    make_user("tech2", "technician", outlet="GD-GZ-01")
    x = _client(app, X_USERNAME)
    _send(x, identity="named", text="named marker-n")
    _send(x, text="anonymous marker-a")
    named, anonymous = (db.session.scalar(select(VoiceMessage).where(VoiceMessage.named.is_(flag)))
                        for flag in (True, False))
    other = _client(app, "tech2")
    for url in (f"/voice/{named.id}", f"/voice/{anonymous.id}"):
        assert other.get(url).status_code == 404
    assert "marker" not in other.get("/voice/").get_data(as_text=True)
    for url in ("/voice/inbox", "/voice/inbox/export.csv"):
        assert other.get(url).status_code == 403
    auditor = _client(app, "auditor")
    for url in ("/voice/", "/voice/new", "/voice/receipt", "/voice/inbox", "/voice/inbox/export.csv",
                f"/voice/{named.id}"):
        assert auditor.get(url).status_code == 403, url
    for role in ("trainer", "admin"):
        client = _client(app, role)
        assert client.get(f"/voice/{anonymous.id}").status_code == 200
        assert client.get("/voice/new").status_code == 403
        assert client.get("/voice/does-not-exist-at-all").status_code == 404
    assert x.get(f"/voice/{named.id}").status_code == 200
    assert x.get("/voice/inbox").status_code == 403


def test_a_broken_form_keeps_the_text_and_stores_nothing(app, users, x_user):
    x = _client(app, X_USERNAME)
    response = _send(x, theme="", text="保留我的文字 keep-me")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "保留我的文字 keep-me" in page and "Choose a theme." in page
    response = _send(x, text="x" * 2001)
    assert response.status_code == 400 and "x" * 2001 in response.get_data(as_text=True)
    response = _send(x, text="hidden \u202e char")
    assert response.status_code == 400
    response = _send(x, identity="somebody-else")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(VoiceMessage)) == 0


def test_sending_needs_the_csrf_token(app, users, x_user):
    x = _client(app, X_USERNAME)
    response = x.post("/voice/new", data={"kind": "complaint", "theme": "pay", "text": "no token",
                                          "identity": "anonymous"})
    assert response.status_code == 400
    trainer = _client(app, "trainer")
    _send(x, identity="named")
    message = db.session.scalar(select(VoiceMessage))
    assert trainer.post(f"/voice/{message.id}/answer", data={"text": "no token"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(VoiceMessage)) == 1
    assert db.session.scalar(select(func.count()).select_from(VoiceAnswer)) == 0


def test_sends_are_rate_limited_and_the_text_kept(app, users, x_user):
    app.config["PORTAL_VOICE_RATE"] = "2 per hour"
    x = _client(app, X_USERNAME)
    assert _send(x).status_code == 302
    assert _send(x, identity="named").status_code == 302
    response = _send(x, text="third marker-third")
    assert response.status_code == 429 and "marker-third" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(VoiceMessage)) == 2


def test_an_anonymous_answer_is_read_with_the_receipt_only(app, users, x_user):
    x = _client(app, X_USERNAME)
    _send(x)
    receipt = _receipt(x)
    message = db.session.scalar(select(VoiceMessage))
    trainer = _client(app, "trainer")
    page = trainer.get(f"/voice/{message.id}").get_data(as_text=True)
    assert "receipt code" in page
    assert trainer.post(f"/voice/{message.id}/answer",
                        data={"csrf_token": csrf_from(page), "text": "谢谢，已转达。"}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    token = get_csrf(x, "/voice/receipt")
    assert "谢谢，已转达。" in x.post("/voice/receipt", data={"csrf_token": token, "code": receipt}).get_data(as_text=True)
    wrong = x.post("/voice/receipt", data={"csrf_token": token, "code": "AAAA-BBBB-CCCC-DDDD"}).get_data(as_text=True)
    assert "No message has this receipt code" in wrong and "谢谢" not in wrong


def test_the_menu_links_each_role_to_its_page(app, users, x_user):
    assert "/voice/" in _client(app, X_USERNAME).get("/voice/").get_data(as_text=True)
    trainer_page = _client(app, "trainer").get("/voice/inbox").get_data(as_text=True)
    assert 'href="/voice/inbox"' in trainer_page and 'href="/voice/"' not in trainer_page
    zh = _client(app, X_USERNAME).get("/voice/new?lang=zh_CN").get_data(as_text=True)
    assert "意见与投诉" in zh


def test_the_inbox_counts_groups_and_pages(app, users, network):
    gz, fs = network["outlets"]
    today = local_today()
    rows = [{"id": f"m{n:02d}" + "x" * 19, "kind": "complaint" if n % 2 else "suggestion",
             "theme": "pay" if n < 5 else "tools", "text": f"bulk {n}", "named": False,
             "outlet_id": fs.id if n < 3 else None, "province_id": network["province"].id,
             "sent_on": today - timedelta(days=n + 1), "status": "closed" if n == 6 else "new"} for n in range(7)]
    # and one from over a year ago: out of the inbox's default last 365 days, in "all"
    rows.append({"id": "old" + "x" * 21, "kind": "suggestion", "theme": "other", "text": "bulk old", "named": False,
                 "outlet_id": None, "province_id": network["province"].id, "sent_on": today - timedelta(days=400),
                 "status": "new"})
    db.session.execute(VoiceMessage.__table__.insert(), rows)
    db.session.commit()
    app.config["PAGE_SIZE"] = 2
    trainer = _client(app, "trainer")
    page = trainer.get("/voice/inbox").get_data(as_text=True)
    assert page.count("data-message=") == 2 and "Page 1 of 4" in page
    assert re.search(r'data-theme-count="pay">5<', page) and re.search(r'data-theme-count="tools">2<', page)
    assert "?outlet=GD-FS-01" in page and "province=GD&amp;outlet=-" in page
    assert trainer.get("/voice/inbox?page=4").get_data(as_text=True).count("data-message=") == 1
    closed = trainer.get("/voice/inbox?status=closed&theme=tools").get_data(as_text=True)
    assert closed.count("data-message=") == 1 and "bulk 6" in closed
    fs_only = trainer.get("/voice/inbox?outlet=GD-FS-01&kind=complaint").get_data(as_text=True)
    assert fs_only.count("data-message=") == 1 and "bulk 1" in fs_only
    export = trainer.get("/voice/inbox/export.csv?theme=pay").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(export)))) == 6  # header + 5: the export is not paged
    assert 'data-theme-count="other"' not in page and "bulk old" not in trainer.get("/voice/inbox?page=4").get_data(
        as_text=True)
    everything = trainer.get("/voice/inbox?period=all&theme=other").get_data(as_text=True)
    assert everything.count("data-message=") == 1 and "bulk old" in everything


def _statements(client, url) -> tuple[int, str]:
    seen = []
    note = lambda *args: seen.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        body = client.get(url).get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return len(seen), body


def test_answers_are_counted_in_the_query_not_per_message(app, users, x_user):
    """My messages and the export count each message's answers in their one query: the number
    of statements does not grow with the rows."""
    trainer = db.session.get(User, users["trainer"].id)
    rows = [{"id": f"a{n:02d}" + "y" * 19, "kind": "complaint" if n < 3 else "suggestion", "theme": "parts",
             "text": f"mine {n}", "named": True, "sender_id": X_ID, "outlet_id": x_user.outlet_id,
             "sent_on": date(2026, 11, 1 + n), "status": "read"} for n in range(9)]
    db.session.execute(VoiceMessage.__table__.insert(), rows)
    db.session.execute(VoiceAnswer.__table__.insert(),
                       [{"message_id": row["id"], "author_id": trainer.id, "text": f"answer {k}",
                         "at": datetime(2026, 11, 20, tzinfo=timezone.utc)}
                        for n, row in enumerate(rows) for k in range(n % 3)])
    db.session.commit()
    x, admin = _client(app, X_USERNAME), _client(app, "admin")
    x.get("/voice/"), admin.get("/voice/inbox/export.csv")  # warm caches (session, catalogue)
    sizes = {}
    for per_page in (2, 9):
        app.config["PAGE_SIZE"] = per_page
        sizes[per_page], page = _statements(x, "/voice/")
        assert page.count("data-message=") == per_page
    assert sizes[2] == sizes[9], sizes
    assert page.count("Read the answers (2)") == 3 and page.count("Read the answers (1)") == 3
    assert page.count(">Open<") == 3

    sizes = {}
    for kind in ("complaint", ""):  # 3 rows, 9 rows
        sizes[kind], export = _statements(admin, f"/voice/inbox/export.csv?kind={kind}")
    assert sizes["complaint"] == sizes[""], sizes
    table = list(csv.DictReader(io.StringIO(export.lstrip("\ufeff"))))
    assert {r["message"]: int(r["answers"]) for r in table} == {row["id"]: n % 3 for n, row in enumerate(rows)}
