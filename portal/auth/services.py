"""Account services: the only code that writes users, roles, tokens and sign-in attempts.

Views and CLI commands call these functions; every function either completes its
change or raises :class:`AccountError` having changed nothing.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..dbtypes import utcnow
from ..extensions import db
from ..inputs import check_text, int_arg
from .models import ROLES, AccountEvent, ApiToken, LoginAttempt, Outlet, Province, User, UserRole, UserSession
from .passwords import DEMO_PASSWORD, contains_identity, is_common

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
TOKEN_PREFIX = "ptk_"


class AccountError(ValueError):
    """A request the account services refuse, with a message fit to show the user.

    ``field`` names the form field the message belongs to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- validation -----------------------------------------------------------------


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def username_problem(username: str) -> str | None:
    if not USERNAME_RE.match(username):
        return _(
            "Username must be 3 to 64 characters: letters, digits, dot, dash or underscore, "
            "starting with a letter or digit."
        )
    return None


def password_problem(password: str, username: str = "", name: str = "") -> str | None:
    """Why this password may not be set, or None. Applies wherever a password is set."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password or "") < minimum:
        return _("Password must be at least %(n)d characters.", n=minimum)
    if username and password.strip().lower() == username.lower():
        return _("Password must not be the same as the username.")
    which = contains_identity(password, username, name)
    if which == "username":
        return _("This password contains your username. Choose one that does not.")
    if which == "name":
        return _("This password contains your name. Choose one that does not.")
    if is_common(password):
        return _("This password is on a list of common or leaked passwords. Choose another.")
    return None


NAME_MAX = 120


def name_problem(name: str | None) -> str | None:
    if len((name or "").strip()) > NAME_MAX:
        return _("Name must be at most %(n)d characters.", n=NAME_MAX)
    return check_text(_("Name"), name)


def role_problem(roles) -> str | None:
    roles = list(roles)
    if not roles:
        return _("Choose at least one role.")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        return _(
            "Unknown role %(role)s; roles are %(roles)s.",
            role=", ".join(unknown),
            roles=", ".join(ROLES),
        )
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalise_username(username)))


def find_outlet(code: str) -> Outlet | None:
    code = (code or "").strip()
    if not code:
        return None
    return db.session.scalar(select(Outlet).where(func.upper(Outlet.code) == code.upper()))


# --- users ----------------------------------------------------------------------


def create_user(
    username: str,
    roles,
    password: str,
    name: str = "",
    outlet_code: str | None = None,
    start_date=None,
    must_change_password: bool = False,
    actor: User | None = None,
    commit: bool = True,
    demo_password: bool = False,
) -> User:
    """Create a user, or raise AccountError and change nothing.

    ``demo_password=True`` is for ``flask demo`` only: it lets the published, deliberately
    weak demo password through the common-password rule (length still applies). Nothing
    else may pass it.
    """
    username = normalise_username(username)
    roles = list(dict.fromkeys(roles))  # keep order, drop repeats
    if demo_password:  # flask demo only: the one published password, nothing else
        if password != DEMO_PASSWORD:
            raise ValueError("demo_password=True is only for the published demo password")
        pw_problem = None
    else:
        pw_problem = password_problem(password, username, name)
    problem = (
        username_problem(username)
        or role_problem(roles)
        or pw_problem
        or name_problem(name)
    )
    if problem:
        raise AccountError(problem)
    if find_user(username) is not None:
        raise AccountError(_("Username %(username)s is already taken.", username=username))
    outlet = None
    if outlet_code:
        outlet = find_outlet(outlet_code)
        if outlet is None:
            raise AccountError(_("No outlet has the code %(code)s.", code=outlet_code))
    user = User(
        username=username,
        name=(name or "").strip(),
        password_hash=hash_password(password),
        outlet=outlet,
        start_date=start_date,
        must_change_password=must_change_password,
    )
    user.set_roles(roles)
    db.session.add(user)
    db.session.flush()
    db.session.add(
        AccountEvent(user_id=user.id, actor_id=actor.id if actor else None, action="created",
                     detail=event_detail(roles=sorted(roles), outlet=outlet.code if outlet else None))
    )
    if commit:
        db.session.commit()
    return user


def event_detail(**fields) -> str:
    """Event details as "key=value;key=a,b": data, rendered in the reader's language."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(value)
        parts.append(f"{key}={value}")
    return ";".join(parts)


