"""Writing fault cases: the only code that creates, changes or archives a case.

Every change bumps the case's version, keeps a revision (who, when, what, why) and
records a change-log row for the search index in the same transaction; after the
commit the local index is brought up to date at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..auth.models import User
from ..dbtypes import utcnow
from ..extensions import db
from . import gaps as search_gaps
from . import indexing
from .models import CASE_FIELDS, LANGS, Case, CaseAlias, CaseCredit, CaseRevision, Contribution

# Areas above the kb add links to a case page without the kb depending on them (the app
# factory fills this): each takes the case and the reader's language ("zh"/"en") and returns
# [(title, url), …], e.g. the lessons that teach the case.
TEACHING_LINKS: list[Callable[[Case, str], list[tuple[str, str]]]] = []

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,118}$")
PRODUCT_RE = re.compile(r"^[a-z][a-z-]{1,38}$")
LIST_FIELDS = ("error_codes", "models", "components", "symptoms", "related")
LIMITS = {"title": 200, "series": 300, "body": 50_000}


def clean_list(values) -> list[str]:
    return list(dict.fromkeys(str(v).strip() for v in values or [] if str(v).strip()))


def case_problems(data: dict) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with a case's fields; empty when it is valid."""
    problems = []
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(("title", _("A title is required.")))
    elif len(title) > LIMITS["title"]:
        problems.append(("title", _("At most %(n)d characters.", n=LIMITS["title"])))
    if data.get("lang") not in LANGS:
        problems.append(("lang", _("Must be zh or en.")))
    product = data.get("product")
    if not isinstance(product, str) or not PRODUCT_RE.match(product):
        problems.append(("product", _("A product such as air-conditioner is required.")))
    key = data.get("key")
    if key is not None and (not isinstance(key, str) or not KEY_RE.match(key)):
        problems.append(("key", _("Lower-case letters, digits and dashes only.")))
    for name in LIST_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            problems.append((name, _("Must be a list, like [A, B].")))
        elif any(not isinstance(v, str) for v in value):
            problems.append((name, _("Every item must be text; put quotes around numbers.")))
        elif any(len(v) > 200 for v in value) or len(value) > 50:
            problems.append((name, _("Too many or too long items.")))
    series = data.get("series")
    if series is not None and (not isinstance(series, str) or len(series) > LIMITS["series"]):
        problems.append(("series", _("Text of at most %(n)d characters.", n=LIMITS["series"])))
    for name, low, high in (("difficulty", 1, 3), ("time_minutes", 1, 24 * 60)):
        value = data.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or not low <= value <= high):
            problems.append((name, _("A whole number from %(low)d to %(high)d.", low=low, high=high)))
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        problems.append(("body", _("The case needs a body: symptoms, causes, diagnosis, fix.")))
    elif len(body) > LIMITS["body"]:
        problems.append(("body", _("At most %(n)d characters.", n=LIMITS["body"])))
    return problems


def _apply(case: Case, data: dict) -> None:
    case.title = data["title"].strip()
    case.lang = data["lang"]
    case.key = data.get("key") or case.key or case.slug
    case.product = data["product"]
    for name in LIST_FIELDS:
        setattr(case, name, clean_list(data.get(name)))
    case.error_codes = [c.upper() for c in case.error_codes]
    case.series = (data.get("series") or "").strip()
    case.difficulty = data.get("difficulty")
    case.time_minutes = data.get("time_minutes")
    case.body = data["body"].strip() + "\n"


def _revise(case: Case, author: User | None, source: str, note: str) -> None:
    db.session.add(CaseRevision(case=case, version=case.version, snapshot=case.snapshot(),
                                author_id=author.id if author else None, source=source,
                                note=(note or "")[:300]))
    indexing.record_change(case.key)


KEY_WORD_RE = re.compile(r"[a-z0-9]+")
KEY_BASE_MAX = 60


