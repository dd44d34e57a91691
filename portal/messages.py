"""System messages stored as an id and values, shown in the reader's language.

A sentence the portal writes down for later (a notification, why a certificate was suspended or
lapsed, why a lesson was assigned, what an audit caused) is stored as ``msg_id`` + ``params``
(JSON), never as a finished string: the reader's page renders it with their catalogue, their
date format and PORTAL_TIMEZONE. Infrastructure: no domain imports.

Values in ``params`` (made by :func:`msg` from plain Python values):

* ``{"date": "2026-12-04"}`` / ``{"datetime": "…+00:00"}``: formatted at render time;
* ``{"zh": "…", "en": "…"}``: a referenced thing (course or lesson title, audit item or section,
  tier) in both languages, as it read when the event happened. Stored as values rather than
  ids because the record is history: templates are versioned and titles get edited or retired,
  and the sentence should say what the person was told then; it also keeps rendering free of
  database look-ups (and of imports from the domain);
* ``{"msg": id, "params": {…}}``: a nested message (a suspension notice quoting its reason);
* a list of any of these (joined with the language's list separator); numbers; plain text
  (names, certificate numbers, what a trainer typed).

An empty ``msg_id`` means plain text, shown as stored: what a person wrote, and legacy rows
whose text the migration could not take apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import force_locale, format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import validates

MESSAGES = {
    # certificates
    "cert.suspended": _l("Your certificate %(number)s is suspended: %(reason)s"),
    "cert.lapsed": _l("Your certificate %(number)s has lapsed: %(reason)s"),
    "cert.expiring": _l("Your certificate %(number)s expires on %(day)s: renew it in time"),
    "cert.validity-passed": _l("The validity date %(day)s passed."),
    "cert.passed-while-paused": _l("The validity date passed while it was paused."),
    "cert.quarterly-missed": _l("The quarterly course %(course)s was due %(due)s and not completed by the end of "
                                "the grace period (%(deadline)s)."),
    # audits
    "audit.acknowledge": _l("Audit report #%(n)d: please read and acknowledge"),
    "audit.red-line": _l("Audit report #%(n)d, red-line failure: %(items)s"),
    "audit.red-line-of": _l("%(name)s: audit report #%(n)d, red-line failure: %(items)s"),
    "audit.weak-section": _l("Audit report #%(n)d: %(section)s scored %(score)s%% (below %(threshold)s%%)"),
    "audit.visit-assigned": _l("A planned visit is yours: %(name)s, %(outlet)s, due %(day)s"),
    "audit.draw-assigned": _l("%(period)s draw: %(n)d planned visits for you, due %(day)s"),
    "audit.draw-unassigned": _l("%(period)s draw of %(programme)s: %(n)d planned visits have no auditor: assign them"),
    "audit.visit-unassigned": _l("Nobody can take the planned visit to %(name)s, %(outlet)s (due %(day)s): "
                                 "assign it"),
    # learning
    "learning.targeted": _l("New lesson for you: %(title)s, due %(day)s"),
    "learning.behind": _l("%(name)s is behind schedule in %(cohort)s"),
    # quizzes edited in the browser (assessment.quizedit)
    "assessment.quiz-created": _l("%(name)s created the quiz %(quiz)s"),
    "assessment.quiz-edited": _l("%(name)s changed %(fields)s of the quiz %(quiz)s"),
    "assessment.quiz-field.title": _l("the title"),
    "assessment.quiz-field.time_limit_minutes": _l("the time limit"),
    "assessment.quiz-field.pass_mark": _l("the pass mark"),
    "assessment.quiz-field.attempts": _l("the attempts allowed"),
    "assessment.quiz-field.cooldown_hours": _l("the time between attempts"),
    "assessment.quiz-field.review": _l("what the review shows"),
    "assessment.quiz-field.shuffle": _l("shuffling"),
    "assessment.quiz-field.sections": _l("the sections"),
    # question bank
    "bank.question-created": _l("Question %(question)s created in the browser (version %(version)d)"),
    "bank.question-edited": _l("Question %(question)s edited in the browser: version %(version)d"),
    "bank.regraded": _l("Attempt #%(attempt)d regraded on version %(version)d of %(question)s: "
                        "%(old)s%% → %(new)s%% (%(old_passed)s → %(new_passed)s)"),
    "cohort.renamed": _l("Renamed from %(old)s to %(new)s"),
    "cohort.start-moved": _l("Start date moved from %(old)s to %(new)s: the schedule follows"),
    "cohort.members-added": _l("Members added (%(count)s): %(names)s"),
    "cohort.members-added-filter": _l("Everyone matching a filter added (%(count)s): %(filter)s"),
    "cohort.members-removed": _l("Members removed (%(count)s): %(names)s"),
    "cohort.trainer-added": _l("Trainer added: %(name)s"),
    "cohort.archived": _l("Archived"),
    "cohort.restored": _l("Restored from the archive"),
    "learning.due-changed": _l("Due date changed from %(old)s to %(new)s"),
    "learning.withdrawn": _l("Assignment withdrawn"),
    "learning.extended": _l("Due date for %(name)s extended from %(old)s to %(new)s"),
    # knowledge base
    "kb.contribution-accepted": _l("Your contribution was accepted: %(title)s"),
    "kb.contribution-rejected": _l("Your contribution was not accepted: %(title)s"),
    "kb.contribution-waiting": _l("A contribution waits for review: %(title)s (from %(name)s)"),
    # technicians' voice (only a named message's sender is ever told)
    "voice.answered": _l("%(name)s answered your message of %(day)s"),
    # reminders a trainer sends (the trainer's own words, if any, are a plain value: shown as typed)
    "remind.overdue": _l("Reminder from %(sender)s: the course %(course)s is overdue. Please complete it."),
    "remind.cohort": _l("Reminder from %(sender)s to the cohort %(cohort)s: please keep up with your programme."),
    "remind.technicians": _l("Reminder from %(sender)s: please check your training and certificates."),
    "remind.with-note": _l("%(reminder)s “%(note)s”"),
    # quizzes: a trainer's corrections for one person
    "quiz.override-set": _l("Own rules on %(quiz)s: %(attempts)d extra attempts, %(minutes)d extra minutes, "
                            "cooldown %(cooldown)s, due %(due)s"),
    "quiz.override-removed": _l("Own rules on %(quiz)s removed"),
    "quiz.cooldown-lifted": _l("lifted"),
    "quiz.cooldown-kept": _l("as the quiz sets it"),
    "quiz.no-due": _l("none of their own"),
    "quiz.marked": _l("Question %(n)d of attempt %(attempt)d on %(quiz)s marked %(mark)s (was %(was)s); "
                      "attempt %(before)s%% → %(after)s%%. %(comment)s"),
}


@dataclass(frozen=True)
class Message:
    """A message to store: its id and JSON-ready values (see :func:`msg`)."""

    id: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return render(self.id, self.params)

    def as_value(self) -> dict:
        return {"msg": self.id, "params": self.params}


def msg(msg_id: str, **params) -> Message:
    """``msg("cert.expiring", number=n, day=date(…))``: dates, datetimes, nested messages and
    lists become stored values; ``{"zh":…, "en":…}`` and plain values stay as they are."""
    if msg_id not in MESSAGES:
        raise KeyError(f"unknown message id {msg_id!r}")
    return Message(msg_id, {key: _stored(value) for key, value in params.items()})


def both(zh: str, en: str) -> dict:
    """A referenced thing's text in both languages."""
    return {"zh": zh or en, "en": en or zh}


