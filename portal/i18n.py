"""Language and time zone: negotiation, switching and formatting helpers."""

from __future__ import annotations

import functools
import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import current_app, has_request_context, request, session
from flask_babel import Domain, get_locale
from flask_login import current_user


class PortalDomain(Domain):
    """Finds the ``zh_CN`` catalogue for Babel's ``zh_Hans_CN`` locale.

    Babel expands zh_CN to zh_Hans_CN, which gettext would only look for as
    ``zh_Hans_CN/`` or ``zh/``; catalogues here use the usual ``zh_CN/`` folder.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Translations] = {}

    def get_translations(self):
        locale = get_locale()
        if locale is None:
            return NullTranslations()
        key = str(locale)
        if key not in self._loaded:
            names = [key]
            if locale.territory:
                names.append(f"{locale.language}_{locale.territory}")
            # The first catalogue found is the base: it carries the language's plural rule,
            # which merge() would not copy onto an empty Translations.
            merged = None
            for directory in self.translation_directories:
                found = Translations.load(directory, names, self.domain[0])
                if merged is None or not isinstance(merged, Translations):
                    merged = found
                elif isinstance(found, Translations):
                    merged.merge(found)
            self._loaded[key] = merged if merged is not None else NullTranslations()
        return self._loaded[key]


def supported_locales() -> tuple[str, ...]:
    return tuple(current_app.config["PORTAL_LOCALES"])


def negotiate(accept_language) -> str | None:
    """Pick zh_CN or en from an Accept-Language header (a werkzeug LanguageAccept).

    Any Chinese variant (zh, zh-CN, zh-Hans, zh-TW, …) maps to zh_CN, any English
    one to en; the client's quality values decide between them.
    """
    best = None
    best_q = 0.0
    for tag, quality in accept_language:
        primary = tag.replace("_", "-").split("-")[0].lower()
        locale = {"zh": "zh_CN", "en": "en"}.get(primary)
        if locale and quality > best_q:
            best, best_q = locale, quality
    return best


def cli_locale() -> str:
    """Outside a request (CLI), follow the shell's LANG: Chinese shells get Chinese."""
    lang = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh_CN" if lang.lower().startswith("zh") else "en"


@functools.lru_cache(maxsize=8)
def _parsed(name: str) -> Locale:
    return Locale.parse(name)


def select_locale_parsed() -> Locale:
    """What Flask-Babel asks for: a parsed Locale, parsed once per name, not per request."""
    return _parsed(select_locale())


def select_locale() -> str:
    if not has_request_context():
        return cli_locale()
    locales = supported_locales()
    # An explicit ?lang= wins for this one request (useful for shared links and tests).
    asked = request.args.get("lang")
    if asked in locales:
        return asked
    if current_user and current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in locales:
        return chosen
    return negotiate(request.accept_languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def user_lang() -> str:
    """"zh" or "en": which language of bilingual content (titles, bodies) the reader sees."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def local_today() -> date:
    """Today in the portal's time zone (PORTAL_TIMEZONE): schedules, due dates and certificates
    are dated in local days."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def local_date(moment: datetime | None) -> date | None:
    """The local day of a stored (UTC) moment."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
