"""Fault cases, their revisions, field contributions, feedback, photos and search logs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db

from ..products import PRODUCTS  # noqa: E402,F401  (kb.models.PRODUCTS stays importable)
LANGS = ("zh", "en")
# The fields a case is made of (besides its body); revisions snapshot all of them.
CASE_FIELDS = ("title", "lang", "key", "product", "error_codes", "models", "components",
               "symptoms", "series", "difficulty", "time_minutes", "related")


class Case(db.Model):
    """One fault case in one language. Translations share a ``key``."""

    __tablename__ = "kb_case"
    __table_args__ = (Index("ix_kb_case_key_lang", "key", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    key: Mapped[str] = mapped_column(String(120))
    lang: Mapped[str] = mapped_column(String(2))
    title: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(40), index=True)
    error_codes: Mapped[list] = mapped_column(JSON, default=list)
    models: Mapped[list] = mapped_column(JSON, default=list)
    components: Mapped[list] = mapped_column(JSON, default=list)
    symptoms: Mapped[list] = mapped_column(JSON, default=list)
    series: Mapped[str] = mapped_column(String(300), default="")
    difficulty: Mapped[int | None] = mapped_column()
    time_minutes: Mapped[int | None] = mapped_column()
    related: Mapped[list] = mapped_column(JSON, default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    # published: readable and searchable; archived: kept, hidden from search and lists.
    status: Mapped[str] = mapped_column(String(12), default="published")
    # content: loaded from content/kb/; field: first published from a field contribution.
    origin: Mapped[str] = mapped_column(String(12), default="content")
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # Who last checked the technical content, and when (front matter reviewed_by / reviewed_on;
    # both or neither). Indexed: the review list (records.content) asks for the oldest first.
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_on: Mapped[date | None] = mapped_column(Date, index=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    revisions: Mapped[list["CaseRevision"]] = relationship(
        back_populates="case", order_by="CaseRevision.version.desc()", cascade="all, delete-orphan")
    credits: Mapped[list["CaseCredit"]] = relationship(cascade="all, delete-orphan")

    def snapshot(self) -> dict:
        data = {name: getattr(self, name) for name in CASE_FIELDS}
        data["body"] = self.body
        return data


class CaseAlias(db.Model):
    """An address a case was once reachable at; it redirects to the case's address now."""

    __tablename__ = "kb_case_alias"

    slug: Mapped[str] = mapped_column(String(120), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("kb_case.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseRevision(db.Model):
    """What a case looked like after each change: who, when, what, and why."""

    __tablename__ = "kb_case_revision"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("kb_case.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column()
    snapshot: Mapped[dict] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # content (file loaded), review (a contribution approved), trainer (edited or archived)
    source: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="revisions")
    author: Mapped[User | None] = relationship()


class CaseCredit(db.Model):
    """A technician credited on a case because a contribution of theirs was published."""

    __tablename__ = "kb_case_credit"

    case_id: Mapped[int] = mapped_column(ForeignKey("kb_case.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class CaseFeedback(db.Model):
    """"Did this fix it?": each technician's current answer on a case, the first-time-fix signal.

    One row per technician and case: a new answer replaces the old one (see kb/feedback.py);
    every answer given stays in ``CaseFeedbackAnswer``.
    """

    __tablename__ = "kb_case_feedback"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("kb_case.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    fixed: Mapped[bool] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when last answered

    user: Mapped[User | None] = relationship()


class CaseFeedbackAnswer(db.Model):
    """Every "did this fix it?" answer as it was given, superseded ones included."""

    __tablename__ = "kb_case_feedback_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("kb_case.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    fixed: Mapped[bool] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class Contribution(db.Model):
    """A new case or an edit suggested from the field, waiting for a trainer's review."""

    __tablename__ = "kb_contribution"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # new | edit
    case_id: Mapped[int | None] = mapped_column(ForeignKey("kb_case.id", ondelete="SET NULL"),
                                                index=True)
    base_version: Mapped[int | None] = mapped_column()
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    data: Mapped[dict] = mapped_column(JSON)  # the proposed fields and body
    note: Mapped[str] = mapped_column(Text, default="")  # the contributor's note to the reviewer
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was rejected
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case | None] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    photos: Mapped[list["Photo"]] = relationship(back_populates="contribution")


class Photo(db.Model):
    """An uploaded photo, re-encoded without metadata, stored in the instance folder."""

    __tablename__ = "kb_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)  # random file name, with extension
    mime: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    size: Mapped[int] = mapped_column()
    contribution_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_contribution.id", ondelete="SET NULL"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("kb_case.id", ondelete="SET NULL"),
                                                index=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contribution: Mapped[Contribution | None] = relationship(back_populates="photos")


class SearchLog(db.Model):
    """One search, for the search-gap report: no results, or results nobody opened."""

    __tablename__ = "kb_search_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(200))
    norm: Mapped[str] = mapped_column(String(200), index=True)
    lang: Mapped[str] = mapped_column(String(2))
    results: Mapped[int] = mapped_column()
    opened: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class IndexChange(db.Model):
    """The change log every host's search index follows (see kb/indexing.py).

    One row per changed case key: the index holds one document per case, with every
    published language version of it.
    """

    __tablename__ = "kb_index_change"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndexHost(db.Model):
    """Where one host's search index is in the change log: the last change it applied, and when
    it last said so (kb/indexing.py). ``flask daily`` prunes the log up to the slowest host seen
    in the last ``KB_HOST_DAYS`` days. ``host`` is the id kept in the host's instance folder."""

    __tablename__ = "kb_index_host"

    host: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")  # machine name and instance folder
    applied: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), default=0)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KbTerms(db.Model):
    """The synonym groups, keyboard slips and segmenter dictionary from content/kb/synonyms.yaml."""

    __tablename__ = "kb_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    groups: Mapped[list] = mapped_column(JSON, default=list)
    dictionary: Mapped[list] = mapped_column(JSON, default=list)
    variants: Mapped[dict] = mapped_column(JSON, default=dict)  # word meant → slips typed
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchGapDay(db.Model):
    """Kept: the searches of one UTC day (the log's ``created_at`` date in UTC) for one normalised
    query — how many, how many found nothing, how many found something nobody opened, the
    greatest query text typed and the last time. Written with the search log row (an upsert, so
    concurrent searches add up) and lowered when ``mark_opened`` flips a search to opened; the
    search-gap figure and report group these rows instead of the log (kb/gaps.py)."""

    __tablename__ = "kb_search_gap_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    norm: Mapped[str] = mapped_column(String(200), primary_key=True)
    searches: Mapped[int] = mapped_column(default=0)
    no_results: Mapped[int] = mapped_column(default=0)
    unopened: Mapped[int] = mapped_column(default=0)
    example: Mapped[str] = mapped_column(String(200))
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
