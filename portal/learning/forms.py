"""Forms for cohorts, sign-offs and assignments."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from ..inputs import PortalForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..auth.forms import MultiCheckboxField


class CohortForm(PortalForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)],
                       description=_l("For example: Guangzhou, November 2026."))
    course = SelectField(_l("Programme"))
    start_date = DateField(_l("Start date"), validators=[DataRequired()],
                           description=_l("The first day; weekends and holidays are skipped."))
    trainers = MultiCheckboxField(_l("Trainers"), validators=[DataRequired(message=_l("Choose at least one trainer."))])
    # Not a list of every technician: the page offers no choices; members are added afterwards with
    # the member picker (learning.cohort_pick). Ids posted here (a conflict being confirmed) are kept.
    members = MultiCheckboxField(_l("Members"), validators=[Optional()])
    move = BooleanField(_l("Move them: take these technicians out of their current cohort"))


class DoneForm(PortalForm):
    pass


class SignOffForm(PortalForm):
    comment = TextAreaField(_l("Overall comment"), validators=[Optional(), Length(max=2000)],
                            render_kw={"rows": 3})


class AssignmentForm(PortalForm):
    course = SelectField(_l("Course"))
    scope = SelectField(_l("Assign to"))
    region = SelectField(_l("Region"), validators=[Optional()])
    product = SelectField(_l("Product line"), validators=[Optional()])
    due_date = DateField(_l("Due date"), validators=[DataRequired()])


class TargetedForm(PortalForm):
    technician = StringField(_l("Technician (username)"), validators=[DataRequired(), Length(max=80)])
    item = SelectField(_l("Lesson or module"))
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)],
                           description=_l("The technician sees this with the assignment."),
                           render_kw={"rows": 3})
    due_date = DateField(_l("Due date"), validators=[DataRequired()])


class CohortSettingsForm(PortalForm):
    name = StringField(_l("Cohort name"), validators=[DataRequired(), Length(max=120)])
    start_date = DateField(_l("First day of the programme"), validators=[DataRequired()],
                           description=_l("Moving it moves every day of the schedule; progress already made is kept."))


class CohortTrainerForm(PortalForm):
    trainer = SelectField(_l("Add a trainer"))


class DueDateForm(PortalForm):
    due_date = DateField(_l("New due date"), validators=[DataRequired()],
                         description=_l("Everyone's due date moves; late joiners and extensions follow."))
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 2})


class WithdrawForm(PortalForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)],
                           description=_l("Kept in the assignment's log. A withdrawn assignment is final."),
                           render_kw={"rows": 3})


class ExtendForm(PortalForm):
    due_date = DateField(_l("Their own due date"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)],
                           render_kw={"rows": 3})
