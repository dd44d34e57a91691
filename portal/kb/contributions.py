"""Field contributions (信息增值): technicians propose, trainers review and publish.

Submitting checks everything (fields and every photo) before anything is written;
approving publishes the case (new, or a new version of the existing one), credits
the contributor and attaches the photos, all in one transaction.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from ..auth.models import User, UserRole

from ..dbtypes import utcnow
from ..extensions import db
from ..messages import msg
from ..notifications import enqueue_many, notify, notify_many
from ..security import refuse_self
from .models import Case, Contribution
from .photos import PhotoError, clean_image, photo_path, save_photo
from .services import after_commit, case_problems, create_case, credit, new_key, update_case

MAX_PHOTOS = 4


class ContributionError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(m for _f, m in problems))
        self.problems = problems


def _refuse_own(contribution: Contribution, reviewer) -> None:
    refuse_self(reviewer, contribution.author_id, lambda message: ContributionError([("status", message)]))


def _check(data: dict, photos: list[bytes]) -> None:
    problems = case_problems(data)
    if len(photos) > MAX_PHOTOS:
        problems.append(("photos", _("At most %(n)d photos.", n=MAX_PHOTOS)))
    for number, blob in enumerate(photos, start=1):
        try:
            clean_image(blob)
        except PhotoError as exc:
            problems.append(("photos", _("Photo %(n)d: %(error)s", n=number, error=str(exc))))
    if problems:
        raise ContributionError(problems)


def _store(contribution: Contribution, photos: list[bytes], author) -> None:
    written = []
    try:
        for blob in photos:
            written.append(save_photo(blob, author, contribution))
        db.session.commit()
    except Exception:
        db.session.rollback()
        for photo in written:  # nothing half-written: no orphan files either
            photo_path(photo).unlink(missing_ok=True)
        raise


def submit_new(author, data: dict, note: str = "", photos: list[bytes] = ()) -> Contribution:
    photos = list(photos)
    _check(data, photos)
    contribution = Contribution(kind="new", author_id=author.id, data=data, note=note or "")
    db.session.add(contribution)
    _tell_reviewers(contribution, author)
    _store(contribution, photos, author)
    return contribution


def submit_edit(author, case: Case, data: dict, note: str = "", photos: list[bytes] = ()) -> Contribution:
    photos = list(photos)
    data = {**data, "key": case.key, "lang": case.lang}
    _check(data, photos)
    contribution = Contribution(kind="edit", case_id=case.id, base_version=case.version,
                                author_id=author.id, data=data, note=note or "")
    db.session.add(contribution)
    _tell_reviewers(contribution, author)
    _store(contribution, photos, author)
    return contribution


def reviewers(author):
    """Who reviews contributions (the review pages take the trainer role): every active trainer
    but the author — nobody reviews their own. A select of user ids."""
    return (select(User.id).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "trainer", User.active, User.id != author.id))


def _tell_reviewers(contribution: Contribution, author) -> None:
    """A bell notification (and an e-mail, when the portal sends e-mail) to each reviewer, in the
    submitting transaction: rolled back with it if storing the photos fails."""
    db.session.flush()  # the contribution's id
    key = f"contribution:{contribution.id}:waiting"
    text = msg("kb.contribution-waiting", title=str((contribution.data or {}).get("title") or ""),
               name=author.display_name)
    link = f"/cases/review/{contribution.id}"
    notify_many(reviewers(author), "contribution-waiting", key, text, link)
    enqueue_many(reviewers(author), key, text, link)


def approve(contribution: Contribution, reviewer, data: dict | None = None) -> Case:
    """Publish a pending contribution, with the reviewer's edits if any (never one's own)."""
    _refuse_own(contribution, reviewer)
    if contribution.status != "pending":
        raise ContributionError([("status", _("This contribution was already reviewed."))])
    data = dict(data or contribution.data)
    problems = case_problems(data)
    if problems:
        raise ContributionError(problems)
    author = contribution.author
    note = _("Contribution #%(id)d by %(name)s", id=contribution.id, name=author.display_name)
    if contribution.kind == "new":
        if not data.get("key"):  # the address of the case and the key its translation shares
            data["key"] = new_key(data, contribution.id)
        case = create_case(data, author=reviewer, source="review", note=note, origin="field")
    else:
        case = contribution.case
        if case is None:
            raise ContributionError([("case", _("The case no longer exists."))])
        data = {**data, "key": case.key, "lang": case.lang}
        update_case(case, data, author=reviewer, source="review", note=note)
    db.session.flush()
    credit(case, author)
    for photo in contribution.photos:
        photo.case_id = case.id
    contribution.data = data
    contribution.case_id = case.id
    contribution.status = "approved"
    contribution.reviewer_id = reviewer.id
    contribution.reviewed_at = utcnow()
    _tell_author(contribution, case.title)
    db.session.commit()
    after_commit()
    return case


def _tell_author(contribution: Contribution, title: str) -> None:
    if contribution.status == "approved":
        text = msg("kb.contribution-accepted", title=title)
    else:
        text = msg("kb.contribution-rejected", title=title)
    notify(contribution.author_id, f"contribution-{contribution.status}",
           f"contribution:{contribution.id}:{contribution.status}", text, "/cases/mine")


def reject(contribution: Contribution, reviewer, reason: str) -> None:
    _refuse_own(contribution, reviewer)
    if contribution.status != "pending":
        raise ContributionError([("status", _("This contribution was already reviewed."))])
    if not (reason or "").strip():
        raise ContributionError([("reason", _("Say why, so the contributor can learn from it."))])
    contribution.status = "rejected"
    contribution.reason = reason.strip()
    contribution.reviewer_id = reviewer.id
    contribution.reviewed_at = utcnow()
    _tell_author(contribution, str((contribution.data or {}).get("title") or ""))
    db.session.commit()


def pending() -> list[Contribution]:
    return list(db.session.scalars(
        select(Contribution).where(Contribution.status == "pending").order_by(Contribution.created_at)))


def mine(user) -> list[Contribution]:
    return list(db.session.scalars(
        select(Contribution).where(Contribution.author_id == user.id)
        .order_by(Contribution.created_at.desc())))
