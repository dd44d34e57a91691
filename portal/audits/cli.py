"""``flask --app portal audits draw``: draw a period of the audit programmes (once each);
``flask --app portal audits rebuild-coverage``: recount the coverage page's kept facts."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy import select

from ..cliutil import cli_request, fail, needs_schema
from ..extensions import db
from ..i18n import local_today
from . import coverage
from . import draw as drawing
from .models import AuditDraw, AuditProgramme

audits_cli = AppGroup("audits", help="The audit programme: draw who is visited this period.")


def echo_draw(programme: AuditProgramme, row: AuditDraw, made: bool) -> None:
    excluded = ", ".join(f"{reason} {n}" for reason, n in sorted((row.excluded or {}).items())) or "0"
    click.echo(_("%(programme)s %(period)s: %(state)s — eligible %(eligible)d, excluded %(excluded)s, drawn %(drawn)d, "
                 "unassigned %(unassigned)d, seed %(seed)s",
                 programme=programme.slug, period=row.period, state=_("drawn now") if made else _("already drawn"),
                 eligible=row.eligible, excluded=excluded, drawn=row.drawn, unassigned=row.unassigned, seed=row.seed))


@audits_cli.command("draw")
@click.option("--period", default=None, help="2027-01 (monthly) or 2027-Q1 (quarterly); default: the current one.")
@click.option("--programme", "slug", default=None, help="One programme's slug; default: every active programme.")
@click.option("--seed", default=None, help="The seed (hex); default: a random one. Only for a period not drawn yet; "
              "the draw is marked as drawn from a chosen seed (the draw page says so).")
@click.option("--verify", "check", is_flag=True, help="Draw again from the kept inputs and seed and compare.")
@needs_schema
def draw_command(period: str | None, slug: str | None, seed: str | None, check: bool):
    """Draw a period of each active programme (or the one named): who is visited, by whom, by when.
    A period already drawn is left as it is and shown."""
    query = select(AuditProgramme).order_by(AuditProgramme.slug)
    query = query.where(AuditProgramme.slug == slug) if slug else query.where(AuditProgramme.active.is_(True))
    programmes = list(db.session.scalars(query))
    if slug and not programmes:
        fail(_("No audit programme %(slug)s.", slug=slug))
    if not programmes:
        click.echo(_("No active audit programme."))
        return
    failed = False
    with cli_request():
        today = local_today()
        for programme in programmes:
            wanted = period or drawing.period_of(today, (programme.spec or {}).get("period", "monthly"))
            before = None
            try:
                drawing.check_period(programme, wanted)
                before = drawing.existing_draw(programme, wanted)
                row = before or drawing.draw(programme, wanted, seed=seed, today=today)
            except drawing.DrawError as error:
                click.echo(f"{programme.slug}: {error}", err=True)
                failed = True
                continue
            echo_draw(programme, row, before is None)
            if check:
                ok = drawing.verify(row)
                click.echo(_("verified: the seed gives the same technicians") if ok
                           else _("NOT verified: the seed gives other technicians than the visits"))
                failed = failed or not ok
    if failed:
        raise SystemExit(1)


@audits_cli.command("rebuild-coverage")
@needs_schema
def rebuild_coverage_command():
    """Recount the coverage page's kept facts (each technician's last audit and visits per year)
    from the reports and visits: after rows were copied in behind the portal's back (a restore
    from another tool, COPY, raw SQL). The portal keeps them itself otherwise."""
    with cli_request():
        audited = coverage.rebuild_kept()
        db.session.commit()
        click.echo(_("coverage facts recounted: %(num)d technicians with a last audit", num=audited))
