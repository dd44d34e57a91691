"""Rate limits for the JSON API (``/api/v1/``): per client address, per caller, and for failed
authentication per client address.

The counters live in the same store as the /verify limit (Flask-Limiter's storage,
``PORTAL_RATELIMIT_STORAGE``): with the default ``memory://`` each worker process counts for
itself, so with several workers or hosts use a shared store such as Redis (see ratelimits).
When that store does not answer, this worker counts in its own memory (and logs it) and tries
the store again after ``RETRY_SECONDS``, as Flask-Limiter's in-memory fallback does for /verify:
an outage of the store loosens the limits, it never fails the API.

The figures are ``limits`` strings ("120 per minute; 3000 per hour") read from the
configuration on every request, so an instance (or a test) can change them.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from .extensions import limiter

# Configuration keys (see config.build_config and README "Configuration").
PER_ADDRESS = "PORTAL_API_ADDRESS_RATE"
PER_CALLER = "PORTAL_API_RATE"
FAILED_AUTH = "PORTAL_API_AUTH_FAILURE_RATE"


RETRY_SECONDS = 30  # after the shared store failed, count in memory this long before trying it again


class _Fallback:
    """This process's own counts, used while the shared store does not answer."""

    until = 0.0  # time.monotonic() before which the store is not tried again
    strategy: RateLimiter | None = None


def _spend(setting: str, *key: str) -> int | None:
    """Count one request against every limit of ``setting`` for ``key``.

    Returns None while within all of them, else the whole seconds to wait before the
    exhausted window resets (at least 1)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    if time.monotonic() >= _Fallback.until:
        try:
            return _spend_in(limiter.limiter, setting, key)
        except StorageError as exc:
            current_app.logger.warning("rate-limit store does not answer (%s): this worker counts "
                                       "the API's limits in memory for %d s", exc, RETRY_SECONDS)
            _Fallback.until = time.monotonic() + RETRY_SECONDS
    if _Fallback.strategy is None:
        _Fallback.strategy = FixedWindowRateLimiter(MemoryStorage())
    return _spend_in(_Fallback.strategy, setting, key)


def _spend_in(strategy: RateLimiter, setting: str, key: tuple[str, ...]) -> int | None:
    for item in parse_many(current_app.config[setting]):
        if not strategy.hit(item, "api", setting, *key):
            reset = strategy.get_window_stats(item, "api", setting, *key).reset_time
            return max(1, math.ceil(reset - time.time()))
    return None


def spend(setting: str, *key: str) -> int | None:
    """Count one action against the limits of ``setting`` (a configuration key holding a
    ``limits`` string) for ``key``, in the same store: None while within them, else seconds
    to wait. For limits outside the API (technicians' voice: sends per user)."""
    return _spend(setting, *key)


def address_wait() -> int | None:
    """Every API request from one client address (whoever it authenticates as)."""
    return _spend(PER_ADDRESS, get_remote_address())


def failed_auth_wait() -> int | None:
    """A request with a missing or bad credential, counted per client address."""
    return _spend(FAILED_AUTH, get_remote_address())


def token_wait(token: str) -> int | None:
    """A request with a valid bearer token, counted per token (keyed by its digest)."""
    return _spend(PER_CALLER, "token", hashlib.sha256(token.encode()).hexdigest())


def user_wait(user_id: int) -> int | None:
    """A request authenticated by a session cookie, counted per user."""
    return _spend(PER_CALLER, "user", str(user_id))

