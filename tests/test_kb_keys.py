"""Every case has a real key: published contributions, and the rows filed as "None-zh" before."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import select

from portal.extensions import db
from portal.kb import contributions, indexing
from portal.kb.models import Case, CaseAlias, IndexChange
from portal.kb.services import KEY_RE, key_base

from .conftest import login, make_app

ZH = {"title": "外风机时转时停", "lang": "zh", "product": "air-conditioner",
      "error_codes": ["E8", "H6"], "models": ["KFR-26GW"], "body": "## 故障现象\n时转时停。\n"}
EN = {"title": "Outdoor fan stops and starts again", "lang": "en", "product": "air-conditioner",
      "error_codes": ["E8"], "body": "## Symptoms\nThe fan stops.\n"}


def test_key_base_is_readable_ascii():
    assert key_base(EN) == "outdoor-fan-stops-and-starts-again"
    assert key_base(ZH) == "e8-h6-kfr-26gw"
    assert key_base({**ZH, "error_codes": [], "models": []}) == "air-conditioner"
    assert key_base({**ZH, "title": "E5 报警", "error_codes": [], "models": []}) == "e5"
    assert len(key_base({**EN, "title": "word " * 40})) <= 60


def test_a_published_contribution_gets_a_real_key_and_address(app, kb_cases, users, client):
    tech, trainer = users["technician"], users["trainer"]
    published = []
    for data in (ZH, EN, ZH):  # the same title twice: two cases, two keys
        item = contributions.submit_new(tech, dict(data))
        published.append(contributions.approve(item, trainer))
    keys = [c.key for c in published]
    assert not any(k.startswith("None") for k in keys)
    assert all(KEY_RE.match(k) for k in keys) and len(set(keys)) == 3
    assert keys[0].startswith("e8-h6-kfr-26gw-") and keys[1].startswith("outdoor-fan-stops-")
    assert [c.slug for c in published] == [f"{k}-{c.lang}" for k, c in zip(keys, published)]
    assert login(client, "tech").status_code == 302
    for case in published:
        assert client.get(f"/cases/{case.slug}").status_code == 200
    # The index knows the case under its key.
    found = client.get("/cases?q=时转时停").get_data(as_text=True)
    assert f"/cases/{published[0].slug}?s=" in found


def _insert_case(conn, **row):
    table = sa.table("kb_case", *(sa.column(n) for n in (
        "slug", "key", "lang", "title", "product", "series", "body", "status", "origin", "version",
        "created_at", "updated_at")), sa.column("error_codes", sa.JSON), sa.column("models", sa.JSON),
        sa.column("components", sa.JSON), sa.column("symptoms", sa.JSON), sa.column("related", sa.JSON))
    now = datetime.now(timezone.utc)
    values = {"series": "", "status": "published", "origin": "field", "version": 1, "created_at": now,
              "updated_at": now, "error_codes": [], "models": [], "components": [], "symptoms": [],
              "related": [], "body": "## 故障现象\n坏了。\n", "product": "air-conditioner", **row}
    conn.execute(table.insert().values(**values))


def test_migration_rekeys_none_cases_and_old_addresses_redirect(backend, tmp_path, request):
    if backend == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "migrated.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    app = make_app(tmp_path, uri)
    with app.app_context():
        upgrade(revision="15558c7f0a5a")  # before the fix: cases filed under "None-…"
        with db.engine.begin() as conn:
            _insert_case(conn, slug="None-zh", key="None-zh", lang="zh", title="外机不转 E8",
                         error_codes=["E8"], models=["KFR-26GW"])
            _insert_case(conn, slug="None-en", key="None-en", lang="en", title="Drain pump hums")
            _insert_case(conn, slug="None-zh-2", key="None-zh-2", lang="zh", title="显示屏不亮")
            _insert_case(conn, slug="ok-case-zh", key="ok-case", lang="zh", title="相关",
                         related=["None-en", "ok-other"])
        upgrade()
        from portal.auth.services import create_user

        create_user("reader", ["technician"], "correct-horse-42", name="读者")
        cases = {c.title: c for c in db.session.scalars(select(Case))}
        assert not any(c.key.startswith("None-") or c.slug.startswith("None-") for c in cases.values())
        assert cases["外机不转 E8"].key.startswith("e8-kfr-26gw-")
        assert cases["Drain pump hums"].key.startswith("drain-pump-hums-")
        assert cases["显示屏不亮"].key.startswith("air-conditioner-")
        assert all(c.slug == f"{c.key}-{c.lang}" for c in cases.values() if c.title != "相关")
        assert cases["相关"].related == [cases["Drain pump hums"].key, "ok-other"]
        aliases = {a.slug: a.case_id for a in db.session.scalars(select(CaseAlias))}
        assert aliases == {"None-zh": cases["外机不转 E8"].id, "None-en": cases["Drain pump hums"].id,
                           "None-zh-2": cases["显示屏不亮"].id}
        changed = set(db.session.scalars(select(IndexChange.key)))
        assert {"None-zh", "None-en", "None-zh-2"} | {c.key for c in cases.values() if c.title != "相关"} <= changed
        indexing.sync(force=True)

        client = app.test_client()
        assert login(client, "reader").status_code == 302
        response = client.get("/cases/None-zh?lang=en")
        assert response.status_code == 301
        assert response.headers["Location"] == f"/cases/{cases['外机不转 E8'].slug}?lang=en"
        assert client.get("/cases/None-zh-2/history").headers["Location"] == \
            f"/cases/{cases['显示屏不亮'].slug}/history"
        assert client.get(response.headers["Location"]).status_code == 200
        assert client.get("/cases/None-fr").status_code == 404
        assert client.get("/api/v1/cases/None-en").headers["Location"] == \
            f"/api/v1/cases/{cases['Drain pump hums'].slug}"
        found = client.get("/cases?q=Drain pump").get_data(as_text=True)
        assert f"/cases/{cases['Drain pump hums'].slug}?s=" in found and "None-en" not in found
        db.session.remove()
        db.engine.dispose()
