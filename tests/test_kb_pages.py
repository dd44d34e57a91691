"""Reading, feedback, contributing with photos, review, history, archive; sanitising."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.kb.models import Case, CaseFeedback, CaseFeedbackAnswer, CaseRevision, Contribution, Photo

from .conftest import get_csrf, login, png_bytes

PORTAL = Path(__file__).resolve().parent.parent / "portal"


def _as(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _new_case_form(token, **overrides):
    data = {"csrf_token": token, "title": "外机风扇时转时停", "lang": "zh", "product": "air-conditioner",
            "error_codes": "E8, h6", "models": "KFR-26GW", "components": "风机电容，外风机",
            "symptoms": "外机风扇时转时停\n出风不凉", "series": "", "difficulty": "2",
            "time_minutes": "45", "body": "## 故障现象\n外风机时转时停。\n\n## 安全注意\n- 先断电。\n",
            "note": "在客户家遇到"}
    data.update(overrides)
    return data


# --- reading ------------------------------------------------------------------------------


def test_case_page_shows_every_part(app, kb_cases, users):
    tech = _as(app, "tech")
    page = tech.get("/cases/demo-e1-zh?lang=zh_CN").get_data(as_text=True)
    assert "<h1>格力式代码 E1 高压保护</h1>" in page
    assert 'class="tag code">E1<' in page and "KFR-35GW" in page
    assert 'class="case-section safety"' in page  # the safety section stands out
    assert 'href="/cases/demo-e1-en"' in page  # the translation is linked
    assert 'data-section="feedback"' in page and 'data-section="fix-rate"' not in page


def test_case_page_is_small(app, kb_cases, users):
    tech = _as(app, "tech")
    html = tech.get("/cases/demo-e1-zh").data
    css = (PORTAL / "static/css/portal.css").stat().st_size
    js = (PORTAL / "static/js/portal.js").stat().st_size
    assert len(html) + css + js < 100 * 1024


def test_reader_in_another_language_is_offered_their_version(app, kb_cases, users):
    tech = _as(app, "tech")
    page = tech.get("/cases/demo-e1-zh?lang=en").get_data(as_text=True)
    assert "Read this case in your language" in page


def test_feedback_and_the_trainers_fix_rate(app, kb_cases, users):
    tech = _as(app, "tech")
    token = get_csrf(tech, "/cases/demo-e1-zh")
    tech.post("/cases/demo-e1-zh/feedback", data={"csrf_token": token, "fixed": "yes"})
    tech.post("/cases/demo-e1-zh/feedback", data={"csrf_token": token, "fixed": "no",
                                                 "comment": "实际是电容坏了"})
    assert tech.post("/cases/demo-e1-zh/feedback", data={"csrf_token": token, "fixed": "maybe"}
                     ).status_code == 400
    # One technician, one current answer: the "no" replaced the "yes"; both stay in the history.
    assert db.session.scalar(select(func.count(CaseFeedback.id))) == 1
    assert db.session.scalar(select(func.count(CaseFeedbackAnswer.id))) == 2
    trainer = _as(app, "trainer")
    page = trainer.get("/cases/demo-e1-zh?lang=en").get_data(as_text=True)
    assert "0 of 1 technician said it fixed the fault (0%)" in page
    assert "实际是电容坏了" in page
    report = trainer.get("/cases/reports/feedback").get_data(as_text=True)
    assert "格力式代码 E1 高压保护" in report and "0%" in report and "50%" not in report


# --- contributing and review --------------------------------------------------------------


def test_contribute_review_publish_credit(app, kb_cases, users):
    tech = _as(app, "tech")
    token = get_csrf(tech, "/cases/new")
    response = tech.post("/cases/new", data={**_new_case_form(token),
                                              "photos": (io.BytesIO(png_bytes()), "fan.png")},
                         content_type="multipart/form-data")
    assert response.status_code == 302
    item = db.session.scalar(select(Contribution))
    assert item.status == "pending" and item.data["error_codes"] == ["E8", "H6"]
    assert item.data["components"] == ["风机电容", "外风机"] and len(item.photos) == 1
    mine = tech.get("/cases/mine?lang=en").get_data(as_text=True)
    assert "Waiting for review" in mine
    # Not searchable until reviewed.
    assert "时转时停" not in tech.get("/cases?q=时转时停").get_data(as_text=True).split("results")[-1]
    trainer = _as(app, "trainer")
    token = get_csrf(trainer, f"/cases/review/{item.id}")
    form = _new_case_form(token, title="外风机时转时停：风机电容容量下降", action="approve")
    response = trainer.post(f"/cases/review/{item.id}", data=form)
    assert response.status_code == 302
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.origin == "field"))
    assert case.title == "外风机时转时停：风机电容容量下降"  # the reviewer's edit is published
    assert [c.user.username for c in case.credits] == ["tech"]
    assert item.photos[0].case_id == case.id
    page = tech.get(f"/cases/{case.slug}?lang=en").get_data(as_text=True)
    assert "From the field: 陈强" in page
    results = tech.get("/cases?q=时转时停").get_data(as_text=True)
    assert f'/cases/{case.slug}?s=' in results
    assert "Published" in tech.get("/cases/mine?lang=en").get_data(as_text=True)


def test_a_broken_contribution_keeps_what_was_typed(app, kb_cases, users):
    tech = _as(app, "tech")
    token = get_csrf(tech, "/cases/new")
    response = tech.post("/cases/new?lang=en", data=_new_case_form(token, title="", time_minutes="0"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "外机风扇时转时停\n出风不凉" in page and "E8, h6" in page and "在客户家遇到" in page
    assert db.session.scalar(select(func.count(Contribution.id))) == 0


def test_reject_needs_a_reason_and_the_contributor_sees_it(app, kb_data, users):
    item = kb_data["contribution"]
    trainer = _as(app, "trainer")
    token = get_csrf(trainer, f"/cases/review/{item.id}")
    form = _new_case_form(token, action="reject", reason="")
    response = trainer.post(f"/cases/review/{item.id}?lang=en", data=form)
    assert response.status_code == 400 and "Say why" in response.get_data(as_text=True)
    trainer.post(f"/cases/review/{item.id}", data={**form, "reason": "与 E1 案例重复"})
    db.session.expire_all()
    assert db.session.get(Contribution, item.id).status == "rejected"
    page = _as(app, "tech").get("/cases/mine?lang=en").get_data(as_text=True)
    assert "Not accepted" in page and "与 E1 案例重复" in page
    # Reviewed once only.
    trainer.post(f"/cases/review/{item.id}", data={**form, "action": "approve"})
    assert db.session.get(Contribution, item.id).status == "rejected"


def test_suggested_edit_becomes_a_new_version_with_a_diff(app, kb_cases, users):
    tech = _as(app, "tech")
    token = get_csrf(tech, "/cases/demo-e1-en/suggest")
    data = _new_case_form(token, lang="en", title="Gree-style E1 high-pressure protection",
                          body="## Symptoms\nE1 shows; clean the condenser first.\n")
    assert tech.post("/cases/demo-e1-en/suggest", data=data).status_code == 302
    item = db.session.scalar(select(Contribution))
    assert item.kind == "edit" and item.base_version == 1
    trainer = _as(app, "trainer")
    token = get_csrf(trainer, f"/cases/review/{item.id}")
    trainer.post(f"/cases/review/{item.id}", data={**data, "csrf_token": token, "action": "approve"})
    db.session.expire_all()
    case = db.session.scalar(select(Case).where(Case.slug == "demo-e1-en"))
    assert case.version == 2 and "clean the condenser" in case.body
    history = tech.get("/cases/demo-e1-en/history?lang=en").get_data(as_text=True)
    assert "Version 2" in history and "published from a contribution" in history
    diff = tech.get("/cases/demo-e1-en/history/2").get_data(as_text=True)
    assert '<span class="add">+ E1 shows; clean the condenser first.</span>' in diff
    assert '<span class="del">- E1 shows and the compressor stops.</span>' in diff


def test_trainer_edit_and_archive(app, kb_cases, users):
    trainer = _as(app, "trainer")
    token = get_csrf(trainer, "/cases/demo-fan-en/edit")
    form = _new_case_form(token, lang="en", title="Outdoor fan not spinning",
                          body="## Symptoms\nThe outdoor fan stalls; replace the capacitor.\n",
                          reason="clearer fix")
    assert trainer.post("/cases/demo-fan-en/edit", data=form).status_code == 302
    revision = db.session.scalar(select(CaseRevision).where(CaseRevision.version == 2))
    assert revision.source == "trainer" and revision.note == "clearer fix"
    tech = _as(app, "tech")
    assert "demo-fan-en" in tech.get("/cases?q=stalls").get_data(as_text=True)
    trainer.post("/cases/demo-fan-en/status", data={"csrf_token": token, "status": "archived",
                                                     "note": "duplicate"})
    assert "demo-fan-en" not in tech.get("/cases?q=stalls").get_data(as_text=True)
    assert tech.get("/cases/demo-fan-en").status_code == 404  # hidden from technicians
    assert trainer.get("/cases/demo-fan-en").status_code == 200  # kept for trainers
    trainer.post("/cases/demo-fan-en/status", data={"csrf_token": token, "status": "published",
                                                     "note": "restored"})
    assert "demo-fan-en" in tech.get("/cases?q=stalls").get_data(as_text=True)


# --- safety of what users write ----------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<iframe src=//evil.example></iframe>",
    "\"><script>alert(1)</script>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
]


class _ActiveContent(HTMLParser):
    """Collects every element or attribute in a page that could run script."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("iframe", "svg", "object", "embed", "frame"):
            self.found.append(tag)
        if tag == "script" and dict(attrs).get("src") not in ("/static/js/portal.js", "/static/js/kb.js"):
            self.found.append("script")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"{tag}[{name}]")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                    ("javascript:", "data:text", "vbscript:")):
                self.found.append(f"{tag}[{name}={value}]")


