"""Alembic environment for the portal, run through Flask-Migrate (``flask --app portal db …``).

The app's engine and metadata are the only inputs: the database URL comes from
DATABASE_URL (or the instance folder's SQLite file), never from alembic.ini.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from portal.dbtypes import UTCDateTime

config = context.config
if config.config_file_name:
    # Keep the loggers that exist: a migration run inside the portal's process (`flask restore`
    # upgrading an older backup, the tests) must not silence the app's own logger ("portal").
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")

migrate_ext = current_app.extensions["migrate"]
engine = migrate_ext.db.engine
metadata = migrate_ext.db.metadata


def render_item(kind, obj, autogen_context):
    """Write the portal's UTCDateTime as a plain aware DateTime: migrations import nothing of ours."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def skip_empty(context_, revision, directives):
    """`db migrate` with no model change writes no empty revision file."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("no schema change detected")


def options() -> dict:
    opts = dict(migrate_ext.configure_args)
    opts.setdefault("process_revision_directives", skip_empty)
    opts.setdefault("render_item", render_item)
    return opts


if context.is_offline_mode():
    context.configure(url=engine.url.render_as_string(hide_password=False),
                      target_metadata=metadata, literal_binds=True, **options())
    with context.begin_transaction():
        context.run_migrations()
else:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, **options())
        with context.begin_transaction():
            context.run_migrations()
