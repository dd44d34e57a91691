"""Forms for contributing, reviewing and giving feedback on fault cases."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..inputs import PortalForm
from ..templating import difficulty_label, product_label
from .models import PRODUCTS

SPLIT_RE = re.compile(r"[,，、;；\n]+")


def split(text: str | None) -> list[str]:
    return [part.strip() for part in SPLIT_RE.split(text or "") if part.strip()]


def product_choices():
    return [(p, product_label(p)) for p in PRODUCTS]


class CaseForm(PortalForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("The fault in a few words, with its code if it has one."))
    lang = SelectField(_l("Language"))
    product = SelectField(_l("Product"))
    error_codes = StringField(_l("Error codes"), validators=[Optional(), Length(max=200)],
                              description=_l("As shown on the display, separated by commas."))
    models = StringField(_l("Models"), validators=[Optional(), Length(max=500)],
                         description=_l("Model families, e.g. KFR-35GW, separated by commas."))
    components = StringField(_l("Components"), validators=[Optional(), Length(max=500)])
    symptoms = TextAreaField(_l("Symptoms"), validators=[Optional(), Length(max=2000)],
                             description=_l("One per line, the way customers and technicians say it."),
                             render_kw={"rows": 3})
    series = StringField(_l("Applies to"), validators=[Optional(), Length(max=300)],
                         description=_l("Which maker's code table or which series."))
    difficulty = SelectField(_l("Difficulty"), validators=[Optional()])
    time_minutes = IntegerField(_l("Time on site (minutes)"),
                                validators=[Optional(), NumberRange(min=1, max=1440)])
    body = TextAreaField(_l("The case"), validators=[DataRequired(), Length(max=50_000)],
                         render_kw={"rows": 16})

    def fill_choices(self):
        self.lang.choices = [("zh", "中文"), ("en", "English")]
        self.product.choices = product_choices()
        self.difficulty.choices = [("", "—")] + [(str(n), difficulty_label(n)) for n in (1, 2, 3)]

    def case_data(self) -> dict:
        return {
            "title": (self.title.data or "").strip(),
            "lang": self.lang.data,
            "product": self.product.data,
            "error_codes": [c.upper() for c in split(self.error_codes.data)],
            "models": split(self.models.data),
            "components": split(self.components.data),
            "symptoms": [s.strip() for s in (self.symptoms.data or "").splitlines() if s.strip()],
            "series": (self.series.data or "").strip(),
            "difficulty": int(self.difficulty.data) if self.difficulty.data else None,
            "time_minutes": self.time_minutes.data,
            "body": self.body.data or "",
        }

    def load(self, data: dict) -> None:
        self.title.data = data.get("title", "")
        self.lang.data = data.get("lang", "zh")
        self.product.data = data.get("product")
        self.error_codes.data = ", ".join(data.get("error_codes") or [])
        self.models.data = ", ".join(data.get("models") or [])
        self.components.data = ", ".join(data.get("components") or [])
        self.symptoms.data = "\n".join(data.get("symptoms") or [])
        self.series.data = data.get("series", "")
        self.difficulty.data = str(data["difficulty"]) if data.get("difficulty") else ""
        self.time_minutes.data = data.get("time_minutes")
        self.body.data = data.get("body", "")


class ContributeForm(CaseForm):
    note = TextAreaField(_l("Note for the reviewer"), validators=[Optional(), Length(max=1000)],
                         description=_l("Where you met this fault, what you tried, anything unsure."),
                         render_kw={"rows": 3})
    photos = MultipleFileField(_l("Photos"), render_kw={"accept": "image/jpeg,image/png,image/webp",
                                                        "capture": "environment"},
                               description=_l("Up to 4 JPEG, PNG or WebP photos, 10 MB each. "
                                              "Location data is removed."))


class ReviewForm(CaseForm):
    reason = TextAreaField(_l("Reason (when rejecting)"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 3})


class FeedbackForm(PortalForm):
    comment = TextAreaField(_l("What happened? (optional)"), validators=[Optional(), Length(max=1000)],
                            render_kw={"rows": 2})


class NoteForm(PortalForm):
    note = StringField(_l("Why"), validators=[DataRequired(), Length(max=300)])
