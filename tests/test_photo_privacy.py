"""Photos are seen only by those who may see what they belong to, and keep no metadata.

Knowledge-base photos follow their contribution or case: pending or rejected, only the author
and the reviewers (trainers); published, everyone who reads cases; archived, those who may still
open the case. Audit photos follow the report (visible_audits). Anyone else gets 404, the same
answer as for a name that does not exist. Stored photos carry pixels only: no EXIF, GPS, XMP,
ICC profile, JPEG comment or PNG text chunk.
"""

from __future__ import annotations

import io
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import select

from portal.extensions import db
from portal.kb import contributions
from portal.kb.models import Case, Photo
from portal.kb.photos import clean_image, may_see
from portal.kb.services import set_status

from .conftest import ROOT_DIR, get_csrf, login, png_bytes

IDENTITIES = ("author", "other_technician", "trainer", "auditor", "admin", "anonymous")
CASE_DATA = {"title": "热水器点不着火", "lang": "zh", "product": "water-heater",
             "error_codes": ["E1"], "body": "## 故障现象\n打不着火。\n"}


@pytest.fixture
def people(users, make_user):
    return {"author": users["technician"], "other_technician": make_user("tech2", "technician", outlet="GD-FS-01"),
            "trainer": users["trainer"], "auditor": users["auditor"], "admin": users["admin"],
            "other_auditor": make_user("auditor2", "auditor")}


def _client(app, people, who):
    client = app.test_client()
    if who != "anonymous":
        assert login(client, people[who].username).status_code == 302
    return client


def _kb_photo(people, state, kb_cases):
    """The name of a photo whose contribution (or case) is in ``state``."""
    author, trainer = people["author"], people["trainer"]
    if state == "pending-edit":  # a suggested edit of a published case: the case is public, the photo not
        contribution = contributions.submit_edit(author, kb_cases["demo-fan-en"], {
            **kb_cases["demo-fan-en"].snapshot(), "body": "## Symptoms\nCheck the capacitor first.\n"},
            "seen today", [png_bytes()])
        return contribution.photos[0].name
    contribution = contributions.submit_new(author, dict(CASE_DATA), "在客户家遇到", [png_bytes()])
    name = contribution.photos[0].name
    if state == "rejected":
        contributions.reject(contribution, trainer, "已有同样的案例")
    elif state in ("published", "archived"):
        case = contributions.approve(contribution, trainer)
        if state == "archived":
            set_status(case, "archived", trainer, "outdated")
            db.session.commit()
    return name


KB_EXPECTED = {
    "pending": {"author", "trainer"},
    "pending-edit": {"author", "trainer"},
    "rejected": {"author", "trainer"},
    "published": {"author", "other_technician", "trainer", "auditor", "admin"},
    "archived": {"trainer", "admin"},
}


@pytest.mark.parametrize("state", list(KB_EXPECTED))
def test_kb_photos_are_served_only_to_those_who_may_see_the_contribution_or_case(app, kb_cases, people, state):
    name = _kb_photo(people, state, kb_cases)
    url = f"/cases/photos/{name}"
    for who in IDENTITIES:
        response = _client(app, people, who).get(url)
        where = f"{state} {who}"
        if who == "anonymous":  # the same sign-in redirect as for a name that does not exist
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), where
        elif who in KB_EXPECTED[state]:
            assert response.status_code == 200, where
            assert response.mimetype == "image/png" or response.mimetype == "image/jpeg", where
            assert response.headers["X-Content-Type-Options"] == "nosniff", where
            cache = response.headers["Cache-Control"]
            if state == "published":
                assert cache.startswith("private"), where
            else:
                assert cache == "private, no-store", where
        else:
            assert response.status_code == 404, where


def test_an_unknown_photo_and_a_forbidden_one_get_the_same_answer(app, kb_cases, people):
    name = _kb_photo(people, "pending", kb_cases)
    other = _client(app, people, "other_technician")
    unknown_name = "x" * (len(name) - 4) + ".jpg"
    forbidden, unknown = other.get(f"/cases/photos/{name}"), other.get(f"/cases/photos/{unknown_name}")
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.get_data(as_text=True).replace(name, unknown_name) == unknown.get_data(as_text=True)
    assert forbidden.headers["Content-Type"] == unknown.headers["Content-Type"]
    trainer = _client(app, people, "trainer")
    assert trainer.get("/cases/photos/no-such-photo.jpg").status_code == 404
    # A knowledge-base photo is not an audit photo, whatever its name.
    assert trainer.get(f"/audits/photos/{name}").status_code == 404
    anonymous = app.test_client()
    assert (anonymous.get(f"/cases/photos/{name}").headers["Location"].split("next=")[0]
            == anonymous.get("/cases/photos/x.jpg").headers["Location"].split("next=")[0])