def _no_active_content(html: str) -> None:
    parser = _ActiveContent()
    parser.feed(html)
    assert parser.found == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_field_can_run_script(app, kb_cases, users, payload):
    tech = _as(app, "tech")
    token = get_csrf(tech, "/cases/new")
    form = _new_case_form(token, title="XSS " + payload, symptoms=payload, components=payload,
                          series=payload, error_codes="E1", models=payload[:40],
                          body=f"## 故障现象\n{payload}\n\n## 处理方法\n{payload}\n", note=payload)
    assert tech.post("/cases/new", data=form).status_code == 302
    item = db.session.scalar(select(Contribution))
    trainer = _as(app, "trainer")
    _no_active_content(trainer.get(f"/cases/review/{item.id}").get_data(as_text=True))
    token = get_csrf(trainer, f"/cases/review/{item.id}")
    trainer.post(f"/cases/review/{item.id}", data={**form, "csrf_token": token, "action": "approve"})
    case = db.session.scalar(select(Case).where(Case.origin == "field"))
    _no_active_content(tech.get(f"/cases/{case.slug}").get_data(as_text=True))
    _no_active_content(tech.get("/cases?q=XSS").get_data(as_text=True))
    feedback_token = get_csrf(tech, f"/cases/{case.slug}")
    tech.post(f"/cases/{case.slug}/feedback", data={"csrf_token": feedback_token, "fixed": "no",
                                                     "comment": payload})
    _no_active_content(trainer.get(f"/cases/{case.slug}").get_data(as_text=True))
    _no_active_content(tech.get(f"/cases/{case.slug}/history/1").get_data(as_text=True))


