"""Pages of technicians' voice: sending (technicians), one's named messages and a receipt
look-up for anonymous ones, the trainers' inbox, a message, its answers, the CSV export.

Nothing here logs a request or raises a notification on a send; the answer to a named
message notifies its sender (message id + values)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.models import User
from ..csvexport import columns, place, streamed, table_response, yes_no
from ..extensions import db
from ..inputs import MAX_PAGE, int_arg
from ..paging import Page, count, page_size, rows_page
from ..security import roles_required
from . import services as svc
from .forms import AnswerForm, ReceiptForm, UpdateForm, VoiceForm
from .models import VoiceMessage

bp = Blueprint("voice", __name__, url_prefix="/voice")

TRAINERS = ("trainer", "admin")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{16,32}")
FILTERS = ("kind", "theme", "status", "period", "region", "province", "outlet")
DEFAULT_PERIOD = "365"


def now() -> datetime:
    return datetime.now(timezone.utc)


def _me() -> User:
    return current_user._get_current_object()


def _message_or_404(public_id: str) -> VoiceMessage:
    message = db.session.get(VoiceMessage, public_id) if PUBLIC_ID.fullmatch(public_id) else None
    if not svc.visible_to(message, _me()):
        abort(404)
    return message


def _labels() -> dict:
    return {"kinds": svc.kind_labels(), "themes": svc.theme_labels(), "statuses": svc.status_labels()}


# --- technicians ---------------------------------------------------------------------------------


@bp.route("/")
@roles_required("technician")
def mine():
    query = svc.mine(_me())
    page = rows_page(svc.with_answer_counts(query), count(query))  # rows of (message, answers)
    return render_template("voice/mine.html", page=page, **_labels())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("technician")
def new():
    me = _me()
    form = VoiceForm()
    shown = svc.anonymous_place(me)[0]  # what an anonymous message would show of the sender's place
    if form.validate_on_submit():
        wait = svc.send_wait(me)
        if wait is not None:
            flash(_("You have sent several messages in a short time: please wait %(minutes)d minutes and send "
                    "it again. Your text is still here.", minutes=max(1, -(-wait // 60))), "error")
            return render_template("voice/new.html", form=form, shown=shown, me=me), 429
        _message, receipt = svc.send(me, form.kind.data, form.theme.data, form.text.data,
                                     form.identity.data == "named", now())
        if receipt:
            flash(_("Sent anonymously. Your receipt code is %(code)s: write it down, it is shown only now. With it "
                    "you can read a trainer's answer under “Read an answer”.", code=receipt), "success")
        else:
            flash(_("Sent with your name. A trainer's answer will appear here and behind the bell."), "success")
        return redirect(url_for("voice.mine"))
    if form.errors:
        flash(_("The message was not sent: please correct the marked fields. Your text is kept."), "error")
    return render_template("voice/new.html", form=form, shown=shown, me=me), 400 if form.errors else 200


@bp.route("/receipt", methods=["GET", "POST"])
@roles_required("technician")
def receipt():
    """The code is sent by POST, so that it appears in no URL, history or log."""
    form = ReceiptForm()
    message = None
    if form.validate_on_submit():
        message = svc.by_receipt(form.code.data)
        if message is None:
            form.code.errors = [_("No message has this receipt code. Check it and try again.")]
    return render_template("voice/receipt.html", form=form, message=message, **_labels())


# --- trainers ------------------------------------------------------------------------------------


def _filters() -> dict:
    """The inbox's filters; the period is the last 365 days unless chosen ("all": every message),
    so the groups' counts cover a year however long the channel has run."""
    filters = {key: (request.args.get(key) or "").strip()[:40] for key in FILTERS}
    if "period" not in request.args:
        filters["period"] = DEFAULT_PERIOD
    return filters


def _link(filters: dict, **changes) -> str:
    values = {k: v for k, v in {**filters, **changes}.items() if v and not (k == "period" and v == DEFAULT_PERIOD)}
    return url_for("voice.inbox", **values)