def log_event(user: User, action: str, actor: User | None = None, detail: str = "") -> None:
    db.session.add(
        AccountEvent(user_id=user.id, actor_id=actor.id if actor else None, action=action,
                     detail=detail[:500])
    )


def update_user(user: User, *, name: str, roles, outlet_code: str | None, start_date,
                actor: User | None) -> None:
    roles = list(dict.fromkeys(roles))
    problem = role_problem(roles) or name_problem(name)
    if problem:
        raise AccountError(problem)
    outlet = None
    if outlet_code:
        outlet = find_outlet(outlet_code)
        if outlet is None:
            raise AccountError(_("No outlet has the code %(code)s.", code=outlet_code))
    if actor is not None and actor.id == user.id and "admin" not in roles:
        raise AccountError(_("You cannot remove the admin role from your own account."))
    changes = {}
    if set(roles) != user.roles:
        changes["roles"] = sorted(roles)
    if (outlet.id if outlet else None) != user.outlet_id:
        changes["outlet"] = outlet.code if outlet else "-"
    user.name = (name or "").strip()
    user.set_roles(roles)
    user.outlet = outlet
    user.start_date = start_date
    log_event(user, "updated", actor, event_detail(**changes))
    db.session.commit()


def set_active(user: User, active: bool, actor: User | None) -> None:
    if actor is not None and actor.id == user.id and not active:
        raise AccountError(_("You cannot deactivate your own account."))
    if user.active == active:
        return
    user.active = active
    if active:
        user.deactivated_at = None
    else:
        user.deactivated_at = utcnow()
        user.auth_version += 1  # ends every open session at once
        for token in user_tokens(user):
            if token.revoked_at is None:
                token.revoked_at = utcnow()
    log_event(user, "reactivated" if active else "deactivated", actor)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current or ""):
        raise AccountError(_("Your current password is not correct."), field="current")
    problem = password_problem(new, user.username, user.name)
    if problem:
        raise AccountError(problem)
    if check_password_hash(user.password_hash, new):
        raise AccountError(_("Choose a password different from the current one."))
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.auth_version += 1
    log_event(user, "password_changed", user)
    db.session.commit()


