"""Forms for quizzes: start, submit, and the trainer's question import."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from ..inputs import PortalForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, DecimalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional


class StartForm(PortalForm):
    pass


class SubmitForm(PortalForm):
    pass


class ImportForm(PortalForm):
    file = FileField(_l("Question file"), validators=[FileRequired(message=_l("Choose a file to import."))],
                     description=_l("GIFT (.txt, .gift) or Moodle XML (.xml), UTF-8, up to 2 MB."))
    format = SelectField(_l("Format"))
    category = SelectField(_l("Category"), validators=[Optional()])
    new_category = StringField(_l("Or a new category"), validators=[Optional(), Length(max=200)],
                               description=_l("For example: courses/2027-q1-washers."))
    atomic = BooleanField(_l("All or nothing: import nothing if any item cannot be imported"))


class OverrideForm(PortalForm):
    """One technician's own rules on one quiz."""
    extra_attempts = IntegerField(_l("Extra attempts"), default=0,
                                  validators=[InputRequired(message=_l("Give a number (0 for none).")),
                                              NumberRange(0, 20, message=_l("From 0 to 20."))],
                                  description=_l("Added to the quiz's limit (a quiz with any number of attempts needs none)."))
    lift_cooldown = BooleanField(_l("Lift the wait between attempts"))
    extra_minutes = IntegerField(_l("Extra time (minutes)"), default=0,
                                 validators=[InputRequired(message=_l("Give a number (0 for none).")),
                                             NumberRange(0, 600, message=_l("From 0 to 600 minutes."))],
                                 description=_l("Added to the time limit of each attempt started from now on."))
    due_on = DateField(_l("Their own due date"), validators=[Optional()],
                       description=_l("Shown to them on the quiz; due at the end of that day."))


class MarkForm(PortalForm):
    """A trainer's mark on one typed answer."""
    mark = DecimalField(_l("Mark (0 to 1)"), places=None,
                        validators=[InputRequired(message=_l("Give a mark from 0 to 1.")),
                                    NumberRange(0, 1, message=_l("A mark is from 0 to 1."))])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=1000)])
