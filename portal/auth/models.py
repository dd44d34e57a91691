"""Users, roles, API tokens, sign-in attempts, and the service network they belong to."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import get_locale
from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db

ROLES = ("technician", "trainer", "auditor", "admin")
# The order in which a user with several roles lands on a home page.
ROLE_PRIORITY = ("admin", "trainer", "auditor", "technician")


class Bilingual:
    """Mixin for rows named in both languages: ``.name`` follows the current locale."""

    name_zh: Mapped[str]
    name_en: Mapped[str]

    @property
    def name(self) -> str:
        locale = get_locale()
        if locale is not None and locale.language == "en":
            return self.name_en or self.name_zh
        return self.name_zh or self.name_en


class Region(Bilingual, db.Model):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))

    provinces: Mapped[list["Province"]] = relationship(
        back_populates="region", order_by="Province.code"
    )


class Province(Bilingual, db.Model):
    __tablename__ = "province"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)

    region: Mapped[Region] = relationship(back_populates="provinces")
    outlets: Mapped[list["Outlet"]] = relationship(
        back_populates="province", order_by="Outlet.code"
    )


class Outlet(Bilingual, db.Model):
    """A county or city service outlet (网点)."""

    __tablename__ = "outlet"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100), default="")
    province_id: Mapped[int] = mapped_column(ForeignKey("province.id"), index=True)
    # The product lines the outlet services; empty: every line.
    products: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")

    province: Mapped[Province] = relationship(back_populates="outlets")
    users: Mapped[list["User"]] = relationship(back_populates="outlet")


class UserRole(db.Model):
    __tablename__ = "user_role"
    __table_args__ = (
        CheckConstraint(
            "role IN ('technician', 'trainer', 'auditor', 'admin')", name="known_role"
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class User(UserMixin, db.Model):
    __tablename__ = "user"
    # For the name/username search (services.name_search: prefix ranges in byte order). On
    # PostgreSQL the migration builds both in the "C" collation, which the search compares in.
    __table_args__ = (Index("ix_user_username_c", "username"), Index("ix_user_name_c", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-case: sign-in is case-insensitive on the username.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    # Where reminders and alerts are also e-mailed when the portal has an SMTP server (optional).
    email: Mapped[str | None] = mapped_column(String(254))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"), index=True)
    start_date: Mapped[date | None] = mapped_column()  # first working day
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Bumped when the password changes or the account is deactivated; it is part of the
    # session's user id, so every other session of this user ends at that moment.
    auth_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    outlet: Mapped[Outlet | None] = relationship(back_populates="users")
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    # --- Flask-Login ---------------------------------------------------------
    @property
    def is_active(self) -> bool:  # a deactivated user cannot sign in
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.id}.{self.auth_version}"

    # --- roles ---------------------------------------------------------------
    @property
    def roles(self) -> set[str]:
        return {row.role for row in self.role_rows}

    def set_roles(self, roles) -> None:
        wanted = set(roles)
        self.role_rows = [row for row in self.role_rows if row.role in wanted]
        have = {row.role for row in self.role_rows}
        for role in sorted(wanted - have):
            self.role_rows.append(UserRole(role=role))

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def primary_role(self) -> str | None:
        for role in ROLE_PRIORITY:
            if role in self.roles:
                return role
        return None

    @property
    def display_name(self) -> str:
        return self.name or self.username


class ApiToken(db.Model):
    """A bearer token for /api/v1/. Only a SHA-256 hash of the token is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so people can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class UserSession(db.Model):
    """One signed-in device. The cookie carries a random id; only its hash is kept here.

    Signing out ends the row, so a copied cookie stops working at once.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class LoginAttempt(db.Model):
    """One sign-in attempt; the throttle counts recent failures by account and by address.

    Kept 30 days at most (older rows are pruned at the next sign-in)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    # "" from a device the account never signed in on; else that trusted device's key,
    # which has a failure count of its own (see services.account_wait).
    device: Mapped[str] = mapped_column(String(32), default="", server_default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(default=False)


class AccountEvent(db.Model):
    """Who did what to an account, and when (created, roles changed, deactivated, …)."""

    __tablename__ = "account_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
