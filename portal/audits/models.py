"""Audit templates (versioned), audits, their photos, amendments, consequences and
good-practice stories."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..messages import message_columns


class AuditTemplate(db.Model):
    """One version of a template. Reports point at the version they were filed with; a changed
    file becomes a new version once the old one has reports."""

    __tablename__ = "audit_template"
    __table_args__ = (UniqueConstraint("slug", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict] = mapped_column(JSON)  # sections, items, grades, rules (validated)
    content_hash: Mapped[str] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(default=True)  # the version new audits use
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def title(self, lang: str) -> str:
        return (self.title_zh if lang == "zh" else self.title_en) or self.title_en


class Audit(db.Model):
    """One report of one visit: a visit (technician, work order, time of the visit) is reported
    once, however often a client sends it."""

    __tablename__ = "audit"
    __table_args__ = (UniqueConstraint("technician_id", "work_order", "visited_at"),
                      # the recent reports' figures (dashboard): read from the index alone
                      Index("ix_audit_status_visited_at", "status", "visited_at", "red_line_failed", "score"),
                      # the trainer reports' groups: the technicians with submitted reports
                      Index("ix_audit_status_technician_id", "status", "technician_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("audit_template.id"), index=True)
    auditor_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    work_order: Mapped[str] = mapped_column(String(60))
    product: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)  # draft | submitted
    responses: Mapped[dict] = mapped_column(JSON, default=dict)  # item id → answer
    comments: Mapped[dict] = mapped_column(JSON, default=dict)  # item id → auditor's comment
    score: Mapped[float | None] = mapped_column()
    result: Mapped[str | None] = mapped_column(String(30))  # a grade code; "fail" on a red line
    red_line_failed: Mapped[bool] = mapped_column(default=False)
    section_scores: Mapped[dict] = mapped_column(JSON, default=dict)  # section id → percent or None
    failed_items: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    technician_comment: Mapped[str] = mapped_column(Text, default="")

    template: Mapped[AuditTemplate] = relationship()
    auditor: Mapped["User"] = relationship(foreign_keys=[auditor_id])
    technician: Mapped["User"] = relationship(foreign_keys=[technician_id])
    photos: Mapped[list["AuditPhoto"]] = relationship(back_populates="audit", order_by="AuditPhoto.id",
                                                      cascade="all, delete-orphan")
    amendments: Mapped[list["AuditAmendment"]] = relationship(back_populates="audit", order_by="AuditAmendment.id",
                                                              cascade="all, delete-orphan")
    consequences: Mapped[list["AuditConsequence"]] = relationship(back_populates="audit",
                                                                  order_by="AuditConsequence.id",
                                                                  cascade="all, delete-orphan")


class AuditPhoto(db.Model):
    __tablename__ = "audit_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(40), unique=True)  # random file name
    mime: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    size: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    audit: Mapped[Audit] = relationship(back_populates="photos")


class AuditAmendment(db.Model):
    """A trainer's change to a submitted report: what it was, what it became, who and why."""

    __tablename__ = "audit_amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)

    audit: Mapped[Audit] = relationship(back_populates="amendments")
    by: Mapped["User | None"] = relationship()