def generate_password() -> str:
    """A temporary password that is easy to read out and type on a phone."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3)]
    return "-".join(groups)


def reset_password(user: User, actor: User | None, new_password: str | None = None) -> str:
    """Set a new password (generated unless given); the user must change it at next sign-in."""
    password = new_password
    if not password:  # a generated one may, rarely, contain a short username: draw again
        password = generate_password()
        while password_problem(password, user.username, user.name):
            password = generate_password()
    problem = password_problem(password, user.username, user.name)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.auth_version += 1
    _forget_failures(user.username)  # the new password must work at once
    log_event(user, "password_reset", actor)
    db.session.commit()
    return password


# --- sign-in and throttling -------------------------------------------------------------

# A real hash to compare against when the username does not exist, so that a wrong
# username and a wrong password take the same time.
_DUMMY_HASH: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash(secrets.token_hex(8), method=method)
    return _DUMMY_HASH[method]


@dataclass
class SignIn:
    """What happened to a sign-in attempt."""

    user: User | None = None
    throttled_seconds: int = 0  # > 0: refused without checking the password
    throttled_by: str = ""  # "account" or "address"
    inactive: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None and not self.inactive and not self.throttled_seconds


def backoff_wait(times: list[datetime], free: int, cap: int, now: datetime) -> int:
    """Pure: seconds to wait before the next attempt, given these failure times.

    The first `free` failures cost nothing; after that, each further attempt must wait
    1, 2, 4, 8 … seconds (at most `cap`) after the latest failure. Nobody is locked out:
    the real user can always get in after at most `cap` seconds.
    """
    if len(times) < max(free, 1):
        return 0
    delay = min(cap, 2 ** min(len(times) - free, 30))
    remaining = (max(times) + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(remaining))


def _failure_times(query, before_id: int | None) -> list[datetime]:
    if before_id is not None:
        query = query.where(LoginAttempt.id < before_id)
    return list(db.session.scalars(query))


def account_wait(username: str, now: datetime | None = None, before_id: int | None = None,
                 device: str = "") -> int:
    """Seconds this account must wait after recent failures since its last success.

    Failures are counted per device key: attempts from devices this account has never
    signed in on share one count (``device=""``); a trusted device (see trusted_device)
    has a count of its own, so a stranger's guesses never slow down the real user's phone.
    """
    cfg = current_app.config
    now = now or utcnow()
    since = now - timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    mine = (LoginAttempt.username == username, LoginAttempt.device == device)
    query = select(func.max(LoginAttempt.at)).where(
        *mine, LoginAttempt.success.is_(True), LoginAttempt.at >= since)
    if before_id is not None:
        query = query.where(LoginAttempt.id < before_id)
    last_success = db.session.scalar(query)
    times = _failure_times(select(LoginAttempt.at).where(
        *mine, LoginAttempt.success.is_(False), LoginAttempt.at >= max(since, last_success or since)),
        before_id)
    return backoff_wait(times, cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"], cfg["LOGIN_MAX_DELAY_SECONDS"],
                        now)


def address_wait(address: str, now: datetime | None = None, before_id: int | None = None) -> int:
    """Seconds this client address must wait: all its failures within the window count."""
    cfg = current_app.config
    now = now or utcnow()
    since = now - timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    times = _failure_times(select(LoginAttempt.at).where(
        LoginAttempt.address == address, LoginAttempt.success.is_(False), LoginAttempt.at >= since),
        before_id)
    return backoff_wait(times, cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"], cfg["LOGIN_MAX_DELAY_SECONDS"],
                        now)


# --- trusted devices: a signed cookie naming the accounts that signed in on it ----------------

DEVICE_COOKIE = "portal_device"
DEVICE_COOKIE_DAYS = 180
_DEVICE_SALT = "portal.trusted-device"
_DEVICE_MAX_USERS = 10


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_DEVICE_SALT)


def _device_tag(username: str) -> str:
    """What the device cookie keeps of a username: a short digest, so that a shared outlet
    computer's cookie does not list who signed in on it."""
    return _token_digest("device-user:" + normalise_username(username))[:16]


def read_device_cookie(value: str | None) -> tuple[str, list[str]]:
    """(device id, tags of the accounts that signed in on it) from a device cookie;
    ("", []) if forged or expired."""
    if not value or len(value) > 2000:
        return "", []
    try:
        data = _device_signer().loads(value, max_age=DEVICE_COOKIE_DAYS * 86400)
        device, tags = str(data["d"])[:32], [str(n) for n in data["u"]][:_DEVICE_MAX_USERS]
    except (BadSignature, KeyError, TypeError, ValueError):
        return "", []
    return device, tags


def trusted_device(cookie: str | None, username: str) -> str:
    """The device key of this cookie if this account signed in on it before, else ""."""
    device, tags = read_device_cookie(cookie)
    return device if device and _device_tag(username) in tags else ""


def device_cookie_after_sign_in(cookie: str | None, username: str) -> str:
    """The new device cookie value once `username` has signed in on this device."""
    device, tags = read_device_cookie(cookie)
    device = device or secrets.token_urlsafe(16)
    tag = _device_tag(username)
    tags = [tag] + [t for t in tags if t != tag]
    return _device_signer().dumps({"d": device, "u": tags[:_DEVICE_MAX_USERS]})


