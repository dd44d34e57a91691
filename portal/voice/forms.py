"""The technician's form, the trainer's answer and status forms, the receipt look-up."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from ..inputs import PortalForm
from .models import MAX_TEXT
from .services import kind_labels, status_labels, theme_labels


class VoiceForm(PortalForm):
    kind = RadioField(_l("What is it?"), default="suggestion",
                      validators=[InputRequired(message=_l("Choose suggestion or complaint."))])
    theme = SelectField(_l("Theme"), validators=[DataRequired(message=_l("Choose a theme."))])
    text = TextAreaField(_l("Your message"), render_kw={"rows": 8, "maxlength": MAX_TEXT},
                         description=_l("Plain text, at most %(n)d characters. Write about the process or the "
                                        "management, not about a named colleague.", n=MAX_TEXT),
                         validators=[DataRequired(message=_l("Write your message.")),
                                     Length(max=MAX_TEXT, message=_l("At most %(max)d characters."))])
    # Anonymous by default: see README "Technicians' voice".
    identity = RadioField(_l("Send it"), default="anonymous",
                          validators=[InputRequired(message=_l("Choose anonymous or named."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = list(kind_labels().items())
        self.theme.choices = [("", _l("Choose…"))] + list(theme_labels().items())
        self.identity.choices = [("anonymous", _l("Anonymously")), ("named", _l("With my name"))]


class AnswerForm(PortalForm):
    text = TextAreaField(_l("Reply to the sender"), render_kw={"rows": 5, "maxlength": MAX_TEXT},
                         validators=[DataRequired(message=_l("Write the answer.")),
                                     Length(max=MAX_TEXT, message=_l("At most %(max)d characters."))])


class UpdateForm(PortalForm):
    status = SelectField(_l("Status"))
    theme_tag = SelectField(_l("Theme (trainers' correction)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = list(status_labels().items())
        self.theme_tag.choices = [("", _l("As the sender chose"))] + list(theme_labels().items())


class ReceiptForm(PortalForm):
    code = StringField(_l("Receipt code"), validators=[DataRequired(message=_l("Enter the receipt code.")),
                                                       Length(max=40)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters"})