def test_markdown_keeps_safe_formatting():
    from portal.markup import render_markdown

    html = str(render_markdown("**bold** [ok](https://example.com) | a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<strong>bold</strong>" in html and 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


# --- photos -------------------------------------------------------------------------------------


def _upload(app, blob, name="p.jpg"):
    tech = _as(app, "tech")
    token = get_csrf(tech, "/cases/new")
    return tech.post("/cases/new?lang=en", data={**_new_case_form(token),
                                                 "photos": (io.BytesIO(blob), name)},
                     content_type="multipart/form-data")


def _jpeg_with_gps() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (22.0, 16.0, 30.0), "E", (113.0, 34.0, 12.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_photos_are_reencoded_without_location_and_kept_private(app, kb_cases, users):
    blob = _jpeg_with_gps()
    assert b"PhoneMaker" in blob
    assert _upload(app, blob).status_code == 302
    photo = db.session.scalar(select(Photo))
    stored = (Path(app.instance_path) / "uploads" / "photos" / photo.name)
    data = stored.read_bytes()
    assert b"PhoneMaker" not in data and b"Exif" not in data
    from PIL import Image

    assert not Image.open(io.BytesIO(data)).getexif()
    assert "static" not in str(stored.relative_to(app.instance_path))
    url = f"/cases/photos/{photo.name}"
    assert app.test_client().get(url).status_code == 302  # not for the public
    assert _as(app, "auditor").get(url).status_code == 404  # nor, while pending, for other readers
    response = _as(app, "trainer").get(url)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("blob, name", [
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "x.png"),
    (b"GIF89a" + b"\x00" * 20, "x.gif"),
    (b"%PDF-1.4 not an image", "x.jpg"),
    (b"", "empty.jpg"),
])
def test_non_images_are_refused_and_nothing_is_kept(app, kb_cases, users, blob, name):
    response = _upload(app, blob, name)
    assert response.status_code == 400
    assert "Photo 1" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Contribution.id))) == 0
    folder = Path(app.instance_path) / "uploads" / "photos"
    assert not folder.exists() or not any(folder.iterdir())


