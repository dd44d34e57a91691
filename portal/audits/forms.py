"""Forms for audits: the header of a new audit, amendments, and CSRF-only posts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..inputs import PlainForm, PortalForm

__all__ = ["AmendForm", "AuditHeaderForm", "PlainForm"]


class AuditHeaderForm(PortalForm):
    technician = SelectField(_l("Technician"), validators=[DataRequired(message=_l("Choose the technician."))])
    template = SelectField(_l("Form"))
    visited_at = DateTimeLocalField(_l("Visit date and time"), format="%Y-%m-%dT%H:%M",
                                    validators=[DataRequired(message=_l("The date and time of the visit."))])
    work_order = StringField(_l("Work-order number"), validators=[DataRequired(), Length(max=60)])
    product = SelectField(_l("Product"), validators=[DataRequired(message=_l("Choose the product line."))])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=60)])


class AmendForm(PortalForm):
    reason = TextAreaField(_l("Why the report is amended"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 3})
