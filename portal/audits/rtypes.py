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

    def allows_na(self, item: dict) -> bool:
        """Whether "na" (not applicable) is an answer to this item."""
        return False

    def answer_schema(self, item: dict) -> dict:
        """The JSON Schema of an answer this type accepts for ``item`` (the API's audit template
        gives it per item; :meth:`clean` is what enforces it)."""
        return {}

    def _with_na(self, item: dict, schema: dict) -> dict:
        return {"anyOf": [schema, {"const": NA}]} if self.allows_na(item) else schema


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
        return ["yes", "no"] + ([NA] if self.allows_na(item) else [])

    def allows_na(self, item):
        return bool(item.get("na", True))

    def answer_schema(self, item):
        return {"enum": self.options(item)}


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
        return [1, 2, 3, 4, 5] + ([NA] if self.allows_na(item) else [])

    def allows_na(self, item):
        return bool(item.get("na", True))

    def answer_schema(self, item):
        return {"enum": self.options(item) + ["1", "2", "3", "4", "5"]}


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
        return [o["id"] for o in item["options"]] + ([NA] if self.allows_na(item) else [])

    def allows_na(self, item):
        return bool(item.get("na", False))

    def answer_schema(self, item):
        return {"enum": self.options(item)}


PLAIN_NUMBER_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
GROUPED_NUMBER_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,500 or 12,345.5


def parse_number(value) -> float:
    """A number as an auditor types it: 1500, 1,500 (thousands separated), 1.5, -3. A comma is a
    thousands separator only in groups of three; "1,5" is refused rather than guessed."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(_("A number."))
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float (JSON allows 400 digits)
            raise ValueError(_("A number.")) from None
    else:
        text = value.strip().replace("，", ",").replace(" ", "")
        if GROUPED_NUMBER_RE.match(text):
            text = text.replace(",", "")
        elif "," in text:
            raise ValueError(_("Write 1500 or 1,500; decimals with a point, like 1.5."))
        if not PLAIN_NUMBER_RE.match(text):
            raise ValueError(_("A number."))
        number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(_("A number."))
    return number


def _shown(number) -> str:
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


@register
class Number(ResponseType):
    """A number (minutes waited, pieces of literature left…), between the item's ``min`` and
    ``max`` (defaults 0 and 10,000: counts and minutes are never negative). With ``target: {min,
    max}`` it scores 1 inside the target and 0 outside; without one it is recorded, not scored."""

    name = "number"
    DEFAULT_MIN, DEFAULT_MAX = 0, 10_000

    def bounds(self, item) -> tuple[float, float]:
        return item.get("min", self.DEFAULT_MIN), item.get("max", self.DEFAULT_MAX)

    def check_spec(self, item):
        target = item.get("target")
        if target is not None and not (isinstance(target, dict) and set(target) <= {"min", "max"}
                                       and all(isinstance(v, (int, float)) for v in target.values())):
            return [_("target: {min: N, max: N}.")]
        if target is None and item.get("weight", 0):
            return [_("A number without a target cannot carry weight.")]
        low, high = self.bounds(item)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or low > high:
            return [_("min and max: numbers, min not above max.")]
        if target and not all(low <= v <= high for v in target.values()):
            return [_("The target must lie between min and max.")]
        return []

    def clean(self, item, value):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if value == NA and self.allows_na(item):
            return NA
        number = parse_number(value)
        low, high = self.bounds(item)
        if not low <= number <= high:
            raise ValueError(_("A number from %(low)s to %(high)s.", low=_shown(low), high=_shown(high)))
        return int(number) if number.is_integer() else number

    def allows_na(self, item):
        return bool(item.get("na", True))

    def answer_schema(self, item):
        low, high = self.bounds(item)
        return self._with_na(item, {"anyOf": [
            {"type": "number", "minimum": low, "maximum": high},
            {"type": "string", "pattern": r"^\s*[+-]?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?\s*$",
             "description": "1500 or 1,500; decimals with a point"}]})

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

    def answer_schema(self, item):
        return {"type": "string", "pattern": TIME_RE.pattern, "description": "HH:MM, 24-hour clock"}


@register
class Text(ResponseType):
    """Free text (what the customer suggested, the story of an outstanding visit)."""

    name = "text"
    scored = False
    MAX_LENGTH = 4000

    def check_spec(self, item):
        return [_("A text item is recorded, not scored: weight 0.")] if item.get("weight", 0) else []

    def clean(self, item, value):
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise ValueError(_("A text value."))
        text = value.strip()
        if len(text) > self.MAX_LENGTH:
            raise ValueError(_("At most 4000 characters."))
        return text or None

    def answer_schema(self, item):
        return {"type": "string", "maxLength": self.MAX_LENGTH}


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

    def answer_schema(self, item):
        return {"not": {}, "description": "photos are attached on the portal's audit page, not through the API"}
