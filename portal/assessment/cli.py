"""``flask --app portal quizzes import|export``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..cliutil import fail, needs_schema
from ..extensions import db
from ..inputs import NotText, file_text
from .attempts import backfill_pairs, backfill_responses
from .bank import CATEGORY_RE, export_gift, export_yaml, run_import
from .editing import regrade_question
from .models import Question

quizzes_cli = AppGroup("quizzes", help="Import and export question banks.")


@quizzes_cli.command("keep-responses")
@needs_schema
def keep_responses_command():
    """Keep the responses of attempts graded before responses were kept, and the matching pairs
    of responses kept before pairs were (idempotent)."""
    click.echo(_("quizzes: responses kept for %(n)d graded attempts", n=backfill_responses()))
    click.echo(_("quizzes: %(n)d matching pairs kept", n=backfill_pairs()))


@quizzes_cli.command("regrade")
@click.argument("question_id", type=int)
@click.option("--batch", default=200, show_default=True, help="Attempts per transaction.")
@needs_schema
def regrade_command(question_id: int, batch: int):
    """Grade every graded attempt that drew a question again, on its current version (after its
    key was corrected): scores, kept figures, results and certificates follow; each change logged."""
    question = db.session.get(Question, question_id)
    if question is None:
        fail(_("No question %(id)d.", id=question_id))
    outcome = regrade_question(question, batch=batch)
    click.echo(_("regraded %(n)d attempts, %(changed)d changed", n=outcome.attempts, changed=len(outcome.changed)))


@quizzes_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["gift", "moodle-xml"]), required=True)
@click.option("--category", required=True, help="Category path, e.g. onboarding/final.")
@click.option("--atomic", is_flag=True, help="Import nothing if any item is skipped.")
@needs_schema
def import_command(file: Path, fmt: str, category: str, atomic: bool):
    """Import questions from a GIFT or Moodle XML file into a category. Exit status 0 when at
    least one question was imported (skipped items are listed by line); 1 when nothing was: a
    file that is not of the format (one line: the file and why), every item skipped, or
    --atomic with any item skipped."""
    if not CATEGORY_RE.match(category) or len(category) > 200:
        fail(_("The category must be a path like onboarding/final (lower-case letters, digits, dashes)."))
    try:
        source = file_text(file.read_bytes())
    except NotText as exc:
        fail(f"{file}: {exc}")
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    outcome = run_import(source, fmt, category, atomic=atomic, name=str(file))
    if outcome.failure:
        fail(f"{file}: {outcome.failure}")
    for line, reason in outcome.skipped:
        click.echo(f"skipped line {line}: {reason}")
    for line, first in outcome.same:
        click.echo(_("line %(line)d: the same question as line %(first)d (imported once)", line=line, first=first))
    for warning in outcome.warnings:
        click.echo(_("warning: %(text)s", text=warning), err=True)
    click.echo(outcome.summary)
    if not outcome.stored:
        sys.exit(1)


@quizzes_cli.command("export")
@click.option("--category", default=None, help="A category path; with --format yaml, every category when left out.")
@click.option("--format", "fmt", type=click.Choice(["gift", "yaml"]), default="gift")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="A file (gift), a folder (yaml: one <category>/bank.yaml each), or standard output.")
@needs_schema
def export_command(category: str | None, fmt: str, lang: str, output: Path | None):
    """Write questions as GIFT (one category) or in the files' YAML format (content load reads it back)."""
    if fmt == "yaml":
        try:
            files = export_yaml(category)
        except LookupError:
            fail(_("No category %(name)s.", name=category))
        for name, text in files.items():
            if output:
                (output / name).parent.mkdir(parents=True, exist_ok=True)
                (output / name).write_text(text, encoding="utf-8")
            else:
                click.echo(f"# {name}\n{text}", nl=False)
        return
    if not category:
        fail(_("GIFT exports one category: give --category."))
    try:
        text, left_out = export_gift(category, lang)
    except LookupError:
        fail(_("No category %(name)s.", name=category))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    if left_out:
        click.echo(_("left out %(n)d ordering questions (GIFT has no ordering type)", n=left_out), err=True)
