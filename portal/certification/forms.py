"""Forms for granting a certificate and changing its status."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from ..inputs import PortalForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length, Optional


class GrantForm(PortalForm):
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3},
                         description=_l("Kept in the certificate's log. Required when issuing anyway."))
    force = BooleanField(_l("Issue anyway, although requirements are unmet"))


class ActionForm(PortalForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    force = BooleanField(_l("Renew anyway, although requirements are unmet"))
    confirm = BooleanField(_l("I understand that revoking is final and cannot be undone"))
