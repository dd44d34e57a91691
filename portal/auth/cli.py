"""``flask --app portal users …``: account administration from the shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import ngettext

from ..cliutil import fail, needs_schema
from ..extensions import db
from .csvimport import import_technicians
from .models import ROLES
from .services import AccountError, create_user, find_user, issue_token, set_active, user_tokens

def _when(moment) -> str:
    """A time in the portal's time zone, as the web pages show it."""
    return format_datetime(moment, "yyyy-MM-dd HH:mm:ss ZZZZZ")


users_cli = AppGroup("users", help="Create users, issue API tokens, import technicians.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              help=f"One of {', '.join(ROLES)}; repeat for several roles.")
@click.option("--password", required=True, help="Initial password (at least 8 characters).")
@click.option("--name", default="", help="Full name shown in the portal.")
@click.option("--outlet", default=None, help="Outlet code (technicians belong to an outlet).")
@needs_schema
def create_command(username, roles, password, name, outlet):
    """Create a user with one or more roles."""
    try:
        user = create_user(username, roles, password, name=name, outlet_code=outlet)
    except AccountError as exc:
        db.session.rollback()
        fail(str(exc))
    click.echo(_("created %(username)s (%(roles)s)", username=user.username,
                 roles=", ".join(sorted(user.roles))))
    if "technician" in user.roles and user.outlet is None:
        click.echo(_("warning: technician %(username)s has no outlet yet; assign one with --outlet "
                     "or on the admin pages.", username=user.username), err=True)


EMAIL_MAX = 254


@users_cli.command("email")
@click.argument("username")
@click.argument("address", default="")
@needs_schema
def email_command(username, address):
    """Set USERNAME's e-mail address (reminders and alerts are also e-mailed there when SMTP is
    configured); no ADDRESS clears it."""
    user = find_user(username)
    if user is None:
        fail(_("No user named %(username)s.", username=username))
    address = address.strip()
    if address and ("@" not in address.strip("@") or len(address) > EMAIL_MAX or any(c.isspace() for c in address)):
        fail(_("Not an e-mail address: %(address)s", address=address))
    user.email = address or None
    db.session.commit()
    click.echo(_("%(username)s: e-mail %(address)s", username=user.username, address=address or "-"))


@users_cli.command("token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for.")
@needs_schema
def token_command(username, label):
    """Print a new API bearer token for USERNAME (only its hash is stored)."""
    user = find_user(username)
    if user is None:
        fail(_("No user named %(username)s.", username=username))
    try:
        token = issue_token(user, label)
    except AccountError as exc:
        fail(str(exc))
    click.echo(token)


@users_cli.command("tokens")
@click.argument("username")
@needs_schema
def tokens_command(username):
    """List USERNAME's API tokens (prefix, label, created, last used, revoked)."""
    user = find_user(username)
    if user is None:
        fail(_("No user named %(username)s.", username=username))
    for token in user_tokens(user):
        state = "revoked" if token.revoked_at else "live"
        used = _when(token.last_used_at) if token.last_used_at else "never"
        click.echo(f"{token.id}\t{token.prefix}…\t{state}\t{token.label or '-'}\t"
                   f"created {_when(token.created_at)}\tused {used}")


@users_cli.command("deactivate")
@click.argument("username")
@needs_schema
def deactivate_command(username):
    """Deactivate USERNAME: no more sign-ins or API calls; records stay."""
    user = find_user(username)
    if user is None:
        fail(_("No user named %(username)s.", username=username))
    set_active(user, False, None)
    click.echo(_("deactivated %(username)s", username=user.username))


@users_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@needs_schema
def import_command(path):
    """Import technicians from a UTF-8 CSV file (all rows or none; exit status 1 and nothing
    imported on any problem: a file that is no such CSV gets one line, the file and why)."""
    with open(path, "rb") as fh:
        result = import_technicians(fh.read())
    if result.file_problem:
        fail(f"{path}: {result.file_problem}")
    if not result.ok:
        for line, reason in result.errors:
            click.echo(f"{path}:{line}: {reason}", err=True)
        fail(f"nothing imported: {len(result.errors)} problem(s)")
    for username, _name, generated in result.created:
        from_file = _("(password from file)")
        click.echo(f"{username}\t{generated or from_file}")
    click.echo(ngettext("imported %(num)d technician", "imported %(num)d technicians", len(result.created)))
