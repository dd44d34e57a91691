"""Forms for sign-in, passwords and account administration."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from ..inputs import PortalForm
from ..templating import role_label
from .models import ROLES


class LoginForm(PortalForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none",
                                      "spellcheck": "false", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


class ChangePasswordForm(PortalForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def role_choices():
    return [(r, role_label(r)) for r in ROLES]


class UserForm(PortalForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(min=3, max=64),
                    Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                           message=_l("Letters, digits, dot, dash or underscore only."))],
        render_kw={"autocapitalize": "none", "spellcheck": "false"},
    )
    name = StringField(_l("Full name"), validators=[Optional(), Length(max=120)])
    roles = MultiCheckboxField(_l("Roles"), validators=[DataRequired(message=_l("Choose at least one role."))])
    outlet = SelectField(_l("Outlet"), validators=[Optional()])
    start_date = DateField(_l("Start date"), validators=[Optional()])
    password = PasswordField(_l("Initial password"), validators=[Optional(), Length(max=256)],
                             description=_l("Leave empty to generate one. The user must change it at first sign-in."),
                             render_kw={"autocomplete": "new-password"})


    def validate(self, extra_validators=None):
        # Not an inline validator: Optional() on the outlet would stop it on an empty value.
        ok = super().validate(extra_validators)
        if "technician" in (self.roles.data or []) and not self.outlet.data:
            self.outlet.errors = list(self.outlet.errors) + [
                str(_l("A technician belongs to an outlet: choose one."))]
            return False
        return ok


class EditUserForm(UserForm):
    username = None
    password = None


class ResetPasswordForm(PortalForm):
    pass


class ConfirmForm(PortalForm):
    """An empty form: its CSRF token is what protects a one-button action."""


class TokenForm(PortalForm):
    label = StringField(_l("Label"), validators=[Optional(), Length(max=100)],
                        description=_l("What the token is for, e.g. the name of an integration."))


class ImportForm(PortalForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(message=_l("Choose a CSV file."))],
                     render_kw={"accept": ".csv,text/csv"})


class RegionForm(PortalForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32),
                                               Regexp(r"^[A-Za-z0-9-]+$", message=_l("Letters, digits and dashes only."))])
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=100)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=100)])


class ProvinceForm(RegionForm):
    region = SelectField(_l("Region"), coerce=int, validators=[DataRequired()])


class OutletForm(RegionForm):
    province = SelectField(_l("Province"), coerce=int, validators=[DataRequired()])
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    products = MultiCheckboxField(_l("Product lines serviced"), validators=[Optional()],
                                  description=_l("None ticked: the outlet services every line."))


class UserFilterForm(PortalForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=64)])
    role = SelectField(_l("Role"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])

