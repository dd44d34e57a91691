"""Certification eligibility and certificate-status decisions, on hand-made values (no app, no
database): portal.certification.eligibility."""

from __future__ import annotations

from datetime import date

import pytest

from portal.certification import eligibility as el
from portal.certification.eligibility import (AttemptFact, AuditFact, ContributionFact, CourseFact, Facts,
                                              HeldCertificate, Msg, PreviousTierFact, QuarterlyFact, QuizFact,
                                              TaskFact, TasksFact)

TODAY = date(2026, 11, 20)

SPEC = {
    "courses": ["q3"],
    "quiz": {"slug": "final", "min_score": 90},
    "tasks": ["onboarding"],
    "months_at_previous": 12,
    "audits": {"count": 2, "average": 85, "months": 12},
    "contributions": 2,
    "current_quarterly": True,
}


def ids(messages) -> list[str]:
    return [m.msgid for m in messages]


def held(number="SC-1", issued=date(2025, 12, 21), until=date(2026, 12, 21), status="active"):
    return HeldCertificate(number, issued, until, status, f"/certificates/{number}")


# --- messages ---------------------------------------------------------------------------------


def test_messages_are_ids_with_parameters_not_text():
    req = el.courses([CourseFact("Q3 splits", "/c/q3", date(2026, 9, 1))])
    assert req.label == Msg("Courses completed: %(names)s", {"names": "Q3 splits"})
    assert req.evidence[0].text == Msg("%(course)s completed on %(day)s", {"course": "Q3 splits", "day": date(2026, 9, 1)})


def test_status_labels():
    assert el.status_label("active") == Msg("Valid")
    assert el.status_label("suspended") == Msg("Suspended")
    assert el.status_label("weird") == "weird"


# --- add_months -------------------------------------------------------------------------------


