"""The onboarding schedule decisions (portal/learning/schedule.py) on hand-made values: no app.

tests/test_learning.py already covers working days across a holiday week, a start on a
non-working day, a make-up Saturday, the day highlighted and the basic late-joiner due dates;
these add the edges around them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from portal.learning.schedule import (BEHIND, DONE, IN_PROGRESS, UPCOMING, Calendar, DayState, behind_first,
                                      day_state, day_status, estimate_minutes, is_overdue, joined_day,
                                      learner_row, overdue_first, personal_due)

FRI, SAT, SUN, MON, TUE = (date(2026, 11, d) for d in (6, 7, 8, 9, 10))


# --- working-day calendars --------------------------------------------------------------------


def test_weekends_are_not_working_days():
    cal = Calendar()
    assert [cal.is_working_day(d) for d in (FRI, SAT, SUN, MON)] == [True, False, False, True]
    assert cal.working_days(FRI, 2) == [FRI, MON]
    assert cal.working_days(SAT, 1) == [MON]
    assert cal.working_days(MON, 0) == []


def test_a_holiday_on_a_weekend_changes_nothing_and_one_on_a_weekday_is_skipped():
    assert Calendar(holidays=frozenset({SAT})).working_days(FRI, 2) == [FRI, MON]
    assert Calendar(holidays=frozenset({MON})).working_days(FRI, 2) == [FRI, TUE]


def test_a_make_up_day_counts_even_when_also_listed_as_a_holiday():
    cal = Calendar(holidays=frozenset({SUN, MON}), workdays=frozenset({SUN}))
    assert cal.is_working_day(SUN) and not cal.is_working_day(MON)
    assert cal.working_days(FRI, 3) == [FRI, SUN, TUE]


def test_a_calendar_of_nothing_but_holidays_does_not_loop_forever():
    every_day = frozenset(date.fromordinal(date(2026, 1, 1).toordinal() + i) for i in range(800))
    assert Calendar(holidays=every_day).working_days(date(2026, 1, 1), 3) == []


# --- status of a day ----------------------------------------------------------------------------


def day(on, done=0, total=2, passed=0, tasks=0, started=False):
    return DayState(number=1, date=on, lessons_done=done, lessons_total=total, tasks_passed=passed,
                    tasks_total=tasks, started=started)


def test_behind_versus_in_progress_on_the_boundary_day():
    assert day_status(day(MON), today=MON) == IN_PROGRESS  # its own day: not behind yet
    assert day_status(day(MON), today=TUE) == BEHIND  # the day after
    assert day_status(day(MON, done=1, started=True), today=TUE) == BEHIND  # started is not enough
    assert day_status(day(TUE), today=MON) == UPCOMING
    assert day_status(day(TUE, started=True), today=MON) == IN_PROGRESS  # ahead of the schedule


def test_done_needs_every_lesson_and_every_task():
    assert day_status(day(MON, done=2), today=TUE) == DONE
    assert day_status(day(MON, done=2, tasks=1), today=TUE) == BEHIND  # the task is not passed
    assert day_status(day(MON, done=2, tasks=1, passed=1), today=TUE) == DONE
    assert day_status(day(TUE, done=2), today=MON) == DONE  # done ahead of its day
    assert day_status(day(MON, total=0), today=TUE) == DONE  # nothing to do


def test_a_day_state_counts_the_learners_own_lessons_and_tasks():
    state = day_state(1, MON, [10, 11], [7], done={10}, opened={10, 11}, passed=set(), today=MON)
    assert (state.lessons_done, state.lessons_total, state.tasks_passed, state.tasks_total) == (1, 2, 0, 1)
    assert state.started and state.status == IN_PROGRESS
    # Another lesson opened (not of this day) does not start it.
    later = day_state(2, TUE, [12], [], done=set(), opened={10}, passed=set(), today=MON)
    assert not later.started and later.status == UPCOMING
    assert day_state(1, MON, [10], [7], {10}, {10}, {7}, today=TUE).status == DONE


@dataclass
class U:
    username: str


def test_a_learner_row_and_who_is_behind_first():
    plan = [(FRI, [1], []), (MON, [2], [5]), (TUE, [3], [])]
    ahead = learner_row(U("ann"), plan, done={1, 2, 3}, opened={1, 2, 3}, passed={5}, today=TUE)
    late = learner_row(U("bob"), plan, done=set(), opened=set(), passed=set(), today=TUE)
    started = learner_row(U("cat"), plan, done={1}, opened={1, 2}, passed=set(), today=TUE)
    assert [d.number for d in late.days] == [1, 2, 3]
    assert [d.status for d in late.days] == [BEHIND, BEHIND, IN_PROGRESS]
    assert [d.status for d in ahead.days] == [DONE, DONE, DONE]
    assert (late.behind, started.behind, ahead.behind) == (2, 1, 0)
    assert ahead.share == 1.0 and started.share == 0.25
    tied = learner_row(U("abe"), plan, done=set(), opened=set(), passed=set(), today=TUE)
    assert [r.user.username for r in behind_first([ahead, started, late, tied])] == ["abe", "bob", "cat", "ann"]


# --- due dates --------------------------------------------------------------------------------


def test_late_joiner_gets_the_same_time_counted_from_the_day_they_joined():
    assigned, due = date(2026, 3, 2), date(2026, 4, 1)  # 30 days
    assert personal_due(due, assigned, assigned) == due  # joined the day it was assigned
    assert personal_due(due, assigned, date(2026, 3, 3)) == date(2026, 4, 2)  # one day later: one day more
    assert personal_due(due, assigned, date(2026, 3, 1)) == due
    # A short assignment: at least two weeks from joining.
    assert personal_due(date(2026, 3, 5), assigned, date(2026, 3, 4)) == date(2026, 3, 18)
    # Made without a creation day: as if made on its due date (only someone joining after it gets more).
    assert personal_due(due, None, date(2026, 3, 20)) == due
    assert personal_due(due, None, date(2026, 4, 2)) == date(2026, 4, 16)


def test_the_day_someone_joined():
    assert joined_day(MON, FRI) == MON  # the first working day, when known
    assert joined_day(None, FRI) == FRI  # else the day the account was made
    assert joined_day(None, None) is None


def test_overdue_from_the_day_after_the_due_date_unless_complete():
    assert not is_overdue(MON, today=MON, complete=False)
    assert is_overdue(MON, today=TUE, complete=False)
    assert not is_overdue(MON, today=TUE, complete=True)


def test_overdue_first_then_soonest():
    items = [("a", TUE, False), ("b", MON, False), ("c", TUE, True), ("d", FRI, True)]
    assert [t for t, _d, _o in overdue_first(items)] == ["d", "c", "b", "a"]


def test_reading_time_is_at_least_a_minute():
    assert estimate_minutes("", "en") == 1
    assert estimate_minutes("word " * 1000, "en") == 5
    assert estimate_minutes("字" * 600, "zh") == 2
