"""``flask --app portal search …``: the search index."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from ..cliutil import needs_schema
from . import indexing

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
    click.echo(f"indexed {count} cases in {time.monotonic() - started:.1f} s")


@search_cli.command("status")
@needs_schema
def status_command():
    """Where the index is, what it holds, and whether it is current."""
    mgr = indexing.manager()
    state = mgr.state()
    click.echo(f"folder: {mgr.current_folder() or '(none)'}")
    click.echo(f"documents: {mgr.doc_count()} (published cases: {indexing.published_count()})")
    click.echo(f"applied change: {state.applied}")
    click.echo(f"stale: {indexing.is_stale() or 'no'}")