@pytest.mark.parametrize("day, months, expected", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
    (date(2026, 3, 31), 1, date(2026, 4, 30)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
    (date(2026, 11, 20), 12, date(2027, 11, 20)),
    (date(2026, 11, 20), -12, date(2025, 11, 20)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
    (date(2026, 1, 10), -1, date(2025, 12, 10)),
    (date(2028, 2, 29), 12, date(2029, 2, 28)),
    (date(2026, 5, 5), 0, date(2026, 5, 5)),
    (date(2026, 1, 1), 24, date(2028, 1, 1)),
])
def test_add_months_keeps_the_day_or_the_months_last_day(day, months, expected):
    assert el.add_months(day, months) == expected


# --- courses ----------------------------------------------------------------------------------


def test_courses_met_when_every_course_is_complete():
    req = el.courses([CourseFact("A", "/c/a", date(2026, 9, 1)), CourseFact("B", "/c/b", date(2026, 10, 2))])
    assert req.kind == "courses" and req.met and not req.missing
    assert req.label.params == {"names": "A, B"}
    assert [(e.url, e.day) for e in req.evidence] == [("/c/a", date(2026, 9, 1)), ("/c/b", date(2026, 10, 2))]


def test_courses_unmet_names_the_incomplete_course():
    req = el.courses([CourseFact("A", "/c/a", date(2026, 9, 1)), CourseFact("B", "/c/b", None)])
    assert not req.met and len(req.evidence) == 1
    assert req.missing == [Msg("%(course)s is not complete yet (every lesson done and its quiz passed).",
                               {"course": "B"})]


# --- quiz -------------------------------------------------------------------------------------


def attempt(id_, score, passed=True, number=None, day=date(2026, 11, 1)):
    return AttemptFact(id_, number or id_, score, passed, f"/quizzes/attempts/{id_}/result", day)


def test_quiz_a_pass_below_the_tiers_minimum_does_not_count():
    req = el.quiz({"slug": "final", "min_score": 90}, QuizFact("Final", True, [attempt(1, 86.0)]))
    assert not req.met and not req.evidence
    assert req.label == Msg("%(quiz)s passed with at least %(score)d%%", {"quiz": "Final", "score": 90})
    (missing,) = req.missing
    assert missing.msgid == "Best so far: %(score)s%% in %(num)d attempt."
    assert missing.plural == "Best so far: %(score)s%% in %(num)d attempts." and missing.num == 1
    assert missing.params == {"score": "86"}


def test_quiz_best_attempt_is_the_highest_score_and_the_earlier_of_equals():
    attempts = [attempt(1, 95.0), attempt(2, 100.0, day=date(2026, 11, 2)), attempt(3, 100.0),
                attempt(4, 100.0, passed=False)]
    req = el.quiz({"slug": "final", "min_score": 90}, QuizFact("Final", True, attempts))
    assert req.met and not req.missing
    (ev,) = req.evidence
    assert ev.url == "/quizzes/attempts/2/result" and ev.day == date(2026, 11, 2)
    assert ev.text == Msg("Attempt %(n)d: %(score)s%% on %(day)s", {"n": 2, "score": "100", "day": date(2026, 11, 2)})


def test_quiz_a_failed_attempt_does_not_count_even_with_the_score():
    req = el.quiz({"slug": "final", "min_score": 50}, QuizFact("Final", True, [attempt(1, 70.0, passed=False),
                                                                             attempt(2, 40.0, passed=False)]))
    assert not req.met
    assert req.missing[0].params == {"score": "70"} and req.missing[0].num == 2


def test_quiz_minimum_defaults_to_zero_and_is_inclusive():
    assert el.quiz({"slug": "final"}, QuizFact("Final", True, [attempt(1, 0.0)])).met
    assert el.quiz({"slug": "final", "min_score": 90}, QuizFact("Final", True, [attempt(1, 90.0)])).met
    assert el.quiz({"slug": "final", "min_score": 87.6}, QuizFact("F", True, [])).label.params["score"] == 88


def test_quiz_not_taken_and_not_available():
    assert ids(el.quiz({"slug": "final"}, QuizFact("Final", True, [])).missing) == ["Not taken yet."]
    gone = el.quiz({"slug": "final", "min_score": 80}, QuizFact("final", available=False))
    assert not gone.met and ids(gone.missing) == ["The quiz is not available."]
    assert gone.label.params["quiz"] == "final"


# --- tasks ------------------------------------------------------------------------------------


def test_tasks_met_lists_each_sign_off_with_its_trainer():
    fact = TasksFact(["Onboarding"], [TaskFact("T1", True, "Li Min", date(2026, 10, 1)),
                                      TaskFact("T2", True, None, date(2026, 10, 2))])
    req = el.tasks(fact)
    assert req.met and req.label.params == {"names": "Onboarding"}
    assert [e.text.params["trainer"] for e in req.evidence] == ["Li Min", "—"]
    assert [e.url for e in req.evidence] == [None, None]
    assert [e.day for e in req.evidence] == [date(2026, 10, 1), date(2026, 10, 2)]


def test_tasks_last_sign_off_not_passed_and_never_signed_off():
    fact = TasksFact(["Onboarding"], [TaskFact("T1", True, "Li", date(2026, 10, 1)), TaskFact("T2", False, "Li"),
                                      TaskFact("T3")])
    req = el.tasks(fact)
    assert not req.met and len(req.evidence) == 1
    assert req.missing == [Msg("%(task)s: not passed at the last sign-off", {"task": "T2"}),
                           Msg("%(task)s: not signed off yet", {"task": "T3"})]


# --- months at the tier below -----------------------------------------------------------------


def test_months_at_previous_counts_from_the_lower_certificates_issue():
    fact = PreviousTierFact("Certified", [held()])
    req = el.months_at_previous(12, fact, TODAY)
    assert not req.met
    assert req.label.msgid == "At least %(num)d month as %(tier)s" and req.label.num == 12
    assert req.label.params == {"tier": "Certified"}
    assert req.evidence[0].text == Msg("Certificate %(number)s held since %(day)s",
                                       {"number": "SC-1", "day": date(2025, 12, 21)})
    assert req.evidence[0].url == "/certificates/SC-1"
    assert req.missing == [Msg("Eligible from %(day)s.", {"day": date(2026, 12, 21)})]
    assert el.months_at_previous(12, fact, date(2026, 12, 20)).met is False
    enough = el.months_at_previous(12, PreviousTierFact("Certified", [held(until=date(2027, 1, 1))]), date(2026, 12, 21))
    assert enough.met and not enough.missing


def test_months_at_previous_needs_a_valid_certificate():
    none = el.months_at_previous(12, PreviousTierFact("Certified", []), TODAY)
    assert not none.met and none.missing == [Msg("No valid %(tier)s certificate.", {"tier": "Certified"})]
    suspended = el.months_at_previous(12, PreviousTierFact("Certified", [held(status="suspended")]), date(2026, 12, 21))
    assert not suspended.met and not suspended.evidence
    assert suspended.missing == [Msg("The %(tier)s certificate is %(status)s.",
                                     {"tier": "Certified", "status": Msg("Suspended")})]
    # Active on paper but past its date: expired, as of today.
    old = el.months_at_previous(1, PreviousTierFact("Certified", [held(until=date(2026, 11, 19))]), TODAY)
    assert not old.met and old.missing[0].params["status"] == Msg("Expired")


def test_months_at_previous_takes_the_first_valid_certificate():
    fact = PreviousTierFact("Certified", [held("SC-OLD", date(2024, 1, 1), date(2025, 1, 1), "expired"),
                                          held("SC-A", date(2025, 6, 1), date(2026, 12, 1)),
                                          held("SC-B", date(2026, 6, 1), date(2027, 6, 1))])
    req = el.months_at_previous(12, fact, TODAY)
    assert req.met and req.evidence[0].text.params["number"] == "SC-A"


def test_months_at_previous_without_a_tier_below():
    req = el.months_at_previous(12, PreviousTierFact(None, [held()]), TODAY)
    assert not req.met and not req.missing and not req.evidence and req.label.params == {"tier": "—"}


# --- audits -----------------------------------------------------------------------------------

AUDITS = {"count": 2, "average": 85, "months": 12}


def test_audits_none_yet():
    req = el.audits(AUDITS, [])
    assert not req.met and not req.evidence and ids(req.missing) == ["No audits yet."]
    assert req.label.params == {"count": 2, "months": 12, "average": "85"}


def test_audits_met_sorted_by_day():
    facts = [AuditFact(date(2026, 9, 1), 88, False, "B", "/audits/2"), AuditFact(date(2026, 3, 1), 92, False, "A")]
    req = el.audits(AUDITS, facts)
    assert req.met and not req.missing
    assert [(e.day, e.url) for e in req.evidence] == [(date(2026, 3, 1), None), (date(2026, 9, 1), "/audits/2")]
    assert req.evidence[0].text == Msg("%(audit)s on %(day)s: %(score)s%%%(red)s",
                                       {"audit": "A", "day": date(2026, 3, 1), "score": "92", "red": ""})


def test_audits_a_red_line_failure_fails_whatever_the_average():
    facts = [AuditFact(date(2026, 3, 1), 92, False, "A"), AuditFact(date(2026, 9, 1), 88, False, "B"),
             AuditFact(date(2026, 10, 1), 95, True, "C"), AuditFact(date(2026, 6, 1), 99, True, "D")]
    req = el.audits(AUDITS, facts)
    assert not req.met and len(req.evidence) == 4
    assert req.evidence[-1].text.params["red"] == Msg(" (red-line failure)")
    assert req.missing == [Msg("A red-line failure on %(day)s.", {"day": date(2026, 10, 1)})]  # the latest


def test_audits_average_below_and_too_few():
    low = el.audits(AUDITS, [AuditFact(date(2026, 3, 1), 80, False, "A"), AuditFact(date(2026, 9, 1), 84.5, False, "B")])
    assert not low.met
    assert low.missing == [Msg("Average %(mean)s, below %(average)s.", {"mean": "82.2", "average": "85"})]
    few = el.audits(AUDITS, [AuditFact(date(2026, 9, 1), 99, False, "B")])
    assert not few.met and few.missing == [Msg("%(n)d of %(count)d audits.", {"n": 1, "count": 2})]
    exact = el.audits({"count": 2, "average": 85}, [AuditFact(date(2026, 3, 1), 85, False, "A"),
                                                    AuditFact(date(2026, 4, 1), 85, False, "B")])
    assert exact.met and exact.label.params["months"] == 12  # 12 months unless the tier says


def test_audit_window_is_the_last_months():
    assert el.audit_window(AUDITS, TODAY) == (date(2025, 11, 20), TODAY)
    assert el.audit_window({"count": 1, "months": 6}, date(2026, 8, 31)) == (date(2026, 2, 28), date(2026, 8, 31))


# --- contributions ----------------------------------------------------------------------------


def test_contributions_count_what_is_given():
    facts = [ContributionFact("Case A", date(2026, 5, 1), "/kb/cases/a"), ContributionFact("Case B", date(2026, 6, 1))]
    req = el.contributions(2, facts)
    assert req.met and not req.missing
    assert req.label == Msg("At least %(n)d accepted knowledge-base contributions", {"n": 2})
    assert req.evidence[0].text == Msg("%(title)s, accepted on %(day)s", {"title": "Case A", "day": date(2026, 5, 1)})
    assert [e.url for e in req.evidence] == ["/kb/cases/a", None]
    short = el.contributions(3, facts)
    assert not short.met and short.missing == [Msg("%(n)d of %(needed)d.", {"n": 2, "needed": 3})]
    assert not el.contributions(1, []).met


# --- the current quarterly course -------------------------------------------------------------


def test_current_quarterly_nothing_assigned_is_met():
    req = el.current_quarterly(None)
    assert req.met and ids(e.text for e in req.evidence) == ["No quarterly course has been assigned yet."]


def test_current_quarterly_incomplete_names_the_due_date():
    req = el.current_quarterly(QuarterlyFact("Q3", "/c/q3", date(2026, 10, 31)))
    assert not req.met and not req.evidence
    assert req.missing == [Msg("%(course)s, due %(day)s: not complete yet.", {"course": "Q3", "day": date(2026, 10, 31)})]
    done = el.current_quarterly(QuarterlyFact("Q3", "/c/q3", date(2026, 10, 31), date(2026, 11, 3)))
    assert done.met and (done.evidence[0].url, done.evidence[0].day) == ("/c/q3", date(2026, 11, 3))


def test_pick_current_quarterly_the_latest_past_due_else_the_next():
    # Latest common due date first, as gathered.
    rows = [(date(2027, 1, 31), "Q4"), (date(2026, 10, 31), "Q3"), (date(2026, 7, 31), "Q2")]
    assert el.pick_current_quarterly(rows, TODAY) == "Q3"
    assert el.pick_current_quarterly(rows, date(2026, 10, 31)) == "Q3"  # due today counts as past
    assert el.pick_current_quarterly(rows, date(2026, 10, 30)) == "Q2"
    assert el.pick_current_quarterly(rows, date(2026, 6, 1)) == "Q2"  # none due yet: the one due next
    assert el.pick_current_quarterly(rows, date(2027, 2, 1)) == "Q4"
    assert el.pick_current_quarterly([], TODAY) is None


def test_pick_current_quarterly_a_late_joiners_own_due_date_decides():
    # Q3's common due date is past, but this late joiner's own due date is not: Q2 is current.
    rows = [(date(2026, 11, 25), "Q3"), (date(2026, 7, 31), "Q2")]
    assert el.pick_current_quarterly(rows, TODAY) == "Q2"
    assert el.pick_current_quarterly([(date(2026, 11, 25), "Q3")], TODAY) == "Q3"


# --- decide -----------------------------------------------------------------------------------


def full_facts(**changes) -> Facts:
    values = dict(
        courses=[CourseFact("Q3", "/c/q3", date(2026, 9, 1))],
        quiz=QuizFact("Final", True, [attempt(1, 95.0)]),
        tasks=TasksFact(["Onboarding"], [TaskFact("T1", True, "Li", date(2026, 10, 1))]),
        previous=PreviousTierFact("Certified", [held(issued=date(2025, 11, 1))]),
        audits=[AuditFact(date(2026, 3, 1), 92, False, "A"), AuditFact(date(2026, 9, 1), 88, False, "B")],
        contributions=[ContributionFact("A"), ContributionFact("B")],
        quarterly=QuarterlyFact("Q3", "/c/q3", date(2026, 10, 31), date(2026, 10, 1)),
    )
    values.update(changes)
    return Facts(**values)


def test_decide_lists_what_the_tier_asks_in_order():
    reqs = el.decide(SPEC, full_facts(), TODAY)
    assert [r.kind for r in reqs] == ["courses", "quiz", "tasks", "months_at_previous", "audits", "contributions",
                                      "current_quarterly"]
    assert all(r.met for r in reqs)
    only = el.decide({"quiz": SPEC["quiz"], "contributions": 1}, full_facts(), TODAY)
    assert [r.kind for r in only] == ["quiz", "contributions"]
    assert el.decide({}, Facts(), TODAY) == []
    assert el.decide({"contributions": 0, "current_quarterly": False}, Facts(), TODAY) == []


def test_decide_renewal_skips_months_at_previous_only():
    facts = full_facts(previous=PreviousTierFact("Certified", []))
    first = el.decide(SPEC, facts, TODAY)
    assert not next(r for r in first if r.kind == "months_at_previous").met
    renewal = el.decide(SPEC, facts, TODAY, renewal=True)
    assert "months_at_previous" not in [r.kind for r in renewal] and len(renewal) == 6
    assert all(r.met for r in renewal)
    assert el.asked(SPEC, renewal=True) == ["courses", "quiz", "tasks", "audits", "contributions", "current_quarterly"]


def test_decide_passes_the_tiers_numbers_on():
    reqs = {r.kind: r for r in el.decide({**SPEC, "contributions": "3", "months_at_previous": "12"}, full_facts(), TODAY)}
    assert not reqs["contributions"].met and reqs["contributions"].label.params == {"n": 3}
    assert reqs["months_at_previous"].label.num == 12 and reqs["months_at_previous"].met  # since 2025-11-01
    reqs = {r.kind: r for r in el.decide({**SPEC, "months_at_previous": 13}, full_facts(), TODAY)}
    assert not reqs["months_at_previous"].met and reqs["months_at_previous"].label.num == 13


def test_decide_without_quiz_facts_reads_not_available():
    (req,) = el.decide({"quiz": {"slug": "gone", "min_score": 80}}, Facts(), TODAY)
    assert not req.met and req.label.params["quiz"] == "gone" and ids(req.missing) == ["The quiz is not available."]


# --- certificate status -----------------------------------------------------------------------


def test_effective_status_expires_an_active_certificate_past_its_date():
    assert el.effective_status("active", date(2026, 11, 20), TODAY) == "active"  # the last valid day
    assert el.effective_status("active", date(2026, 11, 19), TODAY) == "expired"
    assert el.effective_status("suspended", date(2026, 11, 19), TODAY) == "suspended"
    assert el.effective_status("lapsed", date(2027, 1, 1), TODAY) == "lapsed"


def test_what_lifts_it():
    until = date(2027, 1, 1)
    assert el.what_lifts_it("active", until, [], TODAY) is None
    audit = [("issued", "", until), ("suspended", "audit-red-line", None)]
    assert el.what_lifts_it("suspended", until, audit, TODAY).msgid.startswith(
        "A trainer reinstates it after reviewing the audit report")
    by_hand = audit + [("reinstated", "", None), ("suspended", "", None)]  # the latest suspension counts
    assert el.what_lifts_it("suspended", until, by_hand, TODAY) == Msg(
        "A trainer reinstates it after reviewing the reason.")
    assert el.what_lifts_it("suspended", until, [], TODAY).msgid == "A trainer reinstates it after reviewing the reason."
    assert el.what_lifts_it("lapsed", until, [], TODAY).msgid.startswith("Complete the current quarterly course")
    assert el.what_lifts_it("active", date(2026, 1, 1), [], TODAY).msgid.startswith("A trainer renews it")
    assert el.what_lifts_it("revoked", until, [], TODAY).msgid.startswith("A revoked certificate is final")


WINDOW = 90


def test_renewal_refusal_by_status():
    until = date(2027, 11, 20)
    for status in ("suspended", "revoked"):
        refusal = el.renewal_refusal(status, until, [], TODAY, WINDOW)
        assert refusal == Msg("Not possible while the certificate's status is “%(status)s”.",
                              {"status": el.status_label(status)})
    assert el.renewal_refusal("expired", until, [], TODAY, WINDOW) is None
    assert el.renewal_refusal("lapsed", until, [], TODAY, WINDOW) is None
    assert el.renewal_refusal("active", date(2026, 11, 1), [], TODAY, WINDOW) is None  # expired as of today


def test_renewal_refusal_window():
    until = date(2027, 11, 20)
    issued = [("issued", "", until)]
    early = el.renewal_refusal("active", until, issued, date(2027, 8, 21), WINDOW)
    assert early == Msg("Too early: a valid certificate can be renewed from %(day)s, %(n)d days before it expires "
                        "on %(until)s.", {"day": date(2027, 8, 22), "n": 90, "until": until})
    assert el.renewal_refusal("active", until, issued, date(2027, 8, 22), WINDOW) is None
    assert el.renewal_refusal("active", until, issued, until, WINDOW) is None
    assert el.renewal_refusal("active", until, issued, date(2027, 10, 20), 30).msgid.startswith("Too early")
    assert el.renewal_refusal("active", until, issued, date(2027, 10, 21), 30) is None


def test_renewal_refusal_once_per_period():
    first, renewed = date(2027, 11, 20), date(2028, 11, 20)
    events = [("issued", "", first), ("renewed", "", renewed)]
    for day in (date(2027, 8, 22), date(2027, 11, 19)):
        assert el.renewal_refusal("active", renewed, events, day, WINDOW) == Msg(
            "Already renewed for the next period: it runs from %(start)s to %(until)s.",
            {"start": first, "until": renewed})
    # Once the renewed period has begun, the next renewal waits for its own window.
    assert el.renewal_refusal("active", renewed, events, first, WINDOW).msgid.startswith("Too early")
    assert el.renewal_refusal("active", renewed, events, date(2028, 9, 1), WINDOW) is None
    # Events without a date in between do not hide the period before.
    noisy = [("issued", "", first), ("suspended", "", None), ("reinstated", "", None), ("renewed", "", renewed)]
    assert el.renewal_refusal("active", renewed, noisy, date(2027, 9, 1), WINDOW).msgid.startswith("Already renewed")
    # A renewal from expired (the new period starts later than the old end): no earlier period is pending.
    late = [("issued", "", date(2026, 11, 1)), ("expired", "", None), ("renewed", "", date(2027, 11, 20))]
    assert el.renewal_refusal("active", date(2027, 11, 20), late, TODAY, WINDOW).msgid.startswith("Too early")
    # The certificate's date changed since the renewal (e.g. renewed again by hand): not refused as renewed.
    assert el.renewal_refusal("active", date(2029, 11, 20), events, date(2029, 9, 1), WINDOW) is None


# --- the day a decision may change by the date alone (the board's recheck day) ------------------


def test_an_audit_leaves_the_window_on_the_first_day_it_is_out_of_it():
    for day, months in [(date(2026, 3, 31), 1), (date(2025, 2, 28), 12), (date(2024, 2, 29), 12),
                        (date(2026, 1, 31), 1), (date(2026, 11, 20), 12)]:
        out = el.leaves_window(day, months)
        assert el.audit_window({"months": months}, out)[0] > day
        assert el.audit_window({"months": months}, date.fromordinal(out.toordinal() - 1))[0] <= day


@pytest.mark.parametrize("seed", range(40))
def test_no_decision_changes_by_the_date_alone_before_the_day_changes_on_gives(seed):
    """Random certificates of the tier below, audits and quarterly courses, gathered as of each
    day the way ``rules.gather`` does (audits of that day's window, that day's current quarterly
    course): on every day from today until ``changes_on`` the decision is today's."""
    import random

    rng = random.Random(seed)
    today = date.fromordinal(TODAY.toordinal() + rng.randrange(0, 400))

    def near(spread: int) -> date:
        return date.fromordinal(today.toordinal() + rng.randrange(-spread, spread))

    spec = {"months_at_previous": rng.choice([1, 12]), "current_quarterly": True,
            "audits": {"count": rng.choice([1, 2]), "average": 85, "months": rng.choice([1, 12])}}
    certs = []
    for n in range(rng.randrange(0, 3)):
        issued = near(400)
        certs.append(HeldCertificate(f"SC-{n}", issued, date.fromordinal(issued.toordinal() + rng.choice([30, 365])),
                                     rng.choice(["active", "active", "suspended", "expired"]), "/c"))
    certs.sort(key=lambda c: c.issued_on)
    audits = [(near(400), rng.choice([80, 90, 95]), rng.random() < 0.1) for _n in range(rng.randrange(0, 4))]
    audits = [(d, s, r) for d, s, r in audits if d <= today]  # a submitted audit's visit is never ahead
    dues = sorted({near(120) for _n in range(rng.randrange(0, 3))}, reverse=True)
    completed = {due: rng.choice([None, today]) for due in dues}

    def gather(day: date) -> Facts:
        since, until = el.audit_window(spec["audits"], day)
        picked = el.pick_current_quarterly([(d, d) for d in dues], day)
        return Facts(previous=PreviousTierFact("Certified", certs),
                     audits=[AuditFact(d, s, r, "audit") for d, s, r in audits if since <= d <= until],
                     quarterly=None if picked is None else QuarterlyFact("Q", "/q", picked, completed[picked]),
                     quarterly_dues=dues)

    def outcome(day: date):
        return [(r.kind, r.met) for r in el.decide(spec, gather(day), day)]

    change = el.changes_on(spec, gather(today), today)
    assert change is None or change > today
    last = change or date.fromordinal(today.toordinal() + 800)
    first = outcome(today)
    for n in range(today.toordinal(), last.toordinal()):
        assert outcome(date.fromordinal(n)) == first, (date.fromordinal(n), change)


def test_a_provider_of_audits_of_unknown_days_makes_the_decision_checked_daily():
    spec = {"audits": {"count": 1, "average": 80}}
    assert el.changes_on(spec, Facts(), TODAY) is None
    assert el.changes_on(spec, Facts(audits_unforeseeable=True), TODAY) == date(2026, 11, 21)
