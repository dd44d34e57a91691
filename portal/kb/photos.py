"""Photos from the field: checked by content, re-encoded without metadata, kept private.

A photo is accepted only if its bytes decode as JPEG, PNG or WebP (whatever its
name or declared type says), is at most 10 MB and at most 40 megapixels. It is
rotated upright, then copied pixel by pixel into a new image that carries no
metadata at all, and that copy is encoded: no EXIF (GPS location, camera, owner),
no XMP, no ICC profile, no JPEG comment, no PNG text chunk survives. It is stored
under the instance folder, never static/, and served only to those who may see
what it belongs to (``may_see``).
"""

from __future__ import annotations

import io
import secrets
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from ..extensions import db
from .models import Case, Photo

# Who sees a photo is who may see what it belongs to (see ``may_see``).
CASE_READERS = ("technician", "trainer", "auditor", "admin")  # a published case
UNPUBLISHED_CASE_READERS = ("trainer", "admin")  # an archived case: those who may still open it
REVIEWERS = ("trainer",)  # the contribution review queue

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 2000
ACCEPTED = {"JPEG", "PNG", "WEBP"}


class PhotoError(ValueError):
    pass


def photo_folder() -> Path:
    folder = Path(current_app.instance_path) / "uploads" / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def too_many_pixels() -> str:
    return _("The photo has more than %(n)d megapixels; take it at a lower resolution.", n=MAX_PIXELS // 1_000_000)


def clean_image(data: bytes) -> tuple[bytes, str, int, int]:
    """(re-encoded bytes, mime type, width, height) or PhotoError. Plain function, no app."""
    if len(data) > MAX_BYTES:
        raise PhotoError(_("A photo may be at most 10 MB."))
    if not data:
        raise PhotoError(_("The photo is empty."))
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between the limit and twice the limit: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _reencode(data)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # told by the header, before decoding
        raise PhotoError(too_many_pixels()) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoError(_("That file is not a readable JPEG, PNG or WebP photo.")) from None


def _reencode(data: bytes) -> tuple[bytes, str, int, int]:
    with Image.open(io.BytesIO(data)) as probe:
        kind = probe.format
        if kind not in ACCEPTED:
            raise PhotoError(_("Only JPEG, PNG or WebP photos are accepted."))
        if probe.width * probe.height > MAX_PIXELS:
            raise PhotoError(too_many_pixels())
        probe.verify()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image = ImageOps.exif_transpose(image)  # upright, as the phone showed it
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        if kind == "PNG" and image.mode in ("RGBA", "LA", "P"):
            pixels = _pixels_only(image.convert("RGBA"))
            pixels.save(out, "PNG", optimize=True)
            mime = "image/png"
        else:
            pixels = _pixels_only(image.convert("RGB"))
            pixels.save(out, "JPEG", quality=85, optimize=True)
            mime = "image/jpeg"
        return out.getvalue(), mime, pixels.width, pixels.height


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image made of the pixels alone: its ``info`` is empty, so nothing the upload
    carried (EXIF, XMP, ICC profile, JPEG comment, PNG text, DPI) can be written back by
    ``save``, which otherwise takes some of these from ``info`` by itself."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def save_photo(data: bytes, uploaded_by, contribution=None) -> Photo:
    clean, mime, width, height = clean_image(data)
    name = secrets.token_urlsafe(16) + (".png" if mime == "image/png" else ".jpg")
    (photo_folder() / name).write_bytes(clean)
    photo = Photo(name=name, mime=mime, width=width, height=height, size=len(clean),
                  uploaded_by=uploaded_by.id if uploaded_by else None, contribution=contribution)
    db.session.add(photo)
    return photo


def photo_path(photo: Photo) -> Path:
    return photo_folder() / photo.name


def may_see(user, case_status: str | None, author_id: int | None) -> bool:
    """Whether ``user`` may see a knowledge-base photo (pure). A photo attached to a case
    follows the case: published, whoever reads cases; not published (archived), those who
    may still open it. A photo not attached to a case belongs to a contribution that is
    pending or was rejected: only its author and the reviewers see it."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if case_status == "published":
        return user.has_role(*CASE_READERS)
    if case_status is not None:
        return user.has_role(*UNPUBLISHED_CASE_READERS)
    return user.has_role(*REVIEWERS) or (author_id is not None and author_id == user.id)


def visible_photo(name: str, user) -> tuple[Photo, bool] | None:
    """(the photo, whether it is published) if ``user`` may see it and its file exists;
    None otherwise, whether the photo is unknown or not theirs to see."""
    photo = db.session.scalar(select(Photo).where(Photo.name == name))
    if photo is None:
        return None
    case = db.session.get(Case, photo.case_id) if photo.case_id is not None else None
    author_id = photo.contribution.author_id if photo.contribution is not None else photo.uploaded_by
    status = case.status if case is not None else None
    if not may_see(user, status, author_id) or not photo_path(photo).exists():
        return None
    return photo, status == "published"
