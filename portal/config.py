"""Configuration: safe defaults, overridden by environment variables.

Everything a running instance keeps locally lives in its instance folder
(``PORTAL_INSTANCE_PATH``): the SQLite database, the search index, uploads and
the generated secret key. Two instances with different folders share nothing
but the database named by ``DATABASE_URL``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.sansio.utils import host_is_trusted


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:  # a misconfiguration must be loud, not silent
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_positive(name: str, default: int) -> int:
    """A whole number of at least 1 (a retention period in days, a batch size)."""
    value = _env_int(name, default)
    if value < 1:
        raise RuntimeError(f"{name} must be at least 1, got {value}")
    return value


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs.

    SQLAlchemy would pick psycopg2 for ``postgresql://``, which the project does
    not install; operators should not have to know that.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else generated once into the instance folder.

    The key is written to a temporary file and linked into place, which fails if the
    file exists: several workers starting together agree on one key, and none can
    read a half-written file.
    """
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    return _instance_token(Path(instance_path) / "secret_key", 32, "a new secret key")


def load_host_id(instance_path: str) -> str:
    """This host's id (``<instance>/host_id``, generated once): the search index in this instance
    folder reports its place in the shared change log under it (kb/indexing.py)."""
    return _instance_token(Path(instance_path) / "host_id", 12, "a new host id")


