"""Managing a cohort after it is made: rename, move the start date, add trainers, add and remove
members (ticked, or everyone matching a filter of the technician list), archive and restore.

Who: the cohort's own trainers, and administrators (``may_manage``). Nobody decides about
themselves: the person acting is never added as a member, nor is one of the cohort's trainers,
and a member of the cohort is not made its trainer.

Every change is one transaction with its line in ``learning_cohort_event`` (a message id and
values, rendered in the reader's language). Nothing stored depends on the start date: the
programme's days are worked out from it on every read (``services.cohort_days``), so moving it
moves the schedule, the matrix and who is behind at once.
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import delete, exists, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload

from ..auth.models import User
from ..auth.services import TechnicianFilter, technicians_query
from ..dbtypes import utcnow
from ..extensions import db
from ..messages import msg
from .models import Cohort, CohortEvent, CohortMember, CohortTrainer
from .services import LearningError

MAX_TICKED = 500  # ids one form may carry (a page of the picker is at most this)
NAMES_LOGGED = 50  # usernames written into one log line; the count says the rest


def may_manage(user: User, cohort: Cohort) -> bool:
    """The cohort's own trainers and administrators; other trainers may only read it."""
    if user.has_role("admin"):
        return True
    return user.has_role("trainer") and db.session.scalar(select(func.count()).select_from(CohortTrainer).where(
        CohortTrainer.cohort_id == cohort.id, CohortTrainer.user_id == user.id)) > 0


def log(cohort: Cohort, actor: User | None, msg_id: str, **params) -> None:
    message = msg(msg_id, **params)
    db.session.add(CohortEvent(cohort_id=cohort.id, actor_id=actor.id if actor else None,
                               msg_id=message.id, params=message.params))


def events(cohort: Cohort, limit: int = 50) -> list[CohortEvent]:
    return list(db.session.scalars(select(CohortEvent).where(CohortEvent.cohort_id == cohort.id)
                                   .order_by(CohortEvent.id.desc()).limit(limit)))


def _open(cohort: Cohort) -> None:
    if cohort.archived_at is not None:
        raise LearningError(_("This cohort is archived: restore it to change it."))


def _names(usernames: list[str]) -> str:
    shown = ", ".join(usernames[:NAMES_LOGGED])
    return shown + (" …" if len(usernames) > NAMES_LOGGED else "")


# --- settings ----------------------------------------------------------------------------------


def update_settings(cohort: Cohort, name: str, start_date: date, actor: User) -> list[str]:
    """Rename and/or move the start date (one transaction, one log line per change); returns
    the message ids logged (empty: nothing changed)."""
    _open(cohort)
    name = (name or "").strip()[:120]
    if not name:
        raise LearningError(_("Give the cohort a name."))
    changed = []
    if name != cohort.name:
        log(cohort, actor, "cohort.renamed", old=cohort.name, new=name)
        cohort.name = name
        changed.append("cohort.renamed")
    if start_date != cohort.start_date:
        log(cohort, actor, "cohort.start-moved", old=cohort.start_date, new=start_date)
        cohort.start_date = start_date
        changed.append("cohort.start-moved")
    db.session.commit()
    return changed


def add_trainer(cohort: Cohort, trainer: User, actor: User) -> None:
    _open(cohort)
    if not trainer.active or not trainer.has_role("trainer"):
        raise LearningError(_("Trainers must have the trainer role."))
    if db.session.get(CohortMember, (cohort.id, trainer.id)) is not None:
        raise LearningError(_("%(name)s is a member of this cohort and cannot be its trainer.",
                              name=trainer.display_name))
    if db.session.get(CohortTrainer, (cohort.id, trainer.id)) is not None:
        raise LearningError(_("%(name)s already trains this cohort.", name=trainer.display_name))
    db.session.add(CohortTrainer(cohort_id=cohort.id, user_id=trainer.id))
    log(cohort, actor, "cohort.trainer-added", name=f"{trainer.display_name} ({trainer.username})")
    try:
        db.session.commit()
    except IntegrityError:  # added by someone else meanwhile
        db.session.rollback()
        raise LearningError(_("%(name)s already trains this cohort.", name=trainer.display_name))
    db.session.expire(cohort, ["trainers"])


def set_archived(cohort: Cohort, archived: bool, actor: User) -> None:
    if (cohort.archived_at is not None) == archived:
        return
    cohort.archived_at = utcnow() if archived else None
    log(cohort, actor, "cohort.archived" if archived else "cohort.restored")
    db.session.commit()


# --- members -----------------------------------------------------------------------------------


def in_other_cohort(cohort: Cohort):
    return exists().where(CohortMember.user_id == User.id, CohortMember.cohort_id != cohort.id)


