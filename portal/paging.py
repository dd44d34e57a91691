"""One page of a long list, for the ``pager`` macro in ``_forms.html`` (the same attributes as
Flask-SQLAlchemy's ``Pagination``, for lists whose rows are more than one object)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from .extensions import db
from .inputs import MAX_PAGE, PER_PAGE, int_arg


@dataclass
class Page:
    page: int
    per_page: int
    total: int
    items: list = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(0, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def count(query) -> int:
    """How many rows a select returns, counted by the database."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def page_size() -> int:
    """Rows per page of a trainer's list (``PAGE_SIZE`` in the configuration, 50 by default)."""
    return int(current_app.config.get("PAGE_SIZE", PER_PAGE))


def page_number() -> int:
    """The ``page`` asked for in the query string (1 when missing or not a number)."""
    return int_arg("page", 1, 1, MAX_PAGE)


def rows_page(query, total: int, per_page: int | None = None) -> Page:
    """The requested page of a select's rows (tuples), ``total`` being its row count. A page past
    the end is empty (as ``db.paginate(error_out=False)`` gives)."""
    number = page_number()
    per_page = per_page or page_size()
    rows = db.session.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(number, per_page, total, rows)
