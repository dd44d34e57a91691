"""Certificates: issue on evidence, and every change of status after it, each logged with who,
when and why. The daily sweep (``flask certs sweep``) writes down expiries and lapses."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..auth.models import Outlet, Province, User
from ..auth.services import active_technicians, in_place
from ..dbtypes import utcnow
from ..extensions import db
from ..learning.services import course_completed_at, due_for
from ..messages import Message, both, msg
from ..notifications import notify
from ..security import refuse_self
from .models import Certificate, CertificateEvent, Tier
from .rules import (
    Eligibility,
    add_months,
    current_quarterly,
    effective_status,
    eligibility,
    local_date,
    renewal_refusal,
    status_label,
)

# No 0/O or 1/I/L: the number is read off a badge at the door.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
NUMBER_GROUPS = 3
EXPIRY_WARNING_DAYS = 30  # the holder is told once when this close to the date  # SC-XXXX-XXXX-XXXX: 31**12 ≈ 8 × 10**17 numbers


class CertificateError(ValueError):
    """Why a change cannot be made (a message for the user)."""


class NotEligible(CertificateError):
    def __init__(self, result: Eligibility):
        super().__init__(ngettext("Not eligible: %(num)d requirement unmet.", "Not eligible: %(num)d requirements unmet.", len(result.unmet)))
        self.result = result


def new_number() -> str:
    return "SC-" + "-".join("".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(NUMBER_GROUPS))


def normalise_number(text: str) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum() or ch == "-")[:32]


def find(number: str) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(Certificate.number == normalise_number(number)))


def active_certificates(user_id: int) -> list[Certificate]:
    """The user's certificates whose stored status is active (what a red-line audit suspends)."""
    return list(db.session.scalars(select(Certificate).where(Certificate.user_id == user_id,
                                                             Certificate.status == "active")
                                   .order_by(Certificate.id)))


def suspended_users() -> set[int]:
    """Ids of the users holding a suspended certificate (the audit draw leaves them out)."""
    return set(db.session.scalars(select(Certificate.user_id).where(Certificate.status == "suspended").distinct()))


def issued_since(day: date) -> set[int]:
    """Ids of the users with a certificate issued on or after ``day`` (weighted in the audit draw)."""
    return set(db.session.scalars(select(Certificate.user_id).where(Certificate.issued_on >= day).distinct()))


def tier_by_code(code: str) -> Tier | None:
    return db.session.scalar(select(Tier).where(Tier.code == code, Tier.active))


def active_tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).where(Tier.active).order_by(Tier.level)))


def exam_quiz_slugs() -> set[str]:
    """The quizzes that active tiers name (their pass marks decide who is certified)."""
    slugs = set()
    for requirements in db.session.scalars(select(Tier.requirements).where(Tier.active)):
        quiz = (requirements or {}).get("quiz") if isinstance(requirements, dict) else None
        if isinstance(quiz, dict) and isinstance(quiz.get("slug"), str):
            slugs.add(quiz["slug"])
    return slugs


def _log(cert: Certificate, action: str, before: str | None, by: User | None, reason: Message | str = "", rule: str = "",
         forced: bool = False, evidence: list | None = None) -> CertificateEvent:
    event = CertificateEvent(certificate=cert, action=action, from_status=before, to_status=cert.status,
                             by_id=by.id if by else None, rule=rule, reason=reason, forced=forced,
                             evidence=evidence or [], valid_until=cert.valid_until, at=utcnow())
    db.session.add(event)
    cert.updated_at = event.at
    return event


def holding(user: User, tier: Tier) -> Certificate | None:
    """The user's certificate at this tier that is not revoked (there is at most one)."""
    return db.session.scalar(select(Certificate).where(
        Certificate.user_id == user.id, Certificate.tier_id == tier.id, Certificate.status != "revoked"))


def issue(user: User, tier: Tier, today: date, by: User | None = None, note: str = "",
          force: bool = False) -> Certificate:
    """A new certificate when the technician is eligible (or ``force``: regardless, and the log
    says so, with the requirements as they stood)."""
    if not user.has_role("technician"):
        raise CertificateError(_("Certificates are for technicians."))
    refuse_self(by, user, CertificateError)
    if holding(user, tier) is not None:
        raise CertificateError(_("%(name)s already holds this tier: renew that certificate instead.",
                                 name=user.display_name))
    result = eligibility(user, tier, today)
    if not result.eligible and not force:
        raise NotEligible(result)
    if force and not note.strip():
        raise CertificateError(_("Say why the certificate is issued although requirements are unmet."))
    for _try in range(5):
        cert = Certificate(number=new_number(), tier_id=tier.id, user_id=user.id, issued_on=today,
                           valid_until=add_months(today, tier.validity_months), status="active",
                           forced=force and not result.eligible)
        db.session.add(cert)
        try:
            db.session.flush()
        except IntegrityError:  # the same random number twice: draw again
            db.session.rollback()
            continue
        _log(cert, "issued", None, by, note.strip(), forced=cert.forced, evidence=result.snapshot())
        db.session.commit()
        return cert
    raise CertificateError(_("Could not draw a free certificate number; try again."))


