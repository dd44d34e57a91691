"""``flask learning-members rebuild``: rebuild the kept assignment members (after the migration)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from . import keeper

members_cli = AppGroup("learning-members", help="The kept course-assignment members.")


@members_cli.command("rebuild")
def rebuild() -> None:
    """Rebuild every course assignment's kept members from the live rule."""
    click.echo(f"{keeper.rebuild_all()} assignments rebuilt")
