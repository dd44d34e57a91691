"""E-mail beside the bell: an outbox filled in the caller's transaction, sent by a worker.

Nothing is sent while a request is answered. Raising a notification that should also be
e-mailed (:func:`enqueue_many`) adds one ``mail_outbox`` row per recipient with an e-mail
address, in the same transaction as the notifications (rolled back with them), and only when
an SMTP server is configured (``MAIL_SERVER``). ``flask --app portal mail send`` drains it
(``--loop`` keeps doing so): it **claims** a batch of unsent rows in one statement (on
PostgreSQL the candidate rows are locked ``FOR UPDATE SKIP LOCKED``, so two workers never claim
one row; SQLite has a single writer), commits the claim, sends each message and marks it
``sent_at`` (only while the claim is still its own). A worker that dies between sending and
marking leaves a claim that expires after ``MAIL_CLAIM_SECONDS``, and the row is sent again:
at least once, never twice by two live workers. A failed send is released for the next round
and given up after ``MAIL_MAX_ATTEMPTS`` (the error is kept on the row).

Each message is rendered when it is sent, in the recipient's language (their ``locale``, else
the portal's default), from the same message id and values as the notification.
"""

from __future__ import annotations

import secrets
import smtplib
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, exists, func, insert, literal, or_, \
    select, update
from sqlalchemy.orm import Mapped, mapped_column

from ..auth.models import User
from ..cliutil import fail, needs_schema
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..links import site_base
from ..messages import Message, render, split
from .models import recipients

SUBJECT = _l("Service portal: %(what)s")


class MailOutbox(db.Model):
    __tablename__ = "mail_outbox"
    # The same event is e-mailed to one person once, as it notifies them once.
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    msg_id: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text, default="")  # plain text when there is no msg_id
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    error: Mapped[str] = mapped_column(String(300), default="")


def mail_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def enqueue_many(user_ids, key: str, text: Message | str, link: str = "") -> int:
    """An e-mail to each user the select names (first column: user ids) who is active and has an
    e-mail address, unless they already have one for ``key``; ``INSERT … SELECT``, no commit.
    Nothing when no SMTP server is configured. Returns how many were queued."""
    if not mail_configured():
        return 0
    plain, msg_id, params = split(text)
    ids = recipients(user_ids)
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")
    locale = func.coalesce(func.nullif(User.locale, ""), literal(default, String))
    already = exists().where(MailOutbox.user_id == User.id, MailOutbox.key == key[:120])
    rows = (select(User.id, literal(key[:120], String), User.email, locale, literal(msg_id, String),
                   literal(params, JSON), literal(plain, Text), literal(link[:300], String),
                   literal(utcnow(), UTCDateTime), literal(0), literal(""))
            .join(ids, ids.c.user_id == User.id)
            .where(User.active, User.email.is_not(None), User.email != "", ~already))
    result = db.session.execute(insert(MailOutbox.__table__).from_select(
        ["user_id", "key", "address", "locale", "msg_id", "params", "text", "link", "created_at", "attempts",
         "error"], rows))
    if result.rowcount is not None and result.rowcount >= 0:
        return result.rowcount
    # psycopg 3 reports no row count here: count the key's rows (exact for a new key).
    return db.session.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.key == key[:120])) or 0


# --- sending -------------------------------------------------------------------------------------


def claim_batch(size: int) -> str | None:
    """Claim up to ``size`` unsent rows (free, or claimed longer ago than the claim lasts) for
    this worker and commit the claim. Returns the claim token, or None when there was nothing."""
    config = current_app.config
    now = utcnow()
    expired = now - timedelta(seconds=config.get("MAIL_CLAIM_SECONDS", 600))
    candidates = (select(MailOutbox.id)
                  .where(MailOutbox.sent_at.is_(None), MailOutbox.attempts < config.get("MAIL_MAX_ATTEMPTS", 5),
                         or_(MailOutbox.claimed_at.is_(None), MailOutbox.claimed_at < expired))
                  .order_by(MailOutbox.id).limit(size))
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    token = secrets.token_hex(16)
    result = db.session.execute(update(MailOutbox).where(MailOutbox.id.in_(candidates))
                                .values(claim=token, claimed_at=now, attempts=MailOutbox.attempts + 1)
                                .execution_options(synchronize_session=False))
    db.session.commit()
    return token if result.rowcount != 0 else None  # -1: a driver that does not say


