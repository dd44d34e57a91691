"""Forms for quizzes: start, submit, and the trainer's question import."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from ..inputs import PortalForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional


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
