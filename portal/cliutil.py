"""Helpers shared by the CLI commands: one-line failures, and a schema check first."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import wraps

import click
from flask import current_app
from flask_babel import gettext as _
from flask_babel import refresh
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from .extensions import db
from .i18n import cli_locale
from .links import site_base


def fail(message: str) -> None:
    """One line on stderr and exit status 1; the caller has changed nothing."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def needs_schema(command):
    """Refuse clearly, instead of with a traceback, when the database is unreachable or empty."""
    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            ready = inspect(db.engine).has_table("user")
        except OperationalError as exc:
            fail(_("Cannot reach the database: %(error)s", error=str(exc.orig).strip().splitlines()[0]))
        if not ready:
            fail(_("The database has no tables yet: run `flask --app portal db upgrade` first."))
        return command(*args, **kwargs)

    return wrapper


@contextmanager
def cli_request():
    """A request context for commands that build links (evidence, notifications), in the
    shell's language; the locale it caches does not outlive it."""
    # At the public address (PORTAL_BASE_URL), which PORTAL_TRUSTED_HOSTS lets through.
    with current_app.test_request_context("/?lang=" + cli_locale(), base_url=site_base() or None):
        refresh()
        yield
    refresh()