def _need_reason(reason: Message | str) -> Message | str:
    if isinstance(reason, Message):  # written by a rule: stored as its id and values
        return reason
    reason = (reason or "").strip()
    if not reason:
        raise CertificateError(_("A reason is required."))
    return reason[:2000]


def _refuse(cert: Certificate, action: str) -> None:
    raise CertificateError(_("Not possible while the certificate's status is “%(status)s”.",
                             status=status_label(cert.status)))


def suspend(cert: Certificate, reason: Message | str, by: User | None = None, rule: str = "",
            commit: bool = True) -> Certificate:
    """Pause a certificate: by a trainer, or by a rule (``rule`` names it; audits call this with
    by=None and ``commit=False``, inside their own transaction). Only an active certificate can
    be suspended."""
    refuse_self(by, cert.user_id, CertificateError)
    reason = _need_reason(reason)
    if cert.status != "active":
        _refuse(cert, "suspended")
    before, cert.status, cert.status_reason = cert.status, "suspended", reason
    event = _log(cert, "suspended", before, by, reason, rule=rule)
    db.session.flush()
    _tell_holder(cert, f"cert-suspended:{cert.id}:{event.id}", msg("cert.suspended", number=cert.number, reason=reason))
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return cert


def _tell_holder(cert: Certificate, key: str, text: Message) -> None:
    notify(cert.user_id, key.split(":")[0], key, text, f"/certificates/{cert.number}")


def reinstate(cert: Certificate, reason: str, today: date, by: User | None = None) -> Certificate:
    """Back to active from suspended or lapsed. A certificate whose date has passed meanwhile
    becomes expired instead (renew it)."""
    refuse_self(by, cert.user_id, CertificateError)
    reason = _need_reason(reason)
    if cert.status not in ("suspended", "lapsed"):
        _refuse(cert, "reinstated")
    before = cert.status
    cert.status = "active" if cert.valid_until >= today else "expired"
    cert.status_reason = "" if cert.status == "active" else msg("cert.passed-while-paused")
    _log(cert, "reinstated", before, by, reason)
    db.session.commit()
    return cert


def revoke(cert: Certificate, reason: str, by: User | None = None) -> Certificate:
    refuse_self(by, cert.user_id, CertificateError)
    reason = _need_reason(reason)
    if cert.status == "revoked":
        _refuse(cert, "revoked")
    before, cert.status, cert.status_reason = cert.status, "revoked", reason
    _log(cert, "revoked", before, by, reason)
    db.session.commit()
    return cert


def renewal_window_days() -> int:
    return int(current_app.config.get("PORTAL_RENEWAL_WINDOW_DAYS", 90))


def renew(cert: Certificate, today: date, by: User | None = None, note: str = "", force: bool = False) -> Certificate:
    """Another validity period, while the tier's requirements hold (time at the tier below is
    not asked again). A valid certificate extends from its current expiry, only within the
    renewal window before it and once per period (``rules.renewal_refusal``); an expired or
    lapsed one from today. The row changes only if nobody changed it meanwhile: two renewals at
    once extend it once."""
    refuse_self(by, cert.user_id, CertificateError)
    refusal = renewal_refusal(cert, today, renewal_window_days())
    if refusal:
        raise CertificateError(refusal)
    result = eligibility(cert.user, cert.tier, today, renewal=True)
    if not result.eligible and not force:
        raise NotEligible(result)
    if force and not result.eligible and not note.strip():
        raise CertificateError(_("Say why the certificate is renewed although requirements are unmet."))
    before = effective_status(cert, today)
    start = cert.valid_until if before == "active" else today
    _conditional_change(cert, valid_until=add_months(start, cert.tier.validity_months), status="active",
                        status_reason="")
    _log(cert, "renewed", before, by, note.strip(), forced=force and not result.eligible, evidence=result.snapshot())
    db.session.commit()
    return cert


