"""``flask learning-members rebuild``: rebuild the kept assignment members (the migration that adds
the table fills it; this is for rows a script's own session changed)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from . import keeper

members_cli = AppGroup("learning-members", help="The kept course-assignment members.")


@members_cli.command("rebuild")
def rebuild() -> None:
    """Rebuild every course assignment's kept members from the live rule."""
    click.echo(f"{keeper.rebuild_all()} assignments rebuilt")
