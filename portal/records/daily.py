"""``flask daily``: the once-a-day run that no single domain owns. It sits above the domains it
drives (certification's expiry sweep, learning's behind-schedule notices)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from ..assessment.services import refresh_discrimination
from ..audits.draw import draw_due
from ..audits.retention import prune_drafts
from ..audits.visit_services import tidy_open
from ..certification.board import refresh_all
from ..certification.services import sweep
from ..cliutil import cli_request, needs_schema
from ..dbtypes import utcnow
from ..extensions import db
from ..i18n import local_today
from ..kb.retention import prune_change_log, prune_rejected_photos, prune_search_log
from ..learning.services import notify_behind


@click.command("daily")
@with_appcontext
@needs_schema
def daily_command():
    """The daily run (cron): certificate expiry, lapse and expiry warnings; cohort members
    falling behind; the audit programmes' draw on the first working day of a period (or the first
    run after it, once per period); the eligibility board's stale figures decided again; quizzes' discrimination indexes decided again;
    then retention: the search index change log, old search-log rows, photos of rejected contributions and abandoned
    audit drafts. Safe to run more than once a day: each notification is raised once."""
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
        tidied = tidy_open(utcnow())
        click.echo(_("planned audit visits: %(cancelled)d cancelled (technician gone or suspended), %(reassigned)d "
                     "given to another auditor, %(unassigned)d left without one (auditor gone)",
                     cancelled=tidied.cancelled, reassigned=tidied.reassigned, unassigned=tidied.unassigned))
        for programme, period, made, error in draw_due(today):
            if made is None:
                click.echo(f"{programme.slug} {period}: {error}", err=True)
                continue
            click.echo(_("audit programme %(programme)s, %(period)s drawn: %(drawn)d visits, %(unassigned)d unassigned",
                         programme=programme.slug, period=period, drawn=made.drawn, unassigned=made.unassigned))
        retention()


def retention() -> None:
    """Each step deletes in batches, commits on its own and says what it removed."""
    config = current_app.config
    log = prune_change_log()
    click.echo(ngettext("search index change log: %(num)d row every host has applied removed",
                        "search index change log: %(num)d rows every host has applied removed", log.removed))
    if log.forgotten:
        click.echo(ngettext("search index: %(num)d host not seen for %(days)d days no longer holds the log back",
                            "search index: %(num)d hosts not seen for %(days)d days no longer hold the log back",
                            log.forgotten, days=config["KB_HOST_DAYS"]))
    searches = prune_search_log()
    click.echo(ngettext("search log: %(num)d search older than %(days)d days removed (the daily gap counts stay)",
                        "search log: %(num)d searches older than %(days)d days removed (the daily gap counts stay)",
                        searches, days=config["SEARCH_LOG_DAYS"]))
    photos, files = prune_rejected_photos()
    click.echo(ngettext("contributions rejected over %(days)d days ago: %(num)d photo removed (files deleted: %(files)d)",
                        "contributions rejected over %(days)d days ago: %(num)d photos removed (files deleted: %(files)d)",
                        photos, days=config["REJECTED_PHOTO_DAYS"], files=files))
    drafts, files = prune_drafts()
    click.echo(ngettext("audit drafts untouched for %(days)d days: %(num)d draft removed (photo files deleted: %(files)d)",
                        "audit drafts untouched for %(days)d days: %(num)d drafts removed (photo files deleted: %(files)d)",
                        drafts, days=config["AUDIT_DRAFT_DAYS"], files=files))
