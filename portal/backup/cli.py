"""``flask --app portal backup DIR`` and ``flask --app portal restore DIR``.

Backup copies the database first, then the uploads: a photo is written before the row naming it
is committed, so every photo the copied rows name is copied too (a photo added meanwhile comes
along without its row, which is harmless).

The instance's generated secret key is not backed up: a backup is meant to travel off the host,
and the key with the database would let its holder sign session cookies the live portal accepts.
Nothing stored is encrypted with it: a restored instance without SECRET_KEY in its environment
generates a new key, users sign in again and devices are new to the sign-in throttle (production
sets SECRET_KEY on every host, so there nothing changes).

Restore wants an empty instance: a database without tables and no uploads. There is no
``--force``: restoring over live data is done by pointing the portal at a new database (and, for
SQLite, a new instance folder), never by overwriting the old one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

import click
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_migrate import upgrade
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from ..cliutil import fail, needs_schema
from ..extensions import db
from ..kb import indexing
from . import archive
from .archive import BackupError


def database_kind() -> str:
    return db.engine.dialect.name


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def code_revisions() -> tuple[set[str], set[str]]:
    """(every revision this code's migrations know, their heads)."""
    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    return {r.revision for r in script.walk_revisions()}, set(script.get_heads())


def revision_decision(revision: str, known: set[str], heads: set[str]) -> str:
    """``current``, ``older`` (upgrade after restoring) or ``unknown`` (a newer portal's, or
    another branch's: refuse). Pure."""
    if revision in heads:
        return "current"
    return "older" if revision in known else "unknown"


def _sqlite_file() -> Path:
    name = db.engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(_("Only a SQLite database in a file can be backed up or restored."))
    return Path(name)


# --- backup -------------------------------------------------------------------------------------


def _write(target: Path, instance: Path, revision: str) -> tuple[dict, int]:
    kind = database_kind()
    database_file = archive.DATABASE_FILES.get(kind)
    if database_file is None:
        raise BackupError(_("Backing up a %(kind)s database is not supported.", kind=kind))
    if kind == "sqlite":
        archive.copy_sqlite(_sqlite_file(), target / database_file)
    else:
        archive.pg_dump(db.engine.url, target / database_file)
    uploads = archive.copy_uploads(instance, target)
    return archive.write_manifest(target, kind, revision, [database_file, *uploads]), len(uploads)


def _clean_up(target: Path, created: bool) -> None:
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for path in target.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@click.command("backup")
@click.argument("directory", type=click.Path(path_type=Path))
@with_appcontext
@needs_schema
def backup_command(directory: Path):
    """Write a consistent copy of the database and the uploads, with a manifest, to DIRECTORY
    (new, or empty). Safe while the portal serves."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        fail(_("%(dir)s exists and is not an empty folder: back up into a new or empty one.", dir=directory))
    instance = Path(current_app.instance_path)
    if directory.resolve().is_relative_to((instance / archive.UPLOADS).resolve()):
        fail(_("%(dir)s is inside the uploads it would copy: back up somewhere else.", dir=directory))
    revision = current_revision()
    if revision is None:
        fail(_("The database has no schema revision (no alembic_version table): run "
               "`flask --app portal db upgrade` first."))
    created = not directory.exists()
    started = time.monotonic()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)  # a new folder: for its owner only
        manifest, uploads = _write(directory, instance, revision)
    except (BackupError, OSError) as exc:
        _clean_up(directory, created)
        fail(str(exc))
    size = sum(entry["bytes"] for entry in manifest["files"].values())
    click.echo(ngettext("backed up the %(kind)s database (revision %(rev)s) and %(num)d uploaded file, "
                        "%(mb).1f MB in all, to %(dir)s in %(s).1f s",
                        "backed up the %(kind)s database (revision %(rev)s) and %(num)d uploaded files, "
                        "%(mb).1f MB in all, to %(dir)s in %(s).1f s", uploads,
                        kind=manifest["database"], rev=revision, mb=size / 1e6, dir=directory,
                        s=time.monotonic() - started))


# --- restore ------------------------------------------------------------------------------------


def _check_backup(directory: Path) -> tuple[dict, str]:
    """The manifest, checked against the files and this portal; and the revision decision."""
    if not directory.is_dir():
        raise BackupError(_("%(dir)s is not a folder.", dir=directory))
    manifest = archive.read_manifest(directory)
    archive.verify(directory, manifest)
    if manifest["database"] != database_kind():
        raise BackupError(_("This is a backup of a %(theirs)s database; DATABASE_URL names a %(ours)s one.",
                            theirs=manifest["database"], ours=database_kind()))
    known, heads = code_revisions()
    decision = revision_decision(manifest["alembic_revision"], known, heads)
    if decision == "unknown":
        raise BackupError(_("The backup's schema revision %(rev)s is unknown to this portal (a newer version "
                            "wrote it): restore it with that version or a later one.",
                            rev=manifest["alembic_revision"]))
    return manifest, decision


def _check_empty(instance: Path) -> None:
    try:
        tables = inspect(db.engine).get_table_names()
    except OperationalError as exc:
        raise BackupError(_("Cannot reach the database: %(error)s",
                            error=str(exc.orig).strip().splitlines()[0])) from None
    if tables:
        raise BackupError(ngettext(
            "The database already has %(num)d table: restore needs an empty database (a new PostgreSQL "
            "database, or a new instance folder for SQLite).",
            "The database already has %(num)d tables: restore needs an empty database (a new PostgreSQL "
            "database, or a new instance folder for SQLite).", len(tables)))
    if archive.has_files(instance / archive.UPLOADS):
        raise BackupError(_("%(dir)s already holds uploaded files: restore needs an empty instance folder.",
                            dir=instance / archive.UPLOADS))


def _restore_database(directory: Path, manifest: dict) -> None:
    source = directory / archive.DATABASE_FILES[manifest["database"]]
    if manifest["database"] == "sqlite":
        target = _sqlite_file()
        db.engine.dispose()  # no pooled connection holds the empty database meanwhile
        archive.restore_sqlite(source, target)
        db.engine.dispose()
    else:
        archive.pg_restore(db.engine.url, source)


def _restore(directory: Path, manifest: dict, instance: Path) -> int:
    """Uploads staged beside their place, then the database in one transaction, then the uploads
    moved into place: on a failure before that move, nothing of the backup is left behind."""
    staging = instance / f".restore-{secrets.token_hex(4)}"
    try:
        count = archive.stage_uploads(directory, manifest, staging)
        _restore_database(directory, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    uploads = instance / archive.UPLOADS
    archive.remove_empty_tree(uploads)  # folders the portal made before any upload
    if count:
        os.rename(staging, uploads)
    else:
        shutil.rmtree(staging, ignore_errors=True)
    return count


@click.command("restore")
@click.argument("directory", type=click.Path(path_type=Path))
@with_appcontext
def restore_command(directory: Path):
    """Restore a backup written by `flask backup` into an empty instance (a database without
    tables, no uploads), upgrade its schema if it is older, and rebuild the search index."""
    instance = Path(current_app.instance_path)
    try:
        manifest, decision = _check_backup(directory)
        _check_empty(instance)
        uploads = _restore(directory, manifest, instance)
    except (BackupError, OSError) as exc:
        fail(str(exc))
    click.echo(ngettext("restored the %(kind)s database (revision %(rev)s) and %(num)d uploaded file from %(dir)s",
                        "restored the %(kind)s database (revision %(rev)s) and %(num)d uploaded files from %(dir)s",
                        uploads, kind=manifest["database"], rev=manifest["alembic_revision"], dir=directory))
    if decision == "older":
        upgrade()
        click.echo(_("schema upgraded to %(rev)s", rev=current_revision()))
    count = indexing.rebuild()
    click.echo(ngettext("search index rebuilt: %(num)d case", "search index rebuilt: %(num)d cases", count))
