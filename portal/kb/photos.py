"""Photos from the field: checked by content, re-encoded without metadata, kept private.

A photo is accepted only if its bytes decode as JPEG, PNG or WebP (whatever its
name or declared type says), is at most 10 MB and at most 40 megapixels. It is
re-encoded from its pixels (rotated upright first), which drops EXIF data
including GPS location, and stored under the instance folder, never static/.
"""

from __future__ import annotations

import io
import secrets
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from ..extensions import db
from .models import Photo

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
            image = image.convert("RGBA")
            image.save(out, "PNG", optimize=True)
            mime = "image/png"
        else:
            image = image.convert("RGB")
            image.save(out, "JPEG", quality=85, optimize=True)  # no exif= : no metadata
            mime = "image/jpeg"
        return out.getvalue(), mime, image.width, image.height


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