def _conditional_change(cert: Certificate, **values) -> None:
    """UPDATE … WHERE the row still has the status and date this decision was made on; nothing
    changes (and the user is told) when someone changed it meanwhile."""
    seen_status, seen_until = cert.status, cert.valid_until
    changed = db.session.execute(
        db.update(Certificate).where(Certificate.id == cert.id, Certificate.status == seen_status,
                                  Certificate.valid_until == seen_until)
        .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.rollback()
        raise CertificateError(_("Someone changed this certificate meanwhile: nothing was saved. Reload the page "
                                 "and check before trying again."))
    for key, value in values.items():  # the row is ours now (locked until commit); keep the object in step
        setattr(cert, key, value)


@dataclass
class SweepReport:
    expired: int = 0
    lapsed: int = 0


def _missed_quarterly(cert: Certificate, today: date):
    """The quarterly course the holder missed past due date + grace while holding this
    certificate, or None."""
    found = current_quarterly(cert.user, today)
    if found is None:
        return None
    assignment, course = found
    due = due_for(assignment, cert.user)  # a late joiner's own due date
    deadline = date.fromordinal(due.toordinal() + cert.tier.lapse_grace_days)
    if today <= deadline or deadline < cert.issued_on:
        return None
    done = course_completed_at([cert.user_id], course).get(cert.user_id)

    if done is not None and local_date(done) <= deadline:
        return None
    if any(e.action == "lapsed" and any(item.get("assignment") == assignment.id for item in (e.evidence or []))
           for e in cert.events):
        return None  # lapsed for this course once already (and reinstated since): not again
    return assignment, course, due, deadline


def sweep(today: date) -> SweepReport:
    """Write down what dates and rules have decided: active certificates past their date
    expire; holders who missed the current quarterly course past its grace period lapse."""
    report = SweepReport()
    for cert in db.session.scalars(select(Certificate).where(Certificate.status == "active")).all():
        if cert.valid_until < today:
            cert.status, cert.status_reason = "expired", ""
            _log(cert, "expired", "active", None, msg("cert.validity-passed", day=cert.valid_until), rule="validity")
            report.expired += 1
            continue
        missed = _missed_quarterly(cert, today)
        if missed is not None:
            assignment, course, due, deadline = missed
            reason = msg("cert.quarterly-missed", course=both(course.title_zh, course.title_en),
                         due=due, deadline=deadline)
            cert.status, cert.status_reason = "lapsed", reason
            _log(cert, "lapsed", "active", None, reason, rule="quarterly-course",
                 evidence=[{"assignment": assignment.id, "course": course.slug, "deadline": deadline.isoformat()}])
            _tell_holder(cert, f"cert-lapsed:{cert.id}:{assignment.id}", msg("cert.lapsed", number=cert.number, reason=reason))
            report.lapsed += 1
            continue
        if cert.valid_until <= date.fromordinal(today.toordinal() + EXPIRY_WARNING_DAYS):
            _tell_holder(cert, f"cert-expiring:{cert.id}:{cert.valid_until.isoformat()}",
                         msg("cert.expiring", number=cert.number, day=cert.valid_until))
    db.session.commit()
    return report


def status_condition(wanted: set[str], today: date):
    """SQL for "the status as of today is one of ``wanted``" (``rules.effective_status`` as a
    condition on indexed columns: an active certificate past its date counts as expired)."""
    terms = []
    for status in wanted:
        if status == "active":
            terms.append((Certificate.status == "active") & (Certificate.valid_until >= today))
        elif status == "expired":
            terms.append((Certificate.status == "expired")
                         | ((Certificate.status == "active") & (Certificate.valid_until < today)))
        else:
            terms.append(Certificate.status == status)
    return or_(*terms) if terms else false()


def register_query(tier_id=None, status=None, region_id=None, province_id=None, outlet_id=None,
                   expiring_days: int | None = None, today: date | None = None):
    """The select behind the certificate register (its page, its count and its download):
    ``status`` is the status as of today, or several joined by commas; ``expiring_days``: active
    ones whose date falls within that many days. Everything is filtered in SQL."""
    today = today or date.today()
    query = select(Certificate).join(User, Certificate.user_id == User.id)
    if tier_id:
        query = query.where(Certificate.tier_id == tier_id)
    query = in_place(query, region_id, province_id, outlet_id)
    if status:
        query = query.where(status_condition(set(status.split(",")), today))
    if expiring_days:
        limit = date.fromordinal(today.toordinal() + expiring_days)
        query = query.where(status_condition({"active"}, today), Certificate.valid_until <= limit)
    return query.order_by(Certificate.valid_until, Certificate.id)


def certified_at(tier: Tier, today: date):
    """A select of the ids of users certified at ``tier`` today: holding a valid certificate at it
    or at any higher active tier (what ``records.dashboard.holders`` counts), for use in SQL."""
    return (select(Certificate.user_id).join(Tier, Certificate.tier_id == Tier.id)
            .where(Tier.level >= tier.level, Tier.active, status_condition({"active"}, today)))


def top_valid_level(today: date):
    """A subquery (``user_id``, ``level``): each user's highest active tier level at which they
    hold a valid certificate today. Certified at a tier ⇔ ``level`` ≥ the tier's level (what
    ``certified_at`` selects), so a list joins this once instead of one subquery per tier."""
    return (select(Certificate.user_id.label("user_id"), func.max(Tier.level).label("level"))
            .join(Tier, Certificate.tier_id == Tier.id)
            .where(Tier.active, status_condition({"active"}, today))
            .group_by(Certificate.user_id).subquery())


def with_holder(query):
    """Load each certificate's holder, their outlet, province and region and the tier in the same
    query (a page or a streamed download then costs one query, not one per row)."""
    return query.options(joinedload(Certificate.tier), joinedload(Certificate.user).lazyload(User.role_rows),
                         joinedload(Certificate.user).joinedload(User.outlet).joinedload(Outlet.province)
                         .joinedload(Province.region))


def register(tier_id=None, status=None, region_id=None, province_id=None, outlet_id=None,
             expiring_days: int | None = None, today: date | None = None) -> list[Certificate]:
    """The certificate register, filtered (``register_query``), as a list."""
    return list(db.session.scalars(register_query(tier_id, status, region_id, province_id, outlet_id,
                                                  expiring_days, today)))


def action_label(action: str) -> str:
    return {"issued": _("Issued"), "renewed": _("Renewed"), "suspended": _("Suspended"),
            "reinstated": _("Reinstated"), "revoked": _("Revoked"), "expired": _("Expired"),
            "lapsed": _("Lapsed")}.get(action, action)


def badge_certificate(user: User, today: date) -> Certificate | None:
    """The certificate a technician shows at the door: the highest tier that is valid today."""
    held = [c for c in db.session.scalars(select(Certificate).where(Certificate.user_id == user.id))
            if effective_status(c, today) == "active"]
    return max(held, key=lambda c: c.tier.level, default=None)


def paused_certificates(user: User, today: date) -> list[Certificate]:
    """The holder's certificates that are held but not valid today (suspended, lapsed or
    expired; not revoked), highest tier first: the holder is told why and what lifts each."""
    rows = db.session.scalars(select(Certificate).where(Certificate.user_id == user.id,
                                                        Certificate.status != "revoked"))
    return sorted((c for c in rows if effective_status(c, today) in ("suspended", "lapsed", "expired")),
                  key=lambda c: -c.tier.level)


def next_tier(user: User, today: date) -> Tier | None:
    """The lowest tier the technician holds no certificate at (a suspended, lapsed or expired one
    is still held: it is reinstated or renewed, not granted again)."""
    held = {c.tier_id for c in db.session.scalars(select(Certificate).where(
        Certificate.user_id == user.id, Certificate.status != "revoked"))}
    return next((t for t in active_tiers() if t.id not in held), None)


def register_summary(today: date) -> dict:
    """For the trainer's home page: valid certificates, those expiring within 30 days, and
    those suspended or lapsed (someone should act on them). One aggregate query; the same
    counts as ``register`` with the matching filter (``effective_status``: an active
    certificate past its date counts as expired)."""
    soon = date.fromordinal(today.toordinal() + 30)
    valid = and_(Certificate.status == "active", Certificate.valid_until >= today)
    active, expiring, attention = db.session.execute(select(
        func.coalesce(func.sum(case((valid, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(valid, Certificate.valid_until <= soon), 1), else_=0)), 0),
        func.coalesce(func.sum(case((Certificate.status.in_(("suspended", "lapsed")), 1), else_=0)), 0))).one()
    return {"active": int(active), "expiring": int(expiring), "attention": int(attention)}


def eligibility_board(tiers: list[Tier], today: date, only_eligible: bool = False) -> list:
    """[(technician, [(tier, certificate held or None, Eligibility or None), …]), …] for every
    active technician; with ``only_eligible``, those eligible for at least one tier."""
    rows = []
    for user in active_technicians():
        cells = []
        for tier in tiers:
            held = holding(user, tier)
            cells.append((tier, held, None if held else eligibility(user, tier, today)))
        if not only_eligible or any(check is not None and check.eligible for _t, _h, check in cells):
            rows.append((user, cells))
    return rows
