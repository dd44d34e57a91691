"""Tiers, certificates and the log of every change to a certificate."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..messages import message_columns

# active: valid; expired: valid_until passed; suspended: paused by a trainer or a rule (can be
# reinstated); lapsed: the holder missed the current quarterly course past its due date and grace;
# revoked: withdrawn for good.
STATUSES = ("active", "expired", "suspended", "lapsed", "revoked")


class Tier(db.Model):
    __tablename__ = "cert_tier"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    level: Mapped[int] = mapped_column()
    title_zh: Mapped[str] = mapped_column(String(100))
    title_en: Mapped[str] = mapped_column(String(100))
    summary_zh: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    validity_months: Mapped[int] = mapped_column(default=12)
    lapse_grace_days: Mapped[int] = mapped_column(default=30)
    requirements: Mapped[dict] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)

    def title(self, lang: str) -> str:
        return (self.title_zh if lang == "zh" else self.title_en) or self.title_en


class Certificate(db.Model):
    __tablename__ = "cert_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Printed on the badge and in the QR code: random, not derived from anything.
    number: Mapped[str] = mapped_column(String(32), unique=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("cert_tier.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    issued_on: Mapped[date] = mapped_column()
    valid_until: Mapped[date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")  # plain text, or the English copy of:
    status_msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    status_params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    forced: Mapped[bool] = mapped_column(default=False)  # issued although requirements were unmet
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tier: Mapped[Tier] = relationship()
    user: Mapped["User"] = relationship()
    events: Mapped[list["CertificateEvent"]] = relationship(
        back_populates="certificate", order_by="CertificateEvent.id", cascade="all, delete-orphan")

    _message, shown_status_reason = message_columns("status_reason", "status_msg_id", "status_params")


class CertificateEvent(db.Model):
    """One change: issued, renewed, suspended, reinstated, revoked, expired, lapsed."""

    __tablename__ = "cert_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("cert_certificate.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    rule: Mapped[str] = mapped_column(String(60), default="")  # set when a rule, not a person, acted
    reason: Mapped[str] = mapped_column(Text, default="")  # plain text, or the English copy of:
    reason_msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    reason_params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    forced: Mapped[bool] = mapped_column(default=False)
    # For issue and renewal: the requirements and their evidence as they stood.
    evidence: Mapped[list] = mapped_column(JSON, default=list)
    valid_until: Mapped[date | None] = mapped_column()

    certificate: Mapped[Certificate] = relationship(back_populates="events")
    by: Mapped["User | None"] = relationship()

    _message, shown_reason = message_columns("reason", "reason_msg_id", "reason_params")


class EligibilityStatus(db.Model):
    """The eligibility board's figure for one technician and one tier, kept instead of decided on
    every request (``certification.board``): whether they hold the tier, whether they are
    eligible, how many requirements are unmet. ``stale`` is set (and ``version`` raised) in the
    same transaction as every change that can alter it; a row is stale too from its
    ``recheck_on`` day (the date alone may change it then). A missing row is stale."""

    __tablename__ = "cert_eligibility"
    __table_args__ = (Index("ix_cert_eligibility_tier_eligible", "tier_id", "eligible"),
                      Index("ix_cert_eligibility_stale", "stale"),
                      Index("ix_cert_eligibility_computed_on", "computed_on"),
                      Index("ix_cert_eligibility_computed_at", "computed_at"),
                      Index("ix_cert_eligibility_recheck_on", "recheck_on"))

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("cert_tier.id", ondelete="CASCADE"), primary_key=True)
    held: Mapped[bool] = mapped_column(default=False)  # a certificate of the tier that is not revoked
    eligible: Mapped[bool] = mapped_column(default=False)  # not held, and every requirement met
    unmet: Mapped[int] = mapped_column(default=0)  # requirements unmet (0 when held)
    stale: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=0)  # raised by every mark; a refresh writes only if unchanged
    computed_on: Mapped[date | None] = mapped_column()  # the local day the decision was made for
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first day on which the date alone may change the decision (a certificate of the tier
    # below expiring, an audit leaving the window, …: ``eligibility.changes_on``); None: never.
    # From that day the row is stale without any change marking it.
    recheck_on: Mapped[date | None] = mapped_column()