@bp.route("/inbox")
@roles_required(*TRAINERS)
def inbox():
    filters = _filters()
    today = svc.local_day(now())
    query = svc.filtered(filters, today)
    page = rows_page(svc.ordered(query), count(query))
    page.items = [row[0] for row in page.items]
    themes = svc.theme_counts(svc.filtered({**filters, "theme": ""}, today))
    by_place = svc.filtered({**filters, "region": "", "province": "", "outlet": ""}, today)
    provinces = svc.province_counts(by_place)
    places_query = svc.place_counts(by_place)
    group_page_number = int_arg("gpage", 1, 1, MAX_PAGE)
    per = page_size()
    places = Page(group_page_number, per, count(places_query),
                  list(db.session.execute(places_query.limit(per).offset((group_page_number - 1) * per))))
    return render_template("voice/inbox.html", page=page, filters=filters, themes_count=themes, provinces=provinces,
                           places=places, link=lambda **c: _link(filters, **c), periods=svc.PERIODS, **_labels())


@bp.route("/inbox/export.csv")
@roles_required(*TRAINERS)
def export():
    """The filtered list, every row (streamed). A named message's sender is in it; an anonymous
    one has nothing to put there. The answers are counted in the same query, not loaded per row."""
    filters = _filters()
    query = svc.with_answer_counts(svc.ordered(svc.filtered(filters, svc.local_day(now()))))
    header = columns("message", "sent_on", "kind", "theme", "theme_sent", "status", "status_name", "named",
                     "username", "name", "region", "region_name", "province", "province_name", "outlet",
                     "outlet_name", "text", "answers")

    def rows():
        labels = _labels()
        for m, answers in streamed(query, scalars=False):
            sender = m.sender if m.named else None
            yield [m.id, m.sent_on.isoformat(), str(labels["kinds"][m.kind]), str(labels["themes"][m.shown_theme]),
                   str(labels["themes"][m.theme]), m.status, str(labels["statuses"][m.status]), yes_no(m.named),
                   sender.username if sender else "", sender.name if sender else "",
                   *place(m.region), *place(m.province), *place(m.outlet), m.text, answers]

    return table_response(header, rows(), "voice", "csv", lazy=True)


def _page(message: VoiceMessage, answer_form=None, status: int = 200):
    me = _me()
    update_form = UpdateForm(formdata=None, status=message.status, theme_tag=message.theme_tag or "")
    return render_template("voice/message.html", message=message, trainer=me.has_role(*TRAINERS),
                           own=message.named and message.sender_id == me.id, answer_form=answer_form or AnswerForm(),
                           update_form=update_form, **_labels()), status


@bp.route("/<public_id>")
@roles_required("technician", *TRAINERS)
def message(public_id: str):
    return _page(_message_or_404(public_id))


@bp.route("/<public_id>/answer", methods=["POST"])
@roles_required(*TRAINERS)
def answer(public_id: str):
    message = _message_or_404(public_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        flash(_("The answer was not sent: please correct it. Your text is kept."), "error")
        return _page(message, form, 400)
    try:
        svc.answer(message, _me(), form.text.data, now(), url_for("voice.message", public_id=message.id))
    except svc.VoiceError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(message, form, 403)
    flash(_("Answer sent."), "success")
    return redirect(url_for("voice.message", public_id=message.id))


@bp.route("/<public_id>/update", methods=["POST"])
@roles_required(*TRAINERS)
def update(public_id: str):
    message = _message_or_404(public_id)
    form = UpdateForm()
    if not form.validate_on_submit():
        flash(_("Choose a status and a theme from the lists."), "error")
        return redirect(url_for("voice.message", public_id=message.id))
    try:
        svc.update(message, _me(), form.status.data, form.theme_tag.data)
    except svc.VoiceError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(message, status=403)
    flash(_("Saved."), "success")
    return redirect(url_for("voice.message", public_id=message.id))
