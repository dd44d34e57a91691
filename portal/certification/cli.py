"""``flask --app portal certs issue|sweep``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth.models import User
from ..cliutil import cli_request, fail, needs_schema
from ..extensions import db
from . import services
from .rules import local_today

certs_cli = AppGroup("certs", help="Issue certificates and apply expiry and lapse rules.")


@certs_cli.command("issue")
@click.argument("username")
@click.option("--tier", "tier_code", required=True, help="Tier code from content/certification/tiers.yaml.")
@click.option("--force", is_flag=True, help="Issue even if requirements are unmet (the log says so).")
@click.option("--note", default="", help="Why (required with --force).")
@needs_schema
def issue_command(username: str, tier_code: str, force: bool, note: str):
    """Issue a certificate to an eligible technician; prints its number on the last line."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        fail(_("No user %(name)s.", name=username))
    tier = services.tier_by_code(tier_code)
    if tier is None:
        known = ", ".join(t.code for t in services.active_tiers())
        fail(_("No tier %(code)s (known: %(known)s).", code=tier_code, known=known or "—"))
    with cli_request():
        try:
            cert = services.issue(user, tier, local_today(), note=note, force=force)
        except services.NotEligible as refused:
            click.echo(_("%(name)s is not eligible for %(tier)s. Unmet:", name=user.username, tier=tier.code),
                       err=True)
            for req in refused.result.unmet:
                detail = "; ".join(req.missing)
                click.echo(f"- {req.label}" + (f": {detail}" if detail else ""), err=True)
            sys.exit(1)
        except services.CertificateError as problem:
            fail(str(problem))
        if cert.forced:
            click.echo(_("Issued with --force: the log records the unmet requirements and the note."))
        click.echo(cert.number)


@certs_cli.command("sweep")
@needs_schema
def sweep_command():
    """Expire certificates past their date and lapse those whose holder missed the current
    quarterly course (run daily, e.g. from cron)."""
    with cli_request():
        report = services.sweep(local_today())
        click.echo(_("expired %(expired)d, lapsed %(lapsed)d", expired=report.expired, lapsed=report.lapsed))
