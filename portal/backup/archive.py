"""Writing and reading a backup folder: database copies, uploads, the manifest and its checks.

Every failure is a :class:`BackupError` with one line for the operator. Nothing here knows a
domain: the uploads are whatever lies under ``<instance>/uploads``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _
from sqlalchemy.engine import URL

FORMAT = 1  # the manifest's format; a reader refuses a larger one
KIND = "service-portal backup"
MANIFEST = "manifest.json"
UPLOADS = "uploads"  # under the instance folder: uploads/photos (kb), uploads/audit-photos (audits)
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one line."""


# --- files --------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def has_files(folder: Path) -> bool:
    """Whether a folder holds any file (empty sub-folders do not count)."""
    return folder.is_dir() and any(p.is_file() or p.is_symlink() for p in folder.rglob("*"))


def upload_files(instance: Path) -> list[str]:
    """The uploads' paths relative to the instance folder, as POSIX strings."""
    root = instance / UPLOADS
    if not root.is_dir():
        return []
    return sorted(p.relative_to(instance).as_posix() for p in root.rglob("*") if p.is_file())


def copy_uploads(instance: Path, target: Path) -> list[str]:
    """Copy the uploads into the backup folder; returns what was copied. A file removed while
    we copy is left out (its row was deleted after the database copy was taken, or soon will be)."""
    copied = []
    for name in upload_files(instance):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(instance / name, target / name)
        except FileNotFoundError:
            continue
        copied.append(name)
    return copied


def remove_empty_tree(folder: Path) -> None:
    """Remove a folder that holds only empty folders (bottom up)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.rmdir()
    folder.rmdir()


# --- the manifest -------------------------------------------------------------------------------


def write_manifest(target: Path, database: str, revision: str, names: list[str]) -> dict:
    """Checksums of the files as they lie in the backup folder, written last and atomically:
    a folder without manifest.json is an unfinished backup."""
    manifest = {
        "kind": KIND, "format": FORMAT, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": database, "alembic_revision": revision,
        "files": {name: {"bytes": (target / name).stat().st_size, "sha256": sha256_of(target / name)}
                  for name in names},
    }
    partial = target / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, target / MANIFEST)
    return manifest


def read_manifest(folder: Path) -> dict:
    """The manifest of a backup folder, checked for shape (not yet against the files)."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(_("%(dir)s has no manifest.json: it is not a portal backup, or an unfinished one.",
                            dir=folder))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BackupError(_("%(file)s is not valid JSON: %(error)s", file=path, error=exc)) from None
    problem = manifest_problem(manifest)
    if problem:
        raise BackupError(_("%(file)s: %(problem)s", file=path, problem=problem))
    return manifest


def manifest_problem(manifest) -> str | None:
    """What is wrong with a manifest's shape, in words, or None (pure)."""
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        return _("not a portal backup manifest")
    if not isinstance(manifest.get("format"), int) or manifest["format"] > FORMAT:
        return _("backup format %(found)s is not one this portal reads (%(known)d or older)",
                 found=manifest.get("format"), known=FORMAT)
    if manifest.get("database") not in DATABASE_FILES:
        return _("unknown database kind %(kind)s", kind=json.dumps(manifest.get("database")))
    if not isinstance(manifest.get("alembic_revision"), str) or not manifest["alembic_revision"]:
        return _("no schema revision (alembic_revision)")
    files = manifest.get("files")
    if not isinstance(files, dict) or DATABASE_FILES[manifest["database"]] not in files:
        return _("no database file listed")
    for name, entry in files.items():
        if not _allowed_name(name, manifest["database"]):
            return _("a file outside the backup's layout: %(name)s", name=json.dumps(name))
        if (not isinstance(entry, dict) or not isinstance(entry.get("bytes"), int)
                or not SHA256.fullmatch(str(entry.get("sha256")))):
            return _("no size or SHA-256 for %(name)s", name=name)
    return None


def _allowed_name(name, database: str) -> bool:
    """The database file, or a plain relative path under uploads/ (nothing that climbs out)."""
    if not isinstance(name, str) or "\\" in name or "\x00" in name:
        return False
    if name == DATABASE_FILES[database]:
        return True
    parts = PurePosixPath(name).parts
    return len(parts) >= 2 and parts[0] == UPLOADS and not name.startswith("/") \
        and all(p not in ("", ".", "..") for p in name.split("/"))


def verify(folder: Path, manifest: dict) -> None:
    """Every listed file is there with its size and checksum, else BackupError naming the first."""
    for name, entry in sorted(manifest["files"].items()):
        path = folder / name
        if not path.is_file():
            raise BackupError(_("%(file)s is missing: the backup is incomplete.", file=path))
        if path.stat().st_size != entry["bytes"] or sha256_of(path) != entry["sha256"]:
            raise BackupError(_("%(file)s does not match its checksum in manifest.json: the backup is damaged.",
                                file=path))


def stage_uploads(folder: Path, manifest: dict, staging: Path) -> int:
    """Copy the backup's uploads into a staging folder beside the instance's uploads."""
    count = 0
    for name in manifest["files"]:
        if name.startswith(UPLOADS + "/"):
            target = staging / name.split("/", 1)[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, target)
            count += 1
    return count


# --- SQLite -------------------------------------------------------------------------------------


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite database with the online backup API, in one step: the copy is the last
    committed state; in WAL mode writers go on meanwhile and are not seen. The copy is one
    self-contained file (rollback journal)."""
    if not source.is_file():
        raise BackupError(_("The SQLite database %(file)s does not exist.", file=source))
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise BackupError(_("SQLite backup failed: %(error)s", error=exc)) from None
    finally:
        dst.close()
        src.close()


def restore_sqlite(source: Path, target: Path) -> None:
    """Write a backed-up SQLite database into ``target`` with the backup API: one transaction on
    the target, so a failure leaves it as it was (and the portal's WAL files stay coherent)."""
    src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        if src.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(_("%(file)s is not a sound SQLite database.", file=source))
        src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(_("SQLite restore from %(file)s failed: %(error)s", file=source, error=exc)) from None
    finally:
        dst.close()
        src.close()


# --- PostgreSQL ---------------------------------------------------------------------------------


def libpq(url: URL) -> tuple[str, dict]:
    """A libpq connection URL for the client tools, and the environment that carries the password
    (never on the command line, where ``ps`` shows it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(_("%(tool)s is not on PATH: install the PostgreSQL client tools (the server's "
                            "major version or newer) to back up or restore a PostgreSQL database.", tool=name))
    return path


def _run(command: list[str], env: dict, tool: str) -> None:
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        raise BackupError(_("%(tool)s failed: %(error)s", tool=tool,
                            error=lines[0] if lines else _("exit status %(n)d", n=done.returncode)))


def pg_dump(url: URL, target: Path) -> None:
    """``pg_dump --format=custom``: one consistent snapshot (a single repeatable-read transaction)."""
    exe = _tool("pg_dump")
    conninfo, env = libpq(url)
    _run([exe, "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), "--dbname", conninfo],
         env, "pg_dump")


def pg_restore(url: URL, source: Path) -> None:
    """``pg_restore`` into an empty database in one transaction: on any error nothing stays."""
    exe = _tool("pg_restore")
    conninfo, env = libpq(url)
    _run([exe, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname", conninfo,
          str(source)], env, "pg_restore")
