"""``flask --app portal content load [PATH]`` and ``flask --app portal content check [PATH]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import gettext as _

from ..cliutil import fail, needs_schema
from ..inputs import NotText, file_text
from .check import check, summary
from .facts import FactsError, facts_path, load_facts
from .loader import Report, plan

content_cli = AppGroup("content", help="Load the repository's content files into the database.")


def default_content_root() -> Path:
    """PORTAL_CONTENT_DIR when set; else content/ in the working directory; else the checkout's."""
    if configured := current_app.config.get("PORTAL_CONTENT_DIR"):
        return Path(configured)
    here = Path.cwd() / "content"
    return here if here.is_dir() else Path(current_app.root_path).parent / "content"


def facts_file_of(path: Path) -> Path | None:
    """The facts.yaml that loading PATH checks first: PATH itself, or the one of a content root."""
    path = Path(path)
    if path.name == "facts.yaml":
        return path
    return facts_path(path) if path.is_dir() and facts_path(path).is_file() else None


def check_facts(path: Path) -> Report:
    """facts.yaml read and checked (nothing is stored: the loaders render from the file)."""
    report = Report()
    try:
        load_facts(path)
    except FactsError as exc:
        report.problems.extend(exc.problems)
    return report


CONTENT_SUFFIXES = (".md", ".yaml", ".yml")


def unreadable_files(path: Path) -> list[tuple[Path, str]]:
    """(file, reason) for each content file that loading PATH would read and that is no text file
    (binary, an image, not UTF-8): ``content load`` refuses those before anything is stored. A
    single file of another kind (not .md or .yaml), or a folder without one, is refused too."""
    if path.is_file() and path.suffix.lower() not in CONTENT_SUFFIXES:
        return [(path, _("not a content file: the portal loads .md and .yaml files"))]
    files = set()
    facts_file = facts_file_of(path)
    if facts_file is not None:
        files.add(facts_file)
    for _loader, where in plan(path):
        candidates = [where] if where.is_file() else where.rglob("*")
        files.update(f for f in candidates if f.suffix.lower() in CONTENT_SUFFIXES and f.is_file())
    if not files:
        return [(path, _("no .md or .yaml file in it: nothing to load"))]
    found = []
    for file in sorted(files):
        try:
            file_text(file.read_bytes(), allow_empty=True)
        except NotText as exc:
            found.append((file, str(exc)))
        except OSError as exc:
            found.append((file, exc.strerror or str(exc)))
    return found


def load_content(path: Path, echo=click.echo) -> Report:
    """Check facts.yaml (when PATH is a content root or the file), then run the loaders."""
    total = Report()
    facts_file = facts_file_of(path)
    if facts_file is not None:
        report = check_facts(facts_file)
        echo("facts: " + (_("%(n)d problem(s)", n=len(report.problems)) if report.problems else _("valid")))
        total.add(report)
    for loader, where in plan(path):
        report = loader.load(where)
        echo(f"{loader.name}: {report.summary()}")
        total.add(report)
    return total


@content_cli.command("load")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@needs_schema
def load_command(path: Path | None):
    """Load content files (default: content/); prints created / updated / unchanged. Exit status
    1 when a file failed (FILE:LINE: FIELD: message; the others still load), and, with nothing
    loaded, when a content file under PATH is no text (binary, not UTF-8) or nothing there loads."""
    path = path or default_content_root()
    if not plan(path) and facts_file_of(path) is None:
        fail(_("Nothing under %(path)s that the portal knows how to load: give the content folder (with kb/, "
               "courses/, quizzes/, …), one of those folders, or one of their files.", path=path))
    unreadable = unreadable_files(path)
    if unreadable:  # a file of the wrong kind among the content files: nothing is loaded
        for file, reason in unreadable[:-1]:
            click.echo(f"error: {file}: {reason}", err=True)
        fail(f"{unreadable[-1][0]}: {unreadable[-1][1]}")
    report = load_content(path)
    for warning in report.warnings:
        click.echo(_("warning: %(text)s", text=warning), err=True)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    click.echo(report.summary())
    if report.problems:
        sys.exit(1)
    if not (report.created or report.updated or report.unchanged or report.warnings):  # kept, with a warning: read
        fail(_("%(path)s: nothing in it was loaded: no file there is one the portal reads (kb/*.md, "
               "courses/*/course.yaml, quizzes/**/*.yaml, audits/*.yaml, …)", path=path))


@content_cli.command("check")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--quizzes", "quizzes_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The question banks and quizzes (default: quizzes/ beside the content root).")
def check_command(path: Path | None, quizzes_dir: Path | None):
    """Check content files against content/facts.yaml and each other (reads files, not the
    database): prints FILE:LINE: message per finding; exit status 1 when there is any."""
    findings = check(path or default_content_root(), quizzes_dir)
    for finding in findings:
        click.echo(finding.display())
    click.echo(summary(findings))
    if findings:
        sys.exit(1)
