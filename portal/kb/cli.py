"""``flask --app portal search …``: the search index."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from ..cliutil import needs_schema
from ..extensions import db
from . import gaps, indexing
from .models import IndexHost

search_cli = AppGroup("search", help="The fault-case search index.")


@search_cli.command("reindex")
@needs_schema
def reindex_command():
    """Build a new index beside the live one and swap it in; the old one serves until then."""
    total = indexing.published_count()
    started = time.monotonic()
    with click.progressbar(length=max(total, 1), label="indexing cases",
                           show_pos=True, file=None) as bar:
        last = [0]

        def progress(count):
            bar.update(count - last[0])
            last[0] = count

        count = indexing.rebuild(progress=progress)
    click.echo(ngettext("indexed %(num)d case in %(s).1f s", "indexed %(num)d cases in %(s).1f s", count, s=time.monotonic() - started))


@search_cli.command("status")
@needs_schema
def status_command():
    """Where the index is, what it holds, and whether it is current."""
    mgr = indexing.manager()
    state = mgr.state()
    click.echo(_("folder: %(folder)s", folder=mgr.current_folder() or "-"))
    click.echo(_("documents: %(docs)d (published cases: %(cases)d)", docs=mgr.doc_count(),
                 cases=indexing.published_count()))
    click.echo(_("applied change: %(n)d", n=state.applied))
    click.echo(_("stale: %(reason)s", reason=indexing.is_stale() or _("no")))
    for host in db.session.scalars(select(IndexHost).order_by(IndexHost.applied, IndexHost.name)):
        click.echo(_("host %(name)s: applied change %(n)d, last seen %(seen)s UTC", name=host.name,
                     n=host.applied, seen=host.seen_at.strftime("%Y-%m-%d %H:%M")))


@search_cli.command("gaps-rebuild")
@needs_schema
def gaps_rebuild_command():
    """Recompute the kept search gaps per day (kb_search_gap_day) from the search log: after
    search-log rows were written without the app (a bulk load); the app keeps them otherwise.
    Days before the log's oldest row (pruned by `flask daily`) keep their counts."""
    started = time.monotonic()
    gaps.rebuild()
    db.session.commit()
    click.echo(_("search gaps kept from the search log in %(s).1f s", s=time.monotonic() - started))
