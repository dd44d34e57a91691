"""Where the rate-limit counters live (``PORTAL_RATELIMIT_STORAGE``), and what a start says about it.

The certificate lookups (/verify and /api/v1/certificates, Flask-Limiter) and the JSON API's
budgets (apilimits) count in one store: ``memory://`` counts in each worker process, so with
several gunicorn workers (or hosts) a client gets that many times the limit; a shared store such
as ``redis://host:6379/0`` (the ``redis`` package, extra ``production``) holds one count for all.
Sign-in throttling is not counted here: it reads the failed attempts from the database.

At start the app says what would surprise an operator: per-worker counting under gunicorn with
several workers, or a shared store that does not answer (each worker then counts in memory until
it does; see apilimits and Flask-Limiter's in-memory fallback). A store that cannot be used at
all (unknown scheme, ``redis`` not installed) refuses the start with one line.
"""

from __future__ import annotations

import inspect
import sys
from urllib.parse import urlsplit, urlunsplit

from flask import Flask
from limits.errors import ConfigurationError

from .extensions import limiter


def masked(uri: str) -> str:
    """``uri`` without its password, fit for a log line."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def gunicorn_workers() -> int | None:
    """The number of workers gunicorn was told to run, when gunicorn is loading this app; else None.

    gunicorn sets no variable that says so (``SERVER_SOFTWARE`` names it, not the count), but it
    builds the app from inside its application object, whose ``cfg`` holds the final settings
    (command line, ``GUNICORN_CMD_ARGS``, config file, ``WEB_CONCURRENCY``): in each worker
    (``Worker.load_wsgi``), in the master with ``--preload``, or with ``--check-config``."""
    base = sys.modules.get("gunicorn.app.base")
    if base is None:
        return None
    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, base.BaseApplication) and getattr(candidate, "cfg", None):
            return candidate.cfg.workers
        frame = frame.f_back
    return None


def init_app(app: Flask) -> None:
    """Bind the limiter to ``app`` and report on its store (see the module docstring)."""
    uri = app.config["RATELIMIT_STORAGE_URI"]
    try:
        limiter.init_app(app)
    except (ConfigurationError, ValueError) as exc:  # unknown scheme, redis not installed, bad URL
        reason = str(exc).replace(uri, masked(uri))  # limits repeats the URL, password and all
        raise RuntimeError(f"PORTAL_RATELIMIT_STORAGE={masked(uri)} cannot be used: {reason} "
                           f"(Redis needs the redis package: pip install '.[production]')") from None
    if not app.config.get("RATELIMIT_ENABLED", True):
        return
    if uri.startswith("memory://"):
        workers = gunicorn_workers()
        if workers and workers > 1:
            app.logger.warning(
                "rate limits are counted per worker: PORTAL_RATELIMIT_STORAGE is memory:// and "
                "gunicorn runs %d workers, so a client may get %d times each limit (/verify, "
                "the API); set PORTAL_RATELIMIT_STORAGE=redis://HOST:6379/0 to share them",
                workers, workers)
    elif not limiter.storage.check():
        app.logger.warning(
            "rate-limit store %s does not answer: each worker counts for itself until it does",
            masked(uri))