def _stored(value):
    if isinstance(value, Message):
        return value.as_value()
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_stored(v) for v in value]
    return value


def split(value) -> tuple[str, str, dict]:
    """(plain text copy, msg_id, params) for a column trio: a :class:`Message` keeps an English
    copy for readers without a locale (logs, plain exports); plain text has no id."""
    if isinstance(value, Message):
        return render(value.id, value.params, "en"), value.id, value.params
    return ("" if value is None else str(value)), "", {}


def into(row, value, id_attr: str, params_attr: str) -> str:
    """For a model's ``@validates`` on its text column: assigning a :class:`Message` sets the
    id and values beside it (the column gets the English copy); plain text clears them."""
    text, msg_id, params = split(value)
    setattr(row, id_attr, msg_id)
    setattr(row, params_attr, params)
    return text


def message_columns(text_attr: str, id_attr: str, params_attr: str):
    """For a model with a (text, message id, values) column trio: the ``@validates`` hook that
    fills the id and values when a :class:`Message` is assigned to the text column, and a
    property rendering it for the reader. In the class body:
    ``_message, shown_reason = message_columns("reason", "reason_msg_id", "reason_params")``."""
    @validates(text_attr)
    def _message(row, _key, value):
        return into(row, value, id_attr, params_attr)

    def shown(row) -> str:
        """In the reader's language and date format."""
        return render(getattr(row, id_attr), getattr(row, params_attr), text=getattr(row, text_attr))

    return _message, property(shown)


def _lang() -> str:
    locale = get_locale()
    return "zh" if locale is not None and locale.language == "zh" else "en"


def _shown(value, lang: str):
    if isinstance(value, dict):
        if "msg" in value:
            return _render(value["msg"], value.get("params") or {}, lang, "")
        if "date" in value:
            return format_date(date.fromisoformat(value["date"]), "medium")
        if "datetime" in value:
            return format_datetime(datetime.fromisoformat(value["datetime"]), "short")
        if "zh" in value or "en" in value:
            return value.get(lang) or value.get("en") or value.get("zh") or ""
        return ""
    if isinstance(value, list):
        return ("、" if lang == "zh" else ", ").join(str(_shown(v, lang)) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return value


def _render(msg_id: str, params: dict, lang: str, text: str) -> str:
    template = MESSAGES.get(msg_id or "")
    if template is None:
        return text
    try:
        return str(template) % {key: _shown(value, lang) for key, value in (params or {}).items()}
    except (KeyError, TypeError, ValueError):
        return text or str(template)


def render(msg_id: str | None, params: dict | None = None, locale: str | None = None, text: str = "") -> str:
    """The message in ``locale`` (default: the reader's). No or unknown id: ``text`` as stored."""
    if not msg_id:
        return text or ""
    if locale is None:
        return _render(msg_id, params or {}, _lang(), text)
    with force_locale(locale):
        return _render(msg_id, params or {}, _lang(), text)