def authenticate(username: str, password: str, address: str, device_cookie: str | None = None) -> SignIn:
    """Check a username and password, slowed down per account and per address.

    After a few failures each further attempt must wait a growing time (backoff_wait);
    an attempt during the wait is refused without checking the password. A device this
    account signed in on before (``device_cookie``) has its own count and is not slowed by
    its address, so a stranger cannot keep the real user out.

    The attempt is written (as a failure) before anything is counted, and only
    attempts written before it count against it: of many simultaneous guesses,
    only as many as the limit allows get their password checked. A refused
    attempt is removed again, so hammering does not make the wait grow.
    """
    username = normalise_username(username)[:64]
    address = (address or "unknown")[:64]
    device = trusted_device(device_cookie, username) if username else ""
    now = utcnow()
    attempt = LoginAttempt(username=username, address=address, device=device, at=now, success=False)
    db.session.add(attempt)
    db.session.commit()
    by_account = account_wait(username, now, attempt.id, device)
    by_address = 0 if device else address_wait(address, now, attempt.id)
    if by_account or by_address:
        db.session.delete(attempt)
        db.session.commit()
        # Same work as a real check, so a refusal takes as long as a wrong password.
        check_password_hash(_dummy_hash(), password or "")
        scope = "address" if by_address >= by_account else "account"
        return SignIn(throttled_seconds=max(by_account, by_address), throttled_by=scope)
    user = find_user(username) if username else None
    good = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    ok = bool(user and good)
    attempt.success = ok
    if ok and user.is_active:
        user.last_login_at = now
    # Prune what no window will ever look at again.
    db.session.execute(
        LoginAttempt.__table__.delete().where(LoginAttempt.at < now - timedelta(days=30))
    )
    db.session.commit()
    if not ok:
        return SignIn()
    if not user.is_active:
        return SignIn(user=user, inactive=True)
    return SignIn(user=user)


def locked_accounts(now: datetime | None = None) -> list[tuple[str, int]]:
    """Existing users whose sign-in is slowed down right now, with seconds remaining."""
    cfg = current_app.config
    now = now or utcnow()
    since = now - timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    names = db.session.scalars(
        select(LoginAttempt.username)
        .join(User, User.username == LoginAttempt.username)
        .where(LoginAttempt.success.is_(False), LoginAttempt.at >= since)
        .group_by(LoginAttempt.username)
        .having(func.count() >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"])
    ).all()
    result = []
    for name in names:
        wait = account_wait(name, now)
        if wait:
            result.append((name, wait))
    return result


def _forget_failures(username: str) -> None:
    db.session.execute(
        LoginAttempt.__table__.delete().where(
            LoginAttempt.username == normalise_username(username), LoginAttempt.success.is_(False)
        )
    )


def unlock_account(username: str, actor: User | None) -> None:
    """Forget recent failures for an account (an admin vouches for the user)."""
    _forget_failures(username)
    user = find_user(username)
    if user is not None:
        log_event(user, "unlocked", actor)
    db.session.commit()


# --- signed-in devices -----------------------------------------------------------------


PRIVILEGED_ROLES = ("trainer", "auditor", "admin")


def session_limits(roles, config) -> tuple[timedelta, timedelta]:
    """(absolute lifetime, idle limit) of a signed-in device for a user with these roles.

    Pure. Anyone holding a privileged role gets the short limits, whatever else they hold.
    """
    kind = "PRIVILEGED" if set(roles) & set(PRIVILEGED_ROLES) else "TECHNICIAN"
    return (timedelta(seconds=config[f"SESSION_{kind}_ABSOLUTE_SECONDS"]),
            timedelta(seconds=config[f"SESSION_{kind}_IDLE_SECONDS"]))


def session_expired(created_at: datetime, last_seen_at: datetime, now: datetime,
                    absolute: timedelta, idle: timedelta) -> bool:
    """Pure: has a device session outlived its absolute lifetime or been idle too long?"""
    return now - created_at >= absolute or now - last_seen_at >= idle


def _longest_limits(config) -> tuple[timedelta, timedelta]:
    both = [session_limits(roles, config) for roles in ((), PRIVILEGED_ROLES)]
    return max(a for a, _i in both), max(i for _a, i in both)


def start_session(user: User, address: str = "", user_agent: str = "") -> str:
    """Record a signed-in device; the returned id goes into the session cookie."""
    sid = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_token_digest(sid),
                               address=(address or "")[:64], user_agent=(user_agent or "")[:200]))
    # Rows no cookie can use any more: ended a while ago, or past any role's limits.
    now = utcnow()
    absolute, idle = _longest_limits(current_app.config)
    db.session.execute(UserSession.__table__.delete().where(
        (UserSession.ended_at < now - timedelta(days=30)) | (UserSession.last_seen_at < now - idle)
        | (UserSession.created_at < now - absolute)))
    db.session.commit()
    return sid


