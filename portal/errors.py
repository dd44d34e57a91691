"""Error pages: clear, translated, never a stack trace; JSON under /api/."""

from __future__ import annotations

from flask import make_response, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from .extensions import db
from .security import is_api_request, json_error


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood. Go back and try again.")),
        403: (_("Not allowed"), _("Your account does not have access to this page.")),
        404: (_("Not found"), _("There is nothing at this address.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
        413: (_("Too large"), _("The upload is larger than the portal accepts.")),
        429: (_("Too many requests"), _("Please wait a moment and try again.")),
        500: (_("Something went wrong"),
              _("The portal hit an error. Nothing was saved from this request; please try again.")),
        503: (_("Unavailable"), _("The portal cannot reach its database right now.")),
    }


def render_error(status: int, detail: str | None = None):
    title, message = _messages().get(status, (_("Error"), _("Something went wrong.")))
    if is_api_request():
        return json_error(status, detail or message)
    return render_template("errors/error.html", status=status, title=title,
                           message=detail or message), status


def register(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return render_error(
            400,
            _("The form had expired or did not come from this portal. Reload the page and "
              "submit it again."),
        )

    @app.errorhandler(SecurityError)
    def untrusted_host(_error):
        # A Host outside TRUSTED_HOSTS: no address can be built for it, so a page without links.
        message = _("This portal does not answer to that host name.")
        if is_api_request():
            return json_error(400, message)
        return message, 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        response = render_error(error.code)
        allowed = getattr(error, "valid_methods", None)
        if allowed:  # 405 keeps its Allow header
            body, status = response if isinstance(response, tuple) else (response, error.code)

            response = make_response(body, status)
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error: %s", error)
        db.session.rollback()
        return render_error(500)