def _addable(cohort: Cohort, actor: User):
    """Active technicians not in any cohort, not the cohort's trainers, not the person acting."""
    return (technicians_query()
            .where(~exists().where(CohortMember.user_id == User.id),
                   ~exists().where(CohortTrainer.user_id == User.id, CohortTrainer.cohort_id == cohort.id),
                   User.id != actor.id))


def candidates(cohort: Cohort, found: TechnicianFilter):
    """The picker's list: active technicians matching the filter with the cohort they are in now
    (None: in none), by username. A select to page (LIMIT/OFFSET)."""
    return (found.apply(technicians_query())
            .outerjoin(CohortMember, CohortMember.user_id == User.id)
            .outerjoin(Cohort, Cohort.id == CohortMember.cohort_id)
            .add_columns(Cohort.id, Cohort.name)
            .options(joinedload(User.outlet), lazyload(User.role_rows))
            .order_by(User.username))


def _size(cohort: Cohort) -> int:
    return db.session.scalar(select(func.count()).select_from(CohortMember).where(
        CohortMember.cohort_id == cohort.id)) or 0


def _insert_from(cohort: Cohort, query) -> int:
    """INSERT INTO learning_cohort_member SELECT … — the database copies the ids, nothing is
    loaded here; returns how many were added (the cohort's size before and after, in the same
    transaction: the driver's row count of an INSERT … SELECT is not reliable on every backend).
    Two trainers adding the same person at once: one wins, the other is told."""
    ids = query.with_only_columns(literal(cohort.id), User.id)
    before = _size(cohort)
    try:
        db.session.execute(insert(CohortMember.__table__).from_select(["cohort_id", "user_id"], ids))
    except IntegrityError:
        db.session.rollback()
        raise LearningError(_("One of these technicians was just put in another cohort: check and try again."))
    return _size(cohort) - before


def add_ticked(cohort: Cohort, user_ids: list[int], actor: User) -> tuple[int, int]:
    """Add the ticked technicians; returns (added, skipped: in a cohort already, not a technician,
    the person acting or a trainer of this cohort)."""
    _open(cohort)
    user_ids = sorted(set(user_ids))[:MAX_TICKED]
    if not user_ids:
        raise LearningError(_("Tick at least one technician."))
    chosen = _addable(cohort, actor).where(User.id.in_(user_ids))
    usernames = list(db.session.scalars(chosen.with_only_columns(User.username).order_by(User.username)))
    added = _insert_from(cohort, chosen)
    if added:
        log(cohort, actor, "cohort.members-added", count=added, names=_names(usernames))
    db.session.commit()
    db.session.expire(cohort, ["members"])
    return added, len(user_ids) - added


def add_matching(cohort: Cohort, found: TechnicianFilter, actor: User) -> tuple[int, int]:
    """Add everyone the filter matches who can be added, in one INSERT … SELECT (constant memory
    whatever the number); again with the same filter adds nobody twice. Returns (added, skipped
    because they are in another cohort)."""
    _open(cohort)
    if not found:
        raise LearningError(_("Set a filter first: adding every technician of the network at once is not offered."))
    skipped = db.session.scalar(found.apply(technicians_query()).where(in_other_cohort(cohort))
                                .with_only_columns(func.count())) or 0
    added = _insert_from(cohort, found.apply(_addable(cohort, actor)))
    if added:
        log(cohort, actor, "cohort.members-added-filter", count=added,
            filter="; ".join(f"{k}={v}" for k, v in found.args().items()))
    db.session.commit()
    db.session.expire(cohort, ["members"])
    return added, skipped


def members_query(cohort: Cohort, found: TechnicianFilter):
    """The cohort's members matching the filter, by username (a select to page)."""
    return found.apply(select(User).join(CohortMember, CohortMember.user_id == User.id)
                       .where(CohortMember.cohort_id == cohort.id)).order_by(User.username).options(
        joinedload(User.outlet), lazyload(User.role_rows))


def remove(cohort: Cohort, user_ids: list[int], actor: User) -> int:
    """Take the ticked members out (their progress and sign-offs stay on their record)."""
    _open(cohort)
    user_ids = sorted(set(user_ids))[:MAX_TICKED]
    if not user_ids:
        raise LearningError(_("Tick at least one member."))
    where = (CohortMember.cohort_id == cohort.id, CohortMember.user_id.in_(user_ids))
    usernames = list(db.session.scalars(select(User.username).join(CohortMember, CohortMember.user_id == User.id)
                                        .where(*where).order_by(User.username)))
    removed = db.session.execute(delete(CohortMember).where(*where)).rowcount or 0
    if removed:
        log(cohort, actor, "cohort.members-removed", count=removed, names=_names(usernames))
    db.session.commit()
    db.session.expire(cohort, ["members"])
    return removed