def _instance_token(path: Path, nbytes: int, what: str) -> str:
    """A random token kept in ``path``, generated once. It is written to a temporary file and
    linked into place, which fails if the file exists: several workers starting together agree
    on one token, and none can read a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(nbytes))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its token
        finally:
            tmp.unlink()
    token = path.read_text().strip()
    if not token:
        raise RuntimeError(f"{path} is empty; delete it to generate {what}")
    return token


def ratelimit_storage_options(uri: str, key_prefix: str) -> dict:
    """Options for the rate-limit store at ``uri`` (the ``limits`` package's storage).

    Redis: keys start with ``key_prefix`` (several portals may share one server), a server
    that does not answer is given up after a second instead of holding the request, and its
    errors arrive as ``limits.errors.StorageError`` (see apilimits). Other stores: none."""
    if not uri.startswith("redis"):
        return {}
    return {"key_prefix": key_prefix, "wrap_exceptions": True,
            "socket_connect_timeout": 1, "socket_timeout": 1}


def build_config(instance_path: str) -> dict:
    """The configuration mapping for one app instance."""
    database_url = os.environ.get("DATABASE_URL") or (
        "sqlite:///" + str(Path(instance_path) / "portal.sqlite3")
    )
    ratelimit_storage = os.environ.get("PORTAL_RATELIMIT_STORAGE", "").strip() or "memory://"
    return {
        "SECRET_KEY": load_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # The content root (a checkout's content/, its quizzes/ beside it): `content load`, `demo`,
        # lesson and question pictures, the trace page. Unset: content/ in the working directory,
        # else the one beside the package (a checkout); an installed wheel carries no content.
        "PORTAL_CONTENT_DIR": os.path.abspath(os.environ["PORTAL_CONTENT_DIR"].strip())
        if os.environ.get("PORTAL_CONTENT_DIR", "").strip() else None,
        # Sessions: HttpOnly always; SameSite=Lax; Secure is decided per request
        # (see security.PortalSessionInterface) or forced with PORTAL_HTTPS=1.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("PORTAL_HTTPS"),
        "SESSION_COOKIE_NAME": "portal_session",
        # The cookie itself; the server ends sessions earlier (SESSION_* below).
        "PERMANENT_SESSION_LIFETIME": _env_int("PORTAL_SESSION_TECHNICIAN_ABSOLUTE_DAYS", 14) * 24 * 3600,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # CSRF tokens live as long as the session: a technician may keep a form open for hours.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": True,
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        # Public certificate lookups (/verify, /api/v1/certificates): per client address.
        # Several workers or hosts need a shared store, e.g. redis://localhost:6379/0 (see
        # ratelimits.py; a store that stops answering is replaced by each worker's memory).
        "RATELIMIT_STORAGE_URI": ratelimit_storage,
        "RATELIMIT_STORAGE_OPTIONS": ratelimit_storage_options(
            ratelimit_storage, os.environ.get("PORTAL_RATELIMIT_KEY_PREFIX", "portal")),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": not ratelimit_storage.startswith("memory://"),
        "PORTAL_VERIFY_RATE": os.environ.get("PORTAL_VERIFY_RATE", "20 per minute; 200 per hour"),
        # The JSON API (/api/v1/): per token (or signed-in user), per client address, and
        # failed authentication (missing or bad credentials) per client address.
        "PORTAL_API_RATE": os.environ.get("PORTAL_API_RATE", "120 per minute; 3000 per hour"),
        "PORTAL_API_ADDRESS_RATE": os.environ.get("PORTAL_API_ADDRESS_RATE", "300 per minute"),
        "PORTAL_API_AUTH_FAILURE_RATE": os.environ.get("PORTAL_API_AUTH_FAILURE_RATE",
                                                       "20 per minute"),
        # Technicians' voice: messages one user may send (counted under a keyed digest of the user).
        "PORTAL_VOICE_RATE": os.environ.get("PORTAL_VOICE_RATE", "5 per hour; 20 per day"),
        # Public address and host names: see production_problem() below.
        "PORTAL_ENV": os.environ.get("PORTAL_ENV", "development").strip().lower(),
        "PORTAL_BASE_URL": os.environ.get("PORTAL_BASE_URL", "").strip(),
        "TRUSTED_HOSTS": [h.strip() for h in os.environ.get("PORTAL_TRUSTED_HOSTS", "").split(",")
                          if h.strip()] or None,
        # A valid certificate can be renewed only this many days before its expiry (once per period).
        "PORTAL_RENEWAL_WINDOW_DAYS": _env_int("PORTAL_RENEWAL_WINDOW_DAYS", 90),
        # Languages and time
        "PORTAL_LOCALES": ("zh_CN", "en"),
        "BABEL_DEFAULT_LOCALE": os.environ.get("PORTAL_DEFAULT_LOCALE", "zh_CN"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("PORTAL_TIMEZONE", "Asia/Shanghai"),
        # Sign-in throttling (per account and per client address, over a sliding window):
        # after this many failures each further attempt waits 1, 2, 4 … seconds, at most
        # LOGIN_MAX_DELAY_SECONDS. Nobody is locked out; a trusted device is not slowed by others.
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": _env_int("PORTAL_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": _env_int("PORTAL_LOGIN_MAX_FAILURES_PER_ADDRESS", 20),
        "LOGIN_MAX_DELAY_SECONDS": _env_int("PORTAL_LOGIN_MAX_DELAY_SECONDS", 60),
        "LOGIN_WINDOW_SECONDS": _env_int("PORTAL_LOGIN_WINDOW_SECONDS", 15 * 60),
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers we trust.
        "PROXY_HOPS": _env_int("PORTAL_PROXY_HOPS", 0),
        # Signed-in devices (enforced on the server-side session row, so a copied cookie
        # expires too). Trainers, auditors and admins (anyone holding one of those roles)
        # sign in again after an absolute lifetime and after being idle; technicians on a
        # phone keep a longer session.
        "SESSION_PRIVILEGED_ABSOLUTE_SECONDS":
            _env_int("PORTAL_SESSION_PRIVILEGED_ABSOLUTE_HOURS", 12) * 3600,
        "SESSION_PRIVILEGED_IDLE_SECONDS": _env_int("PORTAL_SESSION_PRIVILEGED_IDLE_MINUTES", 60) * 60,
        "SESSION_TECHNICIAN_ABSOLUTE_SECONDS":
            _env_int("PORTAL_SESSION_TECHNICIAN_ABSOLUTE_DAYS", 14) * 24 * 3600,
        "SESSION_TECHNICIAN_IDLE_SECONDS": _env_int("PORTAL_SESSION_TECHNICIAN_IDLE_HOURS", 72) * 3600,
        "PASSWORD_HASH_METHOD": os.environ.get("PORTAL_PASSWORD_HASH_METHOD", "scrypt"),
        "PASSWORD_MIN_LENGTH": 8,
        # Search: how often a host checks the shared change log before answering a search.
        "KB_SYNC_SECONDS": float(os.environ.get("PORTAL_KB_SYNC_SECONDS", "0.5")),
        # A missing or stale index of up to this many cases is rebuilt before the first
        # request is answered; a larger one in the background.
        "KB_INLINE_REBUILD_LIMIT": int(os.environ.get("PORTAL_KB_INLINE_REBUILD_LIMIT", "2000")),
        # How often (at most) a host writes its index's place in the change log (kb_index_host).
        "KB_HOST_REPORT_SECONDS": 60.0,
        # Retention (`flask daily`): how long what grows without bound is kept.
        # Raw search-log rows (the gap report reads the kept daily counts, never these).
        "SEARCH_LOG_DAYS": _env_positive("PORTAL_SEARCH_LOG_DAYS", 90),
        # Photos of a rejected contribution, counted from the rejection.
        "REJECTED_PHOTO_DAYS": _env_positive("PORTAL_REJECTED_PHOTO_DAYS", 30),
        # An audit draft nobody changed (answers, header, photos) for this long is abandoned.
        "AUDIT_DRAFT_DAYS": _env_positive("PORTAL_AUDIT_DRAFT_DAYS", 30),
        # A host whose index has not reported its place in the change log for this long stops
        # holding the log back (it rebuilds its index when it returns, if the log moved past it).
        "KB_HOST_DAYS": _env_positive("PORTAL_KB_HOST_DAYS", 7),
        # Rows deleted per transaction by the retention steps.
        "RETENTION_BATCH": _env_positive("PORTAL_RETENTION_BATCH", 2000),
        # E-mail (reminders, contribution alerts): queued in the database only when MAIL_SERVER is
        # set, and sent by `flask mail send` (never while a request is answered).
        "MAIL_SERVER": os.environ.get("PORTAL_MAIL_SERVER", "").strip(),
        "MAIL_PORT": _env_int("PORTAL_MAIL_PORT", 25),
        "MAIL_USE_TLS": _env_bool("PORTAL_MAIL_USE_TLS"),  # STARTTLS after connecting
        "MAIL_USE_SSL": _env_bool("PORTAL_MAIL_USE_SSL"),  # TLS from the start (port 465)
        "MAIL_USERNAME": os.environ.get("PORTAL_MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("PORTAL_MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": os.environ.get("PORTAL_MAIL_SENDER", "portal@localhost"),
        "MAIL_TIMEOUT": _env_int("PORTAL_MAIL_TIMEOUT_SECONDS", 30),
        # A claimed message not marked sent within this many seconds is sent again (a worker died).
        "MAIL_CLAIM_SECONDS": _env_int("PORTAL_MAIL_CLAIM_SECONDS", 600),
        "MAIL_MAX_ATTEMPTS": _env_int("PORTAL_MAIL_MAX_ATTEMPTS", 5),
    }


# --- public address ------------------------------------------------------------------------------
# Links that leave the site (certificate print page, badge, QR codes, exported and API links) are
# built from PORTAL_BASE_URL, never from the request's Host header (see links.py). Flask refuses a
# Host outside TRUSTED_HOSTS (PORTAL_TRUSTED_HOSTS, comma-separated) with 400.


def production_problem(config) -> str | None:
    """Why this configuration may not start, as one line naming the setting; None if it may.

    PORTAL_BASE_URL, when set, must be a bare http(s) address; with PORTAL_ENV=production it
    and PORTAL_TRUSTED_HOSTS are required."""
    base = config.get("PORTAL_BASE_URL") or ""
    if base:
        parts = urlsplit(base)
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/")
                or parts.query or parts.fragment):
            return (f"PORTAL_BASE_URL must be a scheme and host only, e.g. "
                    f"https://service.example.cn; got {base!r}")
    if config.get("PORTAL_ENV") != "production":
        return None
    if not base:
        return ("PORTAL_BASE_URL must be set when PORTAL_ENV=production (e.g. "
                "https://service.example.cn): certificate links and QR codes are built from it")
    if not config.get("TRUSTED_HOSTS"):
        return ("PORTAL_TRUSTED_HOSTS must be set when PORTAL_ENV=production (comma-separated "
                "host names, e.g. service.example.cn): other Host headers are refused")
    if not host_is_trusted(urlsplit(base).hostname, config["TRUSTED_HOSTS"]):
        return (f"PORTAL_TRUSTED_HOSTS must include the host of PORTAL_BASE_URL "
                f"({urlsplit(base).hostname})")
    return None