def key_base(data: dict) -> str:
    """The readable part of a new case's key, in ASCII (pure).

    English cases: the words of the title. Chinese cases (or a title without ASCII words):
    the error codes and models, then any ASCII in the title; the product when there is none.
    """
    def words(text) -> list[str]:
        return KEY_WORD_RE.findall(str(text or "").lower())

    parts = words(data.get("title")) if data.get("lang") == "en" else []
    if not parts:
        parts = [w for item in [*(data.get("error_codes") or []), *(data.get("models") or [])]
                 for w in words(item)]
    if not parts:
        parts = words(data.get("title"))
    base = ""
    for word in parts or words(data.get("product")) or ["case"]:
        if len(base) + len(word) + 1 > KEY_BASE_MAX:
            break
        base = f"{base}-{word}" if base else word
    return base or "case"


def new_key(data: dict, number: int) -> str:
    """A key for a case that has none: its readable base and a stable number (the contribution's).

    Never reused: a key another case already has gets a further suffix.
    """
    base = f"{key_base(data)}-{number}"
    key, n = base, 2
    while db.session.scalar(select(Case.id).where(Case.key == key).limit(1)) is not None:
        key, n = f"{base}-{n}", n + 1
    return key


def slug_for(key: str, lang: str) -> str:
    base = f"{key}-{lang}"
    slug, n = base, 2
    while db.session.scalar(select(Case.id).where(Case.slug == slug)) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def old_address(slug: str) -> Case | None:
    """The case that was once at /cases/<slug> and is now elsewhere, if any."""
    return db.session.scalar(select(Case).join(CaseAlias, CaseAlias.case_id == Case.id)
                             .where(CaseAlias.slug == slug))


def create_case(data: dict, *, slug: str | None = None, author: User | None = None,
                source: str = "content", note: str = "", origin: str = "content",
                content_hash: str | None = None) -> Case:
    key = data.get("key") or slug
    if not key:
        raise ValueError("a new case needs a key (see new_key)")
    case = Case(slug=slug or slug_for(key, data["lang"]), key=key, origin=origin,
                content_hash=content_hash, version=1)
    _apply(case, data)
    db.session.add(case)
    _revise(case, author, source, note)
    return case


def update_case(case: Case, data: dict, *, author: User | None = None, source: str = "trainer",
                note: str = "", content_hash: str | None = None) -> bool:
    """Change a case; False (and nothing written) when the data is what it already holds."""
    before = case.snapshot()
    old_key = case.key
    _apply(case, data)
    if case.key != old_key:
        indexing.record_change(old_key)  # the old case document loses this version
    if content_hash is not None:
        case.content_hash = content_hash
    if case.snapshot() == before:
        return False
    case.version += 1
    case.updated_at = utcnow()
    _revise(case, author, source, note)
    return True


def trainer_edit(case: Case, data: dict, author: User, note: str) -> list[tuple[str, str]]:
    """A trainer's direct edit: a new version, or the problems and nothing changed."""
    data = {**data, "key": case.key, "lang": case.lang}
    problems = case_problems(data)
    if problems:
        return problems
    if update_case(case, data, author=author, source="trainer", note=note):
        db.session.commit()
        after_commit()
    return []


def set_status(case: Case, status: str, author: User | None, note: str) -> None:
    if case.status == status:
        return
    case.status = status
    case.version += 1
    case.updated_at = utcnow()
    _revise(case, author, "trainer", note or status)


def credit(case: Case, user: User) -> None:
    if not any(c.user_id == user.id for c in case.credits):
        case.credits.append(CaseCredit(user_id=user.id))


def after_commit() -> None:
    """Bring this host's index up to date now; a failure here never undoes the saved change."""
    try:
        indexing.sync(force=True)
    except Exception:  # the change log lets the next sync catch up
        current_app.logger.exception("search index update failed; it will catch up")


__all__ = ["CASE_FIELDS", "case_problems", "create_case", "update_case", "set_status"]


def kb_summary() -> dict:
    """The knowledge base at a glance for trainers: contributions waiting for review, published
    cases, and searches of the last 30 days that found nothing or led nowhere."""
    return {
        "pending": db.session.scalar(select(func.count(Contribution.id))
                                     .where(Contribution.status == "pending")),
        "cases": db.session.scalar(select(func.count(func.distinct(Case.key)))
                                   .where(Case.status == "published")),
        "gaps": search_gaps.figure(30),  # kept per day (kb/gaps.py): the 30-day report's line count
    }
