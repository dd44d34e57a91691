"""``flask --app portal demo``: demo network, users and content. Idempotent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sys

import click
import yaml
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth.models import Outlet, Province, Region
from ..auth.services import create_user, find_user
from ..cliutil import needs_schema
from ..extensions import db

DEMO_FILE = Path(__file__).with_name("network.yaml")
DEMO_PASSWORD = "portal-demo"


def _upsert(model, code: str, **values) -> tuple[object, bool]:
    obj = db.session.scalar(select(model).where(model.code == code))
    created = obj is None
    if created:
        obj = model(code=code, **values)
        db.session.add(obj)
        db.session.flush()
    return obj, created


def load_demo() -> dict[str, int]:
    """Create what is missing of the demo; leave everything that exists untouched."""
    data = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    created = {"regions": 0, "provinces": 0, "outlets": 0, "users": 0}
    provinces = {}
    for r in data["regions"]:
        region, new = _upsert(Region, r["code"], name_zh=r["name_zh"], name_en=r["name_en"])
        created["regions"] += new
        for p in r["provinces"]:
            province, new = _upsert(Province, p["code"], name_zh=p["name_zh"],
                                    name_en=p["name_en"], region_id=region.id)
            created["provinces"] += new
            provinces[p["code"]] = province
    for o in data["outlets"]:
        _outlet, new = _upsert(Outlet, o["code"], name_zh=o["name_zh"], name_en=o["name_en"],
                               city=o.get("city", ""), province_id=provinces[o["province"]].id)
        created["outlets"] += new
    db.session.commit()
    for u in data["users"]:
        if find_user(u["username"]) is None:
            start = u.get("start_date")
            create_user(u["username"], u["roles"], DEMO_PASSWORD, name=u["name"],
                        outlet_code=u.get("outlet"),
                        start_date=start if isinstance(start, date) else None)
            created["users"] += 1
    return created


@click.command("demo")
@with_appcontext
@needs_schema
def demo_command():
    """Load the demo network, demo users (password: portal-demo) and all shipped content."""
    from ..content.cli import default_content_root, load_content

    created = load_demo()
    click.echo("demo: " + ", ".join(f"{n} {what} created" for what, n in created.items()))
    report = load_content(default_content_root())
    for problem in report.problems:
        click.echo(str(problem), err=True)
    click.echo(_("demo users: admin, trainer, auditor, tech, newtech; password: %(pw)s",
                 pw=DEMO_PASSWORD))
    if report.problems:
        sys.exit(1)