def session_alive(user: User, sid: str | None) -> bool:
    """Is this device still signed in? Notes when it was last seen (at most every 5 minutes).

    A session past its absolute lifetime or idle limit (see session_limits) is ended here,
    on the server: the cookie, even a copied one, no longer signs anyone in.
    """
    if not sid or len(sid) > 100:
        return False
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == _token_digest(sid)))
    if row is None or row.user_id != user.id or row.ended_at is not None:
        return False
    now = utcnow()
    absolute, idle = session_limits(user.roles, current_app.config)
    if session_expired(row.created_at, row.last_seen_at, now, absolute, idle):
        row.ended_at = now
        db.session.commit()
        return False
    if now - row.last_seen_at > min(timedelta(minutes=5), idle / 4):
        row.last_seen_at = now
        db.session.commit()
    return True


def end_session(sid: str | None) -> None:
    if not sid:
        return
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == _token_digest(sid)))
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        db.session.commit()


def active_sessions(user: User) -> list[UserSession]:
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ))


def end_all_sessions(user: User, actor: User | None, keep_sid: str | None = None) -> int:
    """Sign a user out on every device (but the one given); returns how many ended."""
    keep = _token_digest(keep_sid) if keep_sid else None
    ended = 0
    for row in active_sessions(user):
        if row.token_hash != keep:
            row.ended_at = utcnow()
            ended += 1
    if ended and actor is not None:
        log_event(user, "sessions_ended", actor, event_detail(devices=str(ended)))
    db.session.commit()
    return ended


# --- API tokens -------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User, label: str = "", actor: User | None = None) -> str:
    """Create a bearer token and return it; only its hash is kept."""
    if not user.is_active:
        raise AccountError(_("%(username)s is deactivated.", username=user.username))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(user_id=user.id, token_hash=_token_digest(token), prefix=token[:12],
                 label=(label or "").strip()[:100])
    )
    log_event(user, "token_issued", actor, event_detail(token=token[:12]))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The active user a live token belongs to, else None. Records when it was used."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token))
                            .options(joinedload(ApiToken.user)))
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    now = utcnow()
    # Write at most once a minute per token: API calls should not each write a row.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        db.session.commit()
    return row.user


def user_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(token: ApiToken, actor: User | None) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        log_event(token.user, "token_revoked", actor, event_detail(token=token.prefix))
        db.session.commit()


def in_place(query, region_id: int | None = None, province_id: int | None = None, outlet_id: int | None = None):
    """Narrow a query that selects from (or joins) User to the users of a region, province and/or
    outlet (the filters the trainers' lists share)."""
    if outlet_id:
        query = query.where(User.outlet_id == outlet_id)
    if province_id or region_id:
        query = query.join(Outlet, User.outlet_id == Outlet.id).join(Province, Outlet.province_id == Province.id)
        if province_id:
            query = query.where(Province.id == province_id)
        if region_id:
            query = query.where(Province.region_id == region_id)
    return query


SEARCH_MAX = 64


