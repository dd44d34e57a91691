"""Forms for quizzes: start, submit, the trainer's question import and the quiz editor."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from ..inputs import PortalForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateField, DecimalField, FieldList, Form, FormField, IntegerField, SelectField,
                     SelectMultipleField, StringField, SubmitField, TextAreaField, widgets)
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


class MultiCheckboxField(SelectMultipleField):
    """Several choices as tick boxes (usable without JavaScript)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SectionForm(Form):
    """One section row of the quiz form (no CSRF of its own: the quiz form carries it). The
    ranges and the bank's size are checked by bank.check_quiz, as for a file."""

    draw = IntegerField(_l("Questions drawn"), validators=[Optional()])
    categories = MultiCheckboxField(_l("From categories (none ticked: every category)"), validators=[Optional()])
    tags = StringField(_l("With any of these tags (optional)"), validators=[Optional(), Length(max=1000)],
                       description=_l("Separated by commas, e.g. lesson:onboarding/d03-seven-step-method."))
    easy = IntegerField(_l("Easy (1)"), validators=[Optional()])
    medium = IntegerField(_l("Medium (2)"), validators=[Optional()])
    hard = IntegerField(_l("Hard (3)"), validators=[Optional()])
    remove = BooleanField(_l("Remove this section"))


class QuizForm(PortalForm):
    slug = StringField(_l("Short name (in the address)"), validators=[Optional(), Length(max=80)],
                       description=_l("Lower-case letters, digits and dashes, e.g. 2027-q1-washers. Cannot be changed later."))
    title_zh = StringField(_l("Title in Chinese"), validators=[Optional(), Length(max=200)])
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=200)])
    time_limit_minutes = IntegerField(_l("Time limit (minutes; empty: none)"), validators=[Optional()])
    pass_mark = IntegerField(_l("Pass mark (%)"), validators=[Optional()])
    attempts = IntegerField(_l("Attempts allowed (0: any number)"), validators=[Optional()])
    cooldown_hours = IntegerField(_l("Hours between attempts"), validators=[Optional()])
    review = SelectField(_l("After submission, the review shows"),
                         choices=[("score", _l("The score only")), ("answers", _l("The score and the right answers")),
                                  ("explanations", _l("The score, the right answers and explanations"))])
    shuffle = BooleanField(_l("Shuffle questions and options"), default=True)
    sections = FieldList(FormField(SectionForm), min_entries=1, max_entries=20)
    add_section = SubmitField(_l("Add a section"))
    save = SubmitField(_l("Save"))
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
