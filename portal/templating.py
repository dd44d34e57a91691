"""Template globals and filters: formatting in the user's language and time zone."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, request, url_for
from flask_babel import format_date, format_datetime, format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from .markup import render_question


def role_label(role: str) -> str:
    return {
        "technician": _("Technician"),
        "trainer": _("Trainer"),
        "auditor": _("Auditor"),
        "admin": _("Administrator"),
    }.get(role, role)


def role_plural(role: str) -> str:
    return {
        "technician": _("technicians"),
        "trainer": _("trainers"),
        "auditor": _("auditors"),
        "admin": _("administrators"),
    }.get(role, role)


def product_label(product: str) -> str:
    return {
        "air-conditioner": _("Air conditioner"),
        "washing-machine": _("Washing machine"),
        "refrigerator": _("Refrigerator"),
        "water-heater": _("Water heater"),
    }.get(product, product)


def course_kind_label(kind: str) -> str:
    return {
        "onboarding": _("Onboarding"),
        "quarterly": _("Quarterly product course"),
        "remedial": _("Remedial"),
        "elective": _("Elective"),
    }.get(kind, kind)


def difficulty_label(level) -> str:
    return {1: _("Easy"), 2: _("Medium"), 3: _("Hard")}.get(level, "")


def case_field_label(name: str) -> str:
    """A case field's name as the forms show it (for the revision diff)."""
    return {
        "title": _("Title"), "lang": _("Language"), "key": _("Key"), "product": _("Product"),
        "error_codes": _("Error codes"), "models": _("Models"), "components": _("Components"),
        "symptoms": _("Symptoms"), "series": _("Applies to"), "difficulty": _("Difficulty"),
        "time_minutes": _("Time on site (minutes)"), "related": _("Related cases"),
    }.get(name, name)


def event_label(action: str) -> str:
    return {
        "created": _("Account created"),
        "updated": _("Details changed"),
        "deactivated": _("Deactivated"),
        "reactivated": _("Reactivated"),
        "password_changed": _("Password changed by the user"),
        "password_reset": _("Password reset by an administrator"),
        "token_issued": _("API token created"),
        "token_revoked": _("API token revoked"),
        "unlocked": _("Sign-in lock lifted"),
        "sessions_ended": _("Signed out on every device"),
        "cohort_moved": _("Moved to another cohort"),
    }.get(action, action)


def event_detail_text(detail: str) -> str:
    """Render "roles=technician,trainer;outlet=GD-GZ-01" in the reader's language."""
    names = {"roles": _("Roles"), "outlet": _("Outlet"), "token": _("Token"),
             "devices": _("Devices"), "from": _("From cohort"), "to": _("To cohort")}
    parts = []
    for item in filter(None, (detail or "").split(";")):
        key, _sep, value = item.partition("=")
        if key == "roles":
            value = ", ".join(role_label(r) for r in value.split(",") if r)
        parts.append(f"{names.get(key, key)}: {value}")
    return "; ".join(parts)


def hours_duration(hours) -> str:
    """A length of time given in hours, as a reader says it: whole days from one day up
    ("30 days", not "720 hours"), hours below that, minutes below one hour."""
    minutes = round(float(hours or 0) * 60)
    if minutes < 60:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    days, rest = divmod(round(minutes / 60), 24)
    if not days:
        return ngettext("%(num)d hour", "%(num)d hours", rest)
    if not rest:
        return ngettext("%(num)d day", "%(num)d days", days)
    return _("%(days)s %(hours)s", days=ngettext("%(num)d day", "%(num)d days", days),
             hours=ngettext("%(num)d hour", "%(num)d hours", rest))


def language_switch_next() -> str | None:
    """Where the language switch returns to: this page without ?lang=, if it can be reloaded.

    Pages that answer a POST and cannot be fetched again (a password or token shown
    once) return None: the switch is not shown there, so the secret is not lost.
    """
    rule = request.url_rule
    if rule is None:
        return url_for("core.home")
    if "GET" not in (rule.methods or ()):
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return request.path + ("?" + urlencode(args) if args else "")


def html_lang() -> str:
    locale = get_locale()
    return "zh-CN" if locale is not None and locale.language == "zh" else "en"


def register(app) -> None:
    app.jinja_env.filters["question_html"] = render_question
    app.jinja_env.filters["datetime"] = lambda v, fmt="medium": format_datetime(v, fmt) if v else ""
    app.jinja_env.filters["date"] = lambda v, fmt="medium": format_date(v, fmt) if v else ""
    app.jinja_env.filters["number"] = lambda v: format_decimal(v) if v is not None else ""
    app.jinja_env.filters["role_label"] = role_label
    app.jinja_env.filters["product_label"] = product_label
    app.jinja_env.filters["difficulty_label"] = difficulty_label
    app.jinja_env.filters["event_label"] = event_label
    app.jinja_env.filters["case_field_label"] = case_field_label
    app.jinja_env.filters["event_detail"] = event_detail_text
    app.jinja_env.filters["hours_duration"] = hours_duration
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def globals_():
        return {
            "html_lang": html_lang(),
            "current_locale": str(get_locale()),
            "locales": current_app.config["PORTAL_LOCALES"],
            "role_label": role_label,
            "course_kind_label": course_kind_label,
            "product_label": product_label,
            "role_plural": role_plural,
            "home_links": _home_links(),
            "language_switch_next": language_switch_next,
        }


def _home_links() -> list[tuple[str, str]]:
    """Home pages of the signed-in user's roles, for the navigation."""
    if not current_user or not current_user.is_authenticated:
        return []
    order = ("technician", "trainer", "auditor", "admin")
    return [(role, "core.home_" + role) for role in order if role in current_user.roles]


__all__ = ["register", "role_label", "request"]
