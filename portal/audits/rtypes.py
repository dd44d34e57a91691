"""Response types for audit items: each knows how to validate an answer and score it.

A score is 0..1, or None when the item does not count (not applicable, or an unscored type);
``fails_red_line`` says whether the answer breaches a red-line item. Types register themselves,
like the quiz question types.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _

NA = "na"
TYPES: dict[str, "ResponseType"] = {}


def register(cls):
    TYPES[cls.name] = cls()
    return cls


def get(name: str) -> "ResponseType":
    return TYPES[name]


class ResponseType:
    name = ""
    scored = True  # unscored types must have weight 0

    def check_spec(self, item: dict) -> list[str]:
        """Problems with the item's definition in a template."""
        return []

    def clean(self, item: dict, value):
        """The stored form of an answer, or ValueError with a message for the user. None: blank."""
        raise NotImplementedError

    def score(self, item: dict, value) -> float | None:
        return None

    def fails_red_line(self, item: dict, value) -> bool:
        return False

    def failed(self, item: dict, value) -> bool:
        """Whether the answer counts as a failed item (for the most-failed chart and evidence):
        a red-line breach, or a weighted item scoring under half."""
        score = self.score(item, value)
        return self.fails_red_line(item, value) or (bool(item.get("weight")) and score is not None and score < 0.5)

    def options(self, item: dict) -> list | None:
        return None


def _na(item: dict, value) -> bool:
    return value == NA and item.get("na", True)


@register
class YesNo(ResponseType):
    """yes / no / not applicable. "no" fails a red-line item (``pass_when: no`` inverts it, for
    questions such as "accepted a gift?")."""

    name = "yesno"

    def clean(self, item, value):
        if value in (None, ""):
            return None
        if value == NA and not item.get("na", True):
            raise ValueError(_("This item cannot be marked not applicable."))
        if value not in ("yes", "no", NA):
            raise ValueError(_("Answer yes, no or not applicable."))
        return value

    def score(self, item, value):
        if value is None or _na(item, value):
            return None
        return 1.0 if value == item.get("pass_when", "yes") else 0.0

    def fails_red_line(self, item, value):
        return bool(item.get("red_line")) and value not in (None, NA) and value != item.get("pass_when", "yes")

    def options(self, item):
        return ["yes", "no"] + ([NA] if item.get("na", True) else [])


@register
class Rating(ResponseType):
    """1 (poor) to 5 (excellent); scores (n − 1) / 4. A red-line rating fails at or below
    ``red_line_at`` (default 2)."""

    name = "rating"

    def clean(self, item, value):
        if value in (None, ""):
            return None
        if value == NA and item.get("na", True):
            return NA
        text = str(value).strip()
        if isinstance(value, bool) or text not in ("1", "2", "3", "4", "5"):
            raise ValueError(_("A rating from 1 to 5."))
        return int(text)

    def score(self, item, value):
        if value is None or _na(item, value):
            return None
        return (int(value) - 1) / 4

    def fails_red_line(self, item, value):
        return bool(item.get("red_line")) and isinstance(value, int) and value <= int(item.get("red_line_at", 2))

    def options(self, item):
        return [1, 2, 3, 4, 5] + ([NA] if item.get("na", True) else [])


@register
class Choice(ResponseType):
    """One of the item's options, each with a score 0..1; an option may be a red-line failure."""

    name = "choice"

    def check_spec(self, item):
        options = item.get("options")
        if not isinstance(options, list) or len(options) < 2:
            return [_("A choice needs at least two options.")]
        problems = []
        for n, option in enumerate(options, start=1):
            if not isinstance(option, dict) or not isinstance(option.get("id"), str):
                problems.append(_("Option %(n)d needs an id.", n=n))
            elif not isinstance(option.get("score", 0), (int, float)) or not 0 <= option.get("score", 0) <= 1:
                problems.append(_("Option %(n)d: score must be between 0 and 1.", n=n))
        return problems

    def clean(self, item, value):
        if value in (None, ""):
            return None
        if value == NA and item.get("na", False):
            return NA
        if value not in [o["id"] for o in item["options"]]:
            raise ValueError(_("Choose one of the options."))
        return value

    def _option(self, item, value):
        return next((o for o in item["options"] if o["id"] == value), None)

    def score(self, item, value):
        option = self._option(item, value)
        return None if option is None else float(option.get("score", 0))

    def fails_red_line(self, item, value):
        option = self._option(item, value)
        return option is not None and bool(option.get("red_line"))

    def options(self, item):
        return [o["id"] for o in item["options"]] + ([NA] if item.get("na", False) else [])


@register
class Number(ResponseType):
    """A number (minutes waited, pieces of literature left…). With ``target: {min, max}`` it
    scores 1 inside the range and 0 outside; without one it is recorded, not scored."""

    name = "number"

    def check_spec(self, item):
        target = item.get("target")
        if target is not None and not (isinstance(target, dict) and set(target) <= {"min", "max"}
                                       and all(isinstance(v, (int, float)) for v in target.values())):
            return [_("target: {min: N, max: N}.")]
        if target is None and item.get("weight", 0):
            return [_("A number without a target cannot carry weight.")]
        return []

    def clean(self, item, value):
        if value in (None, ""):
            return None
        if value == NA and item.get("na", True):
            return NA
        try:
            number = float(str(value).replace(",", "."))
        except ValueError:
            raise ValueError(_("A number.")) from None
        if number != number or abs(number) > 1e9:
            raise ValueError(_("A number."))
        return int(number) if number.is_integer() else number

    def score(self, item, value):
        target = item.get("target")
        if target is None or value is None or _na(item, value):
            return None
        ok = target.get("min", float("-inf")) <= float(value) <= target.get("max", float("inf"))
        return 1.0 if ok else 0.0


TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@register
class Time(ResponseType):
    """A time of day, HH:MM (when the technician arrived). Recorded, not scored."""

    name = "time"
    scored = False

    def check_spec(self, item):
        return [_("A time item is recorded, not scored: weight 0.")] if item.get("weight", 0) else []

    def clean(self, item, value):
        if value in (None, ""):
            return None
        match = TIME_RE.match(str(value).strip())
        if not match:
            raise ValueError(_("A time like 14:30."))
        return f"{int(match.group(1)):02d}:{match.group(2)}"


@register
class Text(ResponseType):
    """Free text (what the customer suggested, the story of an outstanding visit)."""

    name = "text"
    scored = False

    def check_spec(self, item):
        return [_("A text item is recorded, not scored: weight 0.")] if item.get("weight", 0) else []

    def clean(self, item, value):
        if value in (None, ""):
            return None
        text = str(value).strip()
        if len(text) > 4000:
            raise ValueError(_("At most 4000 characters."))
        return text or None


@register
class Photo(ResponseType):
    """Photos attached to the item (uploaded separately); the answer is how many."""

    name = "photo"
    scored = False

    def check_spec(self, item):
        return [_("A photo item is recorded, not scored: weight 0.")] if item.get("weight", 0) else []

    def clean(self, item, value):
        if value in (None, "", 0):
            return None
        try:
            return max(0, int(value)) or None
        except (TypeError, ValueError):
            raise ValueError(_("Attach photos with the photo button.")) from None
