"""Working-day calendars and where a learner stands on a schedule. Plain Python, no Flask.

A programme of N days is laid over the working days from a start date: weekends and
holidays are skipped, and weekend days declared working (make-up days, 调休) count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

DONE = "done"
IN_PROGRESS = "in_progress"
BEHIND = "behind"
UPCOMING = "upcoming"


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date] = frozenset()  # weekdays off
    workdays: frozenset[date] = frozenset()  # weekend days worked

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_days(self, start: date, count: int) -> list[date]:
        """The first ``count`` working days on or after ``start``."""
        days, day = [], start
        # A year of holidays in a row cannot happen; the bound keeps bad data from looping.
        for _ in range(count * 7 + 400):
            if len(days) == count:
                break
            if self.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days


@dataclass
class DayState:
    """One scheduled day for one learner."""

    number: int  # 1-based
    date: date
    lessons_done: int
    lessons_total: int
    tasks_passed: int = 0
    tasks_total: int = 0
    started: bool = False  # any lesson of the day opened or done
    status: str = UPCOMING

    @property
    def share(self) -> float:
        total = self.lessons_total + self.tasks_total
        return (self.lessons_done + self.tasks_passed) / total if total else 1.0


def day_status(day: DayState, today: date) -> str:
    """done: every lesson done and every task passed; behind: its date has passed and it is not
    done; in progress: started (or today's); upcoming: not started and not yet due."""
    if day.lessons_done >= day.lessons_total and day.tasks_passed >= day.tasks_total:
        return DONE
    if day.date < today:
        return BEHIND
    if day.started or day.date == today:
        return IN_PROGRESS
    return UPCOMING


@dataclass
class LearnerRow:
    """A cohort member across the programme."""

    user: object
    days: list[DayState] = field(default_factory=list)

    @property
    def behind(self) -> int:
        return sum(1 for d in self.days if d.status == BEHIND)

    @property
    def share(self) -> float:
        done = sum(d.lessons_done + d.tasks_passed for d in self.days)
        total = sum(d.lessons_total + d.tasks_total for d in self.days)
        return done / total if total else 1.0


def day_state(number: int, day: date, lesson_ids, task_ids, done: set, opened: set, passed: set,
              today: date) -> DayState:
    """One programme day for one learner, with its status. ``lesson_ids``/``task_ids``: the
    day's active lessons and practical tasks; ``done``: the learner's lessons marked done;
    ``opened``: every lesson they have a progress row for (opened or done); ``passed``: their
    tasks with a passing sign-off."""
    lesson_ids, task_ids = list(lesson_ids), list(task_ids)
    state = DayState(number=number, date=day,
                     lessons_done=sum(1 for l in lesson_ids if l in done), lessons_total=len(lesson_ids),
                     tasks_passed=sum(1 for t in task_ids if t in passed), tasks_total=len(task_ids),
                     started=any(l in opened for l in lesson_ids))
    state.status = day_status(state, today)
    return state


def learner_row(user, days, done: set, opened: set, passed: set, today: date) -> LearnerRow:
    """A learner across the programme. ``days``: (date, lesson ids, task ids) per day, in order."""
    return LearnerRow(user=user, days=[day_state(number, day, lessons, tasks, done, opened, passed, today)
                                       for number, (day, lessons, tasks) in enumerate(days, start=1)])


def behind_first(rows: list[LearnerRow]) -> list[LearnerRow]:
    """Who is behind first (most days behind), then least progress, then by name."""
    return sorted(rows, key=lambda r: (-r.behind, r.share, str(getattr(r.user, "username", ""))))


NEW_STARTER_MIN_DAYS = 14


def personal_due(due: date, assigned_on: date | None, joined: date | None) -> date:
    """A course assignment's due date for one person. Someone who joined after the course was
    assigned gets the same time everyone had (from the day it was assigned to its due date; at
    least two weeks) counted from the day they joined, and never less than the common due date.
    Everyone else: the common due date. An assignment with no day it was made counts as made
    on its due date."""
    if assigned_on is None:
        assigned_on = due
    if joined is None or joined <= assigned_on:
        return due
    span = max((due - assigned_on).days, NEW_STARTER_MIN_DAYS)
    return max(due, joined + timedelta(days=span))


def joined_day(start_date: date | None, created_day: date | None) -> date | None:
    """The day a person joined: their first working day, else the day their account was made."""
    return start_date if start_date is not None else created_day


def is_overdue(due: date, today: date, complete: bool) -> bool:
    """Overdue: not complete and its due day has passed (the due day itself is not late)."""
    return today > due and not complete


def overdue_first(items: list[tuple[str, date, bool]]) -> list[tuple[str, date, bool]]:
    """What is due, as (title, due date, overdue): the overdue first, then the soonest due."""
    return sorted(items, key=lambda i: (not i[2], i[1]))


def estimate_minutes(text: str, lang: str) -> int:
    """Reading time: about 300 Chinese characters or 200 English words a minute (study pace)."""
    if lang == "zh":
        amount = len(re.findall(r"[\u3400-\u9fff]", text)) / 300 + len(re.findall(r"[A-Za-z]+", text)) / 200
    else:
        amount = len(re.findall(r"[A-Za-z0-9']+", text)) / 200
    return max(1, round(amount))


def current_day(dates, today: date) -> date | None:
    """The programme day to highlight: today when it is one of the programme's days, otherwise
    the next one (on a weekend or holiday, the working day the technician comes back to)."""
    upcoming = [d for d in dates if d is not None and d >= today]
    return min(upcoming) if upcoming else None