def test_who_may_see_a_kb_photo_is_decided_by_one_pure_rule(app, people):
    author, other = people["author"], people["other_technician"]
    assert may_see(author, None, author.id) and not may_see(other, None, author.id)
    assert may_see(people["trainer"], None, author.id) and not may_see(people["admin"], None, author.id)
    assert all(may_see(people[w], "published", author.id) for w in ("other_technician", "auditor", "admin"))
    assert not may_see(author, "archived", author.id) and may_see(people["admin"], "archived", author.id)
    assert not may_see(None, "published", author.id)


# --- audit photos ---------------------------------------------------------------------------------


@pytest.fixture
def audit_photos(app, courses, people):
    """Two reports by the auditor about the author: a draft and a submitted one, each with a photo."""
    from portal.audits import services as audits
    from portal.audits.loader import current_template, load_templates

    assert not load_templates(ROOT_DIR / "content" / "audits").problems
    form = current_template("home-service-visit")
    now = datetime.now(timezone.utc)
    names = {}
    for number, state in enumerate(("draft", "submitted")):
        audit = audits.start(people["auditor"], people["author"], form, now - timedelta(days=1),
                             f"WO-PHOTO-{number}", "air-conditioner", "广州", now)
        for item, value in audits.model_answers(form.spec).items():
            audits.save_answer(audit, item, value)
        names[state] = audits.add_photo(audit, "evidence-photos", png_bytes()).name
        if state == "submitted":
            with app.test_request_context():
                audits.submit(audit, now)
    return names


AUDIT_EXPECTED = {
    "draft": {"auditor", "trainer"},
    "submitted": {"auditor", "trainer", "author"},  # the author here is the audited technician
}


@pytest.mark.parametrize("state", list(AUDIT_EXPECTED))
def test_audit_photos_are_served_only_to_the_reports_readers(app, people, audit_photos, state):
    url = f"/audits/photos/{audit_photos[state]}"
    for who in ("author", "other_technician", "trainer", "auditor", "other_auditor", "anonymous"):
        response = _client(app, people, who).get(url)
        where = f"{state} {who}"
        if who == "anonymous":
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), where
        elif who in AUDIT_EXPECTED[state]:
            assert response.status_code == 200, where
            assert response.headers["Cache-Control"] == "private, no-store", where
            assert response.headers["X-Content-Type-Options"] == "nosniff", where
        else:
            assert response.status_code == 404, where
    # Administrators do not read audit reports: refused by role, whatever the name.
    admin = _client(app, people, "admin")
    assert admin.get(url).status_code == admin.get("/audits/photos/x.jpg").status_code == 403


# --- no metadata kept -----------------------------------------------------------------------------

SECRET = "owner: Zhang San, phone 13800138000"
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="' + SECRET.encode()
       + b'"/></rdf:RDF></x:xmpmeta>')
ICC = b"ICC profile desc " + SECRET.encode()  # not a valid profile: written verbatim, read back verbatim
FORBIDDEN = [SECRET.encode(), b"Zhang San", b"13800138000", b"Exif", b"http://ns.adobe.com/xap", b"xmpmeta",
             b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP", b"ICC_PROFILE", b"PhoneMaker"]


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = SECRET  # Artist
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (22.0, 16.0, 30.0), "E", (113.0, 34.0, 12.0)
    return exif


def _image(mode="RGB", size=(64, 48)):
    image = Image.new(mode, size, (10, 120, 200) if mode == "RGB" else (10, 120, 200, 128))
    image.putpixel((1, 1), (250, 250, 0) if mode == "RGB" else (250, 250, 0, 255))
    return image


def _jpeg() -> bytes:
    out = io.BytesIO()
    _image().save(out, "JPEG", comment=SECRET.encode(), exif=_exif_with_gps(), xmp=XMP, icc_profile=ICC)
    return out.getvalue()


def _png(mode) -> bytes:
    info = PngInfo()
    info.add_text("Author", SECRET)  # tEXt
    info.add_text("Comment", SECRET, zip=True)  # zTXt
    info.add_itxt("Description", SECRET, lang="zh", tkey="说明")  # iTXt
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())  # XMP in PNG
    out = io.BytesIO()
    _image(mode).save(out, "PNG", pnginfo=info, exif=_exif_with_gps(), icc_profile=ICC)
    return out.getvalue()


