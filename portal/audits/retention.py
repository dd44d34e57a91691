"""Abandoned audit drafts (run by ``flask daily``; how: portal/retention.py).

A draft its auditor deletes goes at once, with its photos (services.delete_draft). A draft
nobody touched for ``AUDIT_DRAFT_DAYS`` days — no answer, comment, header change or photo — is
abandoned: it goes the same way, row, answers and photo files. A submitted report is never
touched, whatever its age.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import delete, exists, select

from ..extensions import db
from ..retention import days_ago, remove_files
from .models import Audit, AuditPhoto
from .services import photo_folder


def abandoned(since: datetime) -> list:
    """The conditions of a draft untouched since ``since``."""
    recent_photo = exists().where(AuditPhoto.audit_id == Audit.id, AuditPhoto.created_at >= since)
    return [Audit.status == "draft", Audit.updated_at < since, ~recent_photo]


def prune_drafts(now: datetime | None = None) -> tuple[int, int]:
    """(drafts removed, photo files of them that were still there). In batches, each committed
    on its own; the DELETE checks the conditions again, so a draft submitted or changed since it
    was picked stays, and only the files of the drafts actually removed go."""
    where = abandoned(days_ago(current_app.config["AUDIT_DRAFT_DAYS"], now))
    batch = current_app.config["RETENTION_BATCH"]
    folder = photo_folder()
    drafts = files = 0
    while True:
        ids = db.session.scalars(select(Audit.id).where(*where).order_by(Audit.id).limit(batch)).all()
        if not ids:
            break
        photos = db.session.execute(select(AuditPhoto.audit_id, AuditPhoto.name)
                                    .where(AuditPhoto.audit_id.in_(ids))).all()
        removed = set(db.session.scalars(
            delete(Audit).where(Audit.id.in_(ids), *where).returning(Audit.id)
            .execution_options(synchronize_session=False)).all())
        # The foreign key cascades; said here too, for a database that does not enforce it.
        db.session.execute(delete(AuditPhoto).where(AuditPhoto.audit_id.in_(removed))
                           .execution_options(synchronize_session=False))
        db.session.commit()
        if not removed:
            break
        drafts += len(removed)
        files += remove_files(folder, (name for audit_id, name in photos if audit_id in removed))
    return drafts, files