def test_gif_is_not_accepted_even_when_valid(app, kb_cases, users):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    assert _upload(app, out.getvalue(), "x.gif").status_code == 400


def test_photo_size_and_pixel_limits():
    from portal.kb.photos import PhotoError, clean_image

    with pytest.raises(PhotoError):
        clean_image(b"\xff" * (10 * 1024 * 1024 + 1))
    with pytest.raises(PhotoError):
        clean_image(png_bytes(8000, 6000))  # 48 megapixels
    webp, mime, width, height = clean_image(png_bytes(3000, 1000, format="WEBP"))
    assert mime == "image/jpeg" and (width, height) == (2000, 667)


# --- offline ---------------------------------------------------------------------------------


def test_service_worker_and_offline_page(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "application/javascript"
    assert "portal-recent" in response.get_data(as_text=True)
    page = client.get("/offline?lang=zh_CN").get_data(as_text=True)
    assert "<h1>离线可读的案例</h1>" in page
    # As kept by the service worker: it says the portal cannot be reached, in the reader's language.
    page = client.get("/offline?fallback=1&lang=en").get_data(as_text=True)
    assert "<h1>The portal cannot be reached</h1>" in page and "You are offline" in page
    assert "无法" not in page
    page = client.get("/offline?fallback=1&lang=zh_CN").get_data(as_text=True)
    assert "<h1>无法连接门户</h1>" in page and "离线" in page and "cannot be reached" not in page


def test_revision_diff_names_fields_in_the_readers_language(app, kb_cases, users):
    from portal.kb.services import update_case

    case = kb_cases["demo-e1-en"]
    update_case(case, {**case.snapshot(), "error_codes": ["E1", "E5"]}, author=users["trainer"])
    db.session.commit()
    tech = _as(app, "tech")
    assert ">故障代码<" in tech.get("/cases/demo-e1-en/history/2?lang=zh_CN").get_data(as_text=True)
    assert ">Error codes<" in tech.get("/cases/demo-e1-en/history/2?lang=en").get_data(as_text=True)


def test_background_fetches_never_rewrite_the_session_cookie(app, users):
    """The service worker's fetch of the offline page can start before a sign-in and end after it.

    If its answer carried a refreshed session cookie, it would put the signed-out session back
    (seen in CI: signed in, then sent to the sign-in page). Pages still refresh the cookie.
    """
    tech = _as(app, "tech")
    for url in ("/offline?fallback=1&lang=en", "/sw.js", "/static/css/portal.css"):
        response = tech.get(url)
        assert response.status_code == 200, url
        assert "Set-Cookie" not in response.headers, url
    assert "session=" in tech.get("/offline?lang=en").headers.get("Set-Cookie", "")
    assert tech.get("/technician").status_code == 200  # still signed in