def _prefix(column, prefix: str):
    """``column`` starts with ``prefix``, as a range in byte order (``>= p AND < p'`` where p' is p
    with its last character bumped): a B-tree range scan on PostgreSQL (the "C"-collation indexes
    of migration a7c3e9f14b20) and SQLite alike, unlike LIKE / ILIKE, which need special
    operator classes or pragmas to use an index."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not characters: the next one is U+E000
        last = 0xE000
    upper = prefix[:-1] + chr(last) if last <= 0x10FFFF else None
    if upper is None:  # ends with the last code point: nothing sorts between
        return column == prefix
    if db.session.get_bind().dialect.name == "postgresql":
        column = column.collate("C")
    return (column >= prefix) & (column < upper)


def name_search(q: str | None):
    """The condition "username or name starts with ``q``", ignoring case, or None for an empty
    search. Usernames are stored lower-case; a name is matched as typed, lower-case, Capitalised,
    Title Case and UPPER-CASE ("wang w" finds "Wang Wei" and "wang wei"), so each is a range on the plain
    column's index (lower(name) would need an expression index). Chinese names start with the
    family name, so 王 finds 王伟; a given name alone is not searched (a contains match cannot
    use an index: at 30,000 technicians it would read every row)."""
    # Printable characters only (PostgreSQL refuses NUL in text; controls never occur in names).
    q = "".join(ch for ch in (q or "") if ch.isprintable()).strip()[:SEARCH_MAX]
    if not q:
        return None
    forms = dict.fromkeys((q.lower(), q.capitalize(), q.title(), q.upper(), q))
    return or_(_prefix(User.username, q.lower()), *(_prefix(User.name, form) for form in forms))


@dataclass
class TechnicianFilter:
    """The filters the trainers' lists of technicians share (/technicians/, a cohort's member
    picker): name or username, region, province, outlet, start date from/to (``User.start_date``,
    the first working day; people without one do not match a start-date filter)."""

    q: str = ""
    region: int | None = None
    province: int | None = None
    outlet: int | None = None
    started_from: date | None = None
    started_to: date | None = None

    def apply(self, query):
        """Narrow a select from (or joining) User to the people matching, in SQL."""
        query = in_place(query, self.region, self.province, self.outlet)
        found = name_search(self.q)
        if found is not None:
            query = query.where(found)
        if self.started_from:
            query = query.where(User.start_date >= self.started_from)
        if self.started_to:
            query = query.where(User.start_date <= self.started_to)
        return query

    def args(self) -> dict:
        """As query-string arguments (for links and pagers), empty ones left out."""
        values = {"q": self.q, "region": self.region, "province": self.province, "outlet": self.outlet,
                  "started_from": self.started_from.isoformat() if self.started_from else None,
                  "started_to": self.started_to.isoformat() if self.started_to else None}
        return {k: v for k, v in values.items() if v}

    def __bool__(self) -> bool:
        return bool(self.args())


def _date_arg(args, name: str) -> date | None:
    try:
        return date.fromisoformat((args.get(name) or "").strip()[:10])
    except ValueError:
        return None


def technician_filter(args) -> TechnicianFilter:
    """The filter given in a query string or form (``q``, ``region``, ``province``, ``outlet``,
    ``started_from``, ``started_to``); what is missing or malformed is left out."""
    return TechnicianFilter(q=(args.get("q") or "").strip()[:SEARCH_MAX],
                            region=int_arg("region", source=args), province=int_arg("province", source=args),
                            outlet=int_arg("outlet", source=args),
                            started_from=_date_arg(args, "started_from"), started_to=_date_arg(args, "started_to"))


def technicians_query():
    """A select of the active technicians (a join on roles: add ``.unique()`` to the result)."""
    return (select(User).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "technician", User.active))


def technician_count(region_id=None, province_id=None, outlet_id=None) -> int:
    """How many ``active_technicians`` of the same place there are (one COUNT, no rows loaded)."""
    query = in_place(technicians_query(), region_id, province_id, outlet_id)
    return db.session.scalar(query.with_only_columns(func.count(func.distinct(User.id)))) or 0


def active_technicians(region_id=None, province_id=None, outlet_id=None) -> list[User]:
    """The active technicians of a place (all of them without a filter), by username."""
    query = in_place(technicians_query(), region_id, province_id, outlet_id)
    return list(db.session.scalars(query.order_by(User.username)).unique())