def compose(row: MailOutbox) -> EmailMessage:
    """The message in the recipient's language."""
    with force_locale(row.locale):
        body = render(row.msg_id, row.params, row.locale, text=row.text)
        subject = str(SUBJECT % {"what": _first_line(body)})
        closing = _("Open the portal: %(url)s", url=site_base() + row.link) if row.link else ""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = current_app.config.get("MAIL_DEFAULT_SENDER") or "portal@localhost"
    message["To"] = row.address
    message["Message-ID"] = make_msgid(domain="portal")
    message.set_content(body + ("\n\n" + closing if closing else "") + "\n")
    return message


def _first_line(text: str, limit: int = 60) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _connect() -> smtplib.SMTP:
    config = current_app.config
    host, port = config["MAIL_SERVER"], config.get("MAIL_PORT") or 25
    timeout = config.get("MAIL_TIMEOUT", 30)
    smtp = (smtplib.SMTP_SSL(host, port, timeout=timeout) if config.get("MAIL_USE_SSL")
            else smtplib.SMTP(host, port, timeout=timeout))
    if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
        smtp.starttls()
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return smtp


def send_pending(batch: int = 100) -> tuple[int, int]:
    """Claim and send batches until none is left: (sent, failed)."""
    sent = failed = 0
    while (token := claim_batch(batch)) is not None:
        rows = db.session.scalars(select(MailOutbox).where(MailOutbox.claim == token).order_by(MailOutbox.id)).all()
        if not rows:
            break
        smtp = None
        failed_before = failed
        try:
            for row in rows:
                try:
                    smtp = smtp or _connect()
                    smtp.send_message(compose(row))
                except (OSError, smtplib.SMTPException) as error:
                    failed += 1
                    _release(row.id, token, str(error) or error.__class__.__name__)
                    if smtp is not None and not isinstance(error, smtplib.SMTPRecipientsRefused):
                        _quit(smtp)
                        smtp = None
                    continue
                # Marked only while the claim is still ours (a row sent is never sent again by us).
                db.session.execute(update(MailOutbox).where(MailOutbox.id == row.id, MailOutbox.claim == token)
                                   .values(sent_at=utcnow(), error="")
                                   .execution_options(synchronize_session=False))
                db.session.commit()
                sent += 1
        finally:
            if smtp is not None:
                _quit(smtp)
        if rows and failed - failed_before == len(rows):
            break  # the server refuses everything: try again on the next run, not in a tight loop
    return sent, failed


def _release(row_id: int, token: str, error: str) -> None:
    db.session.rollback()
    db.session.execute(update(MailOutbox).where(MailOutbox.id == row_id, MailOutbox.claim == token)
                       .values(claim=None, claimed_at=None, error=error[:300])
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _quit(smtp) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def waiting() -> int:
    return db.session.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.sent_at.is_(None))) or 0


mail_cli = AppGroup("mail", help="Send the e-mails waiting in the outbox.")


@mail_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running: send, wait, send again.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds with --loop.")
@click.option("--batch", default=100, show_default=True, help="Messages claimed at a time.")
@needs_schema
def send_command(loop, interval, batch):
    """Send the waiting e-mails (at least once each; several workers may run)."""
    if not mail_configured():
        fail(_("No SMTP server is configured: set PORTAL_MAIL_SERVER."))
    while True:
        sent, failed = send_pending(batch)
        if sent or failed or not loop:
            click.echo(_("sent %(sent)d, failed %(failed)d, waiting %(waiting)d",
                         sent=sent, failed=failed, waiting=waiting()))
        if not loop:
            return
        db.session.remove()
        time.sleep(interval)