def _webp() -> bytes:
    out = io.BytesIO()
    _image().save(out, "WEBP", exif=_exif_with_gps(), xmp=XMP, icc_profile=ICC, lossless=True)
    return out.getvalue()


UPLOADS = {"jpeg": _jpeg, "png-rgb": lambda: _png("RGB"), "png-rgba": lambda: _png("RGBA"), "webp": _webp}


def _jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments, up to the start of the scan."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while True:
        assert data[at] == 0xFF
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        at += 2 + length


def _png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        chunks.append(data[at + 4:at + 8])
        at += 12 + length
    return chunks


def assert_no_metadata(stored: bytes, size=(64, 48)) -> None:
    for marker in FORBIDDEN:
        assert marker not in stored, marker
    with Image.open(io.BytesIO(stored)) as image:
        image.load()
        assert image.size == size
        assert not image.getexif()
        for key in ("comment", "exif", "xmp", "icc_profile", "XML:com.adobe.xmp", "Author", "Comment",
                    "Description"):
            assert key not in image.info, key
        kind = image.format
    if kind == "JPEG":
        header = _jpeg_segments(stored)
        assert 0xFE not in header  # COM
        assert not any(0xE1 <= m <= 0xEF for m in header)  # APP1 (EXIF, XMP), APP2 (ICC), …
        assert b"\xff\xfe" not in stored[:stored.index(b"\xff\xda")]
    else:
        assert kind == "PNG"
        assert set(_png_chunks(stored)) <= {b"IHDR", b"IDAT", b"IEND"}


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_uploaded_kb_photos_keep_no_metadata_at_all(app, kb_cases, people, kind):
    blob = UPLOADS[kind]()
    assert SECRET.encode() in blob or kind == "png-rgb" or kind == "png-rgba"  # (zTXt hides it)
    assert b"http://ns.adobe.com/xap" in blob
    client = _client(app, people, "author")
    token = get_csrf(client, "/cases/new")
    form = {"csrf_token": token, "title": "外机风扇时转时停", "lang": "zh", "product": "air-conditioner",
            "error_codes": "E8, h6", "models": "KFR-26GW", "components": "风机电容，外风机",
            "symptoms": "外机风扇时转时停", "series": "",
            "difficulty": "2", "time_minutes": "45", "body": "## 故障现象\n外风机时转时停。\n", "note": "",
            "photos": (io.BytesIO(blob), f"p.{kind}")}
    assert client.post("/cases/new?lang=en", data=form, content_type="multipart/form-data").status_code == 302
    photo = db.session.scalar(select(Photo))
    stored = (Path(app.instance_path) / "uploads" / "photos" / photo.name).read_bytes()
    assert_no_metadata(stored)
    assert (photo.width, photo.height) == (64, 48)
    served = client.get(f"/cases/photos/{photo.name}").get_data()
    assert served == stored


def test_uploaded_audit_photos_keep_no_metadata_at_all(app, people, audit_photos):
    from portal.audits import services as audits
    from portal.audits.models import Audit, AuditPhoto

    draft = db.session.scalar(select(Audit).where(Audit.status == "draft"))
    client = _client(app, people, "auditor")
    token = get_csrf(client, f"/audits/{draft.id}/edit")
    for make in UPLOADS.values():
        client.post(f"/audits/{draft.id}/photos", data={"csrf_token": token, "item": "evidence-photos",
                                                        "photo": (io.BytesIO(make()), "x.jpg")},
                    content_type="multipart/form-data")
    uploaded = db.session.scalars(select(AuditPhoto).where(AuditPhoto.audit_id == draft.id)
                                  .where(AuditPhoto.name != audit_photos["draft"])).all()
    assert len(uploaded) == len(UPLOADS)
    for photo in uploaded:
        assert_no_metadata((audits.photo_folder() / photo.name).read_bytes())


def test_the_cleaner_keeps_the_pixels_and_drops_the_rest():
    for make in UPLOADS.values():
        clean, mime, width, height = clean_image(make())
        assert (width, height) == (64, 48)
        assert_no_metadata(clean)
        with Image.open(io.BytesIO(clean)) as image:
            pixel = image.convert("RGB").getpixel((40, 40))
            assert all(abs(a - b) <= 8 for a, b in zip(pixel, (10, 120, 200))) or mime == "image/png"
