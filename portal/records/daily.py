"""``flask daily``: the once-a-day run that no single domain owns. It sits above the domains it
drives (certification's expiry sweep, learning's behind-schedule notices)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from ..assessment.services import refresh_discrimination
from ..certification.board import refresh_all
from ..certification.services import sweep
from ..cliutil import cli_request, needs_schema
from ..extensions import db
from ..i18n import local_today
from ..learning.services import notify_behind


@click.command("daily")
@with_appcontext
@needs_schema
def daily_command():
    """The daily run (cron): certificate expiry, lapse and expiry warnings; cohort members
    falling behind; the eligibility board's stale figures decided again; quizzes' discrimination indexes decided again. Safe to run more than once a day: each notification is raised once."""
    with cli_request():
        today = local_today()
        report = sweep(today)
        behind = notify_behind(today)
        db.session.commit()
        refreshed = refresh_all(today)  # after the sweep: its expiries and lapses are decided on
        click.echo(_("expired %(expired)d, lapsed %(lapsed)d", expired=report.expired, lapsed=report.lapsed))
        click.echo(ngettext("eligibility board: %(num)d figure refreshed", "eligibility board: %(num)d figures refreshed",
                            refreshed))
        decided = refresh_discrimination()
        click.echo(ngettext("item analysis: %(num)d discrimination index decided", "item analysis: %(num)d discrimination indexes decided",
                            decided))
        click.echo(ngettext("trainers told about %(num)d member falling behind", "trainers told about %(num)d members falling behind", behind))