class AuditConsequence(db.Model):
    """What a report caused, once: a suspended certificate, an assigned lesson, a proposed
    good-practice story, trainers notified."""

    __tablename__ = "audit_consequence"
    __table_args__ = (UniqueConstraint("audit_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # suspend | assign | good_practice | notify
    key: Mapped[str] = mapped_column(String(80), default="")  # e.g. the section id, the certificate number
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("cert_certificate.id", ondelete="SET NULL"))
    targeted_id: Mapped[int | None] = mapped_column(ForeignKey("learning_targeted.id", ondelete="SET NULL"))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("audit_story.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")  # plain text, or the English copy of:
    detail_msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    detail_params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Undone after an amendment made it unnecessary: reinstated | withdrawn (a trainer's action)
    # or cleared (the trainers' red-line alert, by the amendment itself). Empty: in force.
    resolution: Mapped[str] = mapped_column(String(12), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    resolution_note: Mapped[str] = mapped_column(Text, default="")

    audit: Mapped[Audit] = relationship(back_populates="consequences")
    resolved_by: Mapped["User | None"] = relationship()

    _message, shown_detail = message_columns("detail", "detail_msg_id", "detail_params")


class GoodPracticeStory(db.Model):
    """创造感动: an outstanding visit, proposed by its report, approved by a trainer for all."""

    __tablename__ = "audit_story"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), unique=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    story: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="proposed", index=True)  # proposed | approved | declined
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    audit: Mapped[Audit] = relationship()
    technician: Mapped["User"] = relationship(foreign_keys=[technician_id])


class AuditFailedItem(db.Model):
    """An item a submitted report failed, one row each (the report's ``failed_items``, rewritten
    with it when it is scored or amended): the Pareto of failed items is counted from these by
    the database instead of reading every report's JSON."""
    __tablename__ = "audit_failed_item"
    __table_args__ = (UniqueConstraint("audit_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(80), index=True)


# --- the audit programme: who is visited when (issue 16) -------------------------------------


class AuditProgramme(db.Model):
    """A sampling programme for one audit form: the rules of each period's draw. ``spec`` is the
    normalised, validated programme (audits/programme.py; format in content/README.md), from a
    file in content/audits/programmes/ (``source`` "file") or the trainers' form ("form")."""

    __tablename__ = "audit_programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    template_slug: Mapped[str] = mapped_column(String(80), index=True)  # the audit form visited with
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(8), default="file")  # file | form
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    def title(self, lang: str) -> str:
        return (self.title_zh if lang == "zh" else self.title_en) or self.title_en


class AuditDraw(db.Model):
    """One period's draw of one programme, made once: the seed and the rules it was drawn under
    are kept so that anyone can draw again and get the same technicians (audits/draw.py)."""

    __tablename__ = "audit_draw"
    __table_args__ = (UniqueConstraint("programme_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("audit_programme.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7), index=True)  # 2027-01 (monthly) or 2027-Q1
    seed: Mapped[str] = mapped_column(String(64))  # hex, from secrets at draw time
    seed_given: Mapped[bool] = mapped_column(default=False)  # chosen by whoever drew (--seed), not by chance
    spec: Mapped[dict] = mapped_column(JSON)  # the programme's spec as drawn under
    # The draw's inputs as they were: each group with its quota and its candidates (id, weight,
    # forced), so the picks can be drawn again from the seed long after the data has moved on.
    candidates: Mapped[dict] = mapped_column(JSON, default=dict)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))  # None: flask daily
    due_on: Mapped[date] = mapped_column()
    eligible: Mapped[int] = mapped_column(default=0)  # technicians that could be drawn
    excluded: Mapped[dict] = mapped_column(JSON, default=dict)  # reason → count (blackouts, max reached)
    drawn: Mapped[int] = mapped_column(default=0)
    unassigned: Mapped[int] = mapped_column(default=0)  # visits no auditor could take

    programme: Mapped[AuditProgramme] = relationship()


class AuditVisit(db.Model):
    """One planned mystery visit: a drawn technician, the auditor who is to make it and by when.
    The technician is never told. ``audit_id`` is the report that made it done."""

    __tablename__ = "audit_visit"
    __table_args__ = (UniqueConstraint("draw_id", "technician_id"),
                      # an auditor's list: open visits by due date
                      Index("ix_audit_visit_auditor_status_due", "auditor_id", "status", "due_on"),
                      Index("ix_audit_visit_period_status", "period", "status"),
                      Index("ix_audit_visit_technician_period", "technician_id", "period"))

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("audit_draw.id", ondelete="CASCADE"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("audit_programme.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    technician_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"), index=True)  # the technician's, at the draw
    auditor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))  # None: nobody could
    due_on: Mapped[date] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done | cancelled
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # why drawn: ["min", "red_line", ...]
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit.id", ondelete="SET NULL"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    draw: Mapped[AuditDraw] = relationship()
    technician: Mapped["User"] = relationship(foreign_keys=[technician_id])
    auditor: Mapped["User | None"] = relationship(foreign_keys=[auditor_id])
    audit: Mapped["Audit | None"] = relationship()
    handbacks: Mapped[list["AuditVisitHandback"]] = relationship(
        back_populates="visit", order_by="AuditVisitHandback.id", cascade="all, delete-orphan")


class AuditVisitHandback(db.Model):
    """An auditor gave a visit back (known to the technician, ill, too far): the reason, and
    who it went to next. An auditor who handed a visit back is never given it again."""

    __tablename__ = "audit_visit_handback"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("audit_visit.id", ondelete="CASCADE"), index=True)
    auditor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reassigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    visit: Mapped[AuditVisit] = relationship(back_populates="handbacks")
    auditor: Mapped["User | None"] = relationship(foreign_keys=[auditor_id])
    reassigned_to: Mapped["User | None"] = relationship(foreign_keys=[reassigned_to_id])

