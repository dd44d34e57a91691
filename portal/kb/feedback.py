""""Did this fix it?": one current answer per technician and case, every answer kept.

A technician who answers again changes their answer; they are not counted twice. The
database holds it (a unique current answer per user and case) and the answer is written
with one atomic upsert, so concurrent clicks cannot add a second row. Fix rates are
computed from the current answers; comments are read from every answer given.
"""

from __future__ import annotations

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..dbtypes import utcnow
from ..extensions import db
from .models import Case, CaseFeedback, CaseFeedbackAnswer

MAX_COMMENT = 1000


def answer(case: Case, user, fixed: bool, comment: str = "") -> None:
    """Record the user's answer on the case: it replaces their previous one; history keeps both."""
    now = utcnow()
    comment = (comment or "").strip()[:MAX_COMMENT]
    db.session.add(CaseFeedbackAnswer(case_id=case.id, user_id=user.id, fixed=bool(fixed),
                                      comment=comment, created_at=now))
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CaseFeedback).values(case_id=case.id, user_id=user.id, fixed=bool(fixed),
                                       comment=comment, created_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CaseFeedback.case_id, CaseFeedback.user_id],
        set_={"fixed": stmt.excluded.fixed, "comment": stmt.excluded.comment,
              "created_at": stmt.excluded.created_at})
    db.session.execute(stmt)
    db.session.commit()


def current_answer(case: Case, user) -> CaseFeedback | None:
    return db.session.scalar(select(CaseFeedback).where(CaseFeedback.case_id == case.id,
                                                        CaseFeedback.user_id == user.id))


def stats(case_id: int) -> dict:
    """Fix rate over the technicians' current answers; the latest comments of any answer."""
    yes, total = db.session.execute(
        select(func.sum(sql_case((CaseFeedback.fixed.is_(True), 1), else_=0)), func.count())
        .where(CaseFeedback.case_id == case_id)).one()
    comments = db.session.scalars(
        select(CaseFeedbackAnswer)
        .where(CaseFeedbackAnswer.case_id == case_id, CaseFeedbackAnswer.comment != "")
        .order_by(CaseFeedbackAnswer.created_at.desc(), CaseFeedbackAnswer.id.desc()).limit(20)).all()
    return {"yes": yes or 0, "total": total or 0,
            "rate": (yes or 0) / total if total else None, "comments": comments}


def lowest_fix_rates(limit: int = 300) -> list:
    """(case, technicians who answered, of whom fixed), lowest fix rate first."""
    yes = func.sum(sql_case((CaseFeedback.fixed.is_(True), 1), else_=0))
    total = func.count(CaseFeedback.id)
    return db.session.execute(
        select(Case, total.label("total"), yes.label("yes"))
        .join(CaseFeedback, CaseFeedback.case_id == Case.id)
        .group_by(Case.id)
        .order_by((yes * 1.0 / total).asc(), total.desc(), Case.id)
        .limit(limit)).all()
