"""The search ranking decision (portal/kb/search/ranking.py) on hand-made postings: no index, no app."""

from __future__ import annotations

import numpy as np
import pytest

from portal.kb.search import ranking
from portal.kb.search.ranking import Concept


def P(pairs: dict[int, float]):
    """Postings: document number → unweighted score."""
    ids = np.array(sorted(pairs), dtype=np.int32)
    return ids, np.array([pairs[i] for i in sorted(pairs)], dtype=np.float32)


def words(*wordings, reach=1, topical=True):
    return Concept("words", [list(w.split()) for w in wordings], reach, topical)


def order(ranked, size, keys=None, limit=10, page=1, live=None):
    live = np.ones(size, dtype=bool) if live is None else live
    keys = keys or [f"case-{d}" for d in range(size)]
    candidates, rank_keys = ranking.shortlist(ranked, live, limit * page)
    hits = ranking.page_of(ranked, candidates, rank_keys, [keys[d] for d in candidates], limit, page)
    return hits


# --- field weights and wordings -------------------------------------------------------------


def test_field_weights_title_over_head_over_body():
    s = ranking.word_score(3, {"title": P({0: 1.0}), "head": P({1: 1.0}), "body": P({2: 1.0})})
    assert s.tolist() == [4.0, 3.0, 1.0]


def test_a_word_in_several_fields_counts_its_best_field_and_a_little_of_the_others():
    s = ranking.word_score(1, {"title": P({0: 1.0}), "body": P({0: 2.0})})
    assert s[0] == pytest.approx(4.0 + 0.2 * 2.0)


def test_every_word_of_a_wording_must_be_present():
    a, b = np.array([1.0, 1.0], np.float32), np.array([2.0, 0.0], np.float32)
    assert ranking.all_words([a, b]).tolist() == [3.0, 0.0]


def test_best_wording_counts_with_a_little_of_the_others():
    s = ranking.best_wording([np.array([1.0, 0.0], np.float32), np.array([3.0, 2.0], np.float32)])
    assert s[0] == pytest.approx(3.0 + 0.1 * 1.0)
    assert s[1] == pytest.approx(2.0)


def test_common_words_are_not_looked_up_in_bodies():
    needed = ranking.postings_needed([words("fan"), words("noise")], [], {"noise"}, None)
    assert ("body", "fan") in needed and ("title", "noise") in needed
    assert ("body", "noise") not in needed
    # … so a body mention of a common word does not count.
    postings = {("body", "noise"): P({0: 5.0})}
    full, head = ranking.concept_scores(1, words("noise"), postings, common={"noise"})
    assert full[0] == 0 and head[0] == 0


# --- tiers ------------------------------------------------------------------------------------


def test_exact_error_code_beats_a_better_text_match():
    concepts = [Concept("code", ["e1"], 1), words("fan")]
    postings = {("codes", "e1"): P({0: 0.1}),
                ("title", "fan"): P({1: 9.0}), ("head", "fan"): P({1: 9.0}), ("body", "fan"): P({1: 9.0})}
    ranked = ranking.rank(2, concepts, postings, exact_code="e1")
    hits = order(ranked, 2)
    assert [h.docnum for h in hits] == [0, 1]
    assert hits[0].code_match and not hits[1].code_match
    assert hits[0].score == pytest.approx(0.1 * ranking.CODE_WEIGHT)
    assert hits[1].score > hits[0].score  # the tier decides, not the score
    assert hits[0].evidence.matches[0] == ranking.Match("e1", "code", "codes", pytest.approx(1.2))
    assert hits[0].evidence.matches[1].where is None


def test_without_an_exact_code_no_hit_is_a_code_match():
    ranked = ranking.rank(1, [Concept("code", ["e1"], 1)], {("codes", "e1"): P({0: 1.0})})
    assert ranked.code_tier == 0
    assert not order(ranked, 1)[0].code_match


def test_headline_match_beats_a_higher_scoring_body_match():
    concepts = [words("compressor")]
    postings = {("head", "compressor"): P({0: 0.5}), ("body", "compressor"): P({1: 10.0})}
    ranked = ranking.rank(2, concepts, postings)
    hits = order(ranked, 2)
    assert [h.docnum for h in hits] == [0, 1]
    assert hits[0].evidence.matches[0].where == "headline"
    assert hits[1].evidence.matches[0].where == "body"
    assert hits[1].score > hits[0].score


def test_more_leading_concepts_rank_higher_and_either_of_the_two_most_telling_is_last():
    a, b, c = words("a", reach=1), words("b", reach=2), words("c", reach=3)
    postings = {("body", "a"): P({0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}),
                ("body", "b"): P({0: 1.0, 1: 1.0}),
                ("body", "c"): P({0: 1.0, 2: 9.0}),
                ("title", "c"): P({4: 1.0})}
    ranked = ranking.rank(5, [a, b, c], postings)
    # doc 0: all three; 1: a, b; 2: a, c (the run stops at b: one leading concept only);
    # 3: a alone; 4: c alone (neither of the two most telling): not a result.
    assert ranked.tier.tolist() == [6, 5, 1, 1, 0]
    assert ranked.good.tolist() == [True, True, False, False, False]
    assert [h.docnum for h in order(ranked, 5)] == [0, 1, 2, 3]
    live = np.ones(5, dtype=bool)
    assert ranking.total(ranked, live, 10) == 4  # at least the page shown
    assert ranking.total(ranked, live, 1) == 2  # the good ones


def test_title_with_every_topical_concept_gets_a_bonus():
    concepts = [words("fan", reach=1), words("fridge", reach=2, topical=False)]
    postings = {("title", "fan"): P({0: 1.0, 1: 1.0}), ("title", "fridge"): P({0: 1.0})}
    bonus = ranking.title_all(2, concepts, postings)
    # Only "fan" is topical: both titles have it.
    assert bonus.tolist() == [6.0, 6.0]
    assert ranking.title_all(2, [words("fridge", topical=False)], postings) is None


def test_a_model_number_adds_score_without_being_required():
    postings = {("title", "fan"): P({0: 1.0, 1: 1.0}), ("models", "xqg"): P({1: 1.0, 2: 1.0})}
    ranked = ranking.rank(3, [words("fan")], postings, models=["xqg"])
    hits = order(ranked, 3)
    assert [h.docnum for h in hits] == [1, 0]  # doc 2 has the model only: not a result
    assert hits[0].evidence.model == pytest.approx(ranking.MODEL_WEIGHT)


def test_the_other_unit_comes_last_within_its_tier():
    postings = {("title", "fan"): P({0: 2.0, 1: 1.0})}
    other = np.array([True, False])
    ranked = ranking.rank(2, [words("fan")], postings, other_side=other)
    hits = order(ranked, 2)
    assert [h.docnum for h in hits] == [1, 0]
    assert hits[1].evidence.other_side


def test_a_model_typed_in_full_puts_its_cases_first_within_their_tier():
    postings = {("title", "fan"): P({0: 5.0, 1: 1.0}), ("body", "fan"): P({2: 1.0}),
                ("models", "xqg80-b1"): P({1: 1.0, 2: 1.0})}
    concepts = [words("fan")]
    needed = ranking.postings_needed(concepts, [], set(), None, ["xqg80-b1"])
    assert ("models", "xqg80-b1") in needed
    # Without it, the better title wins; with it, the case for that model comes first …
    assert [h.docnum for h in order(ranking.rank(3, concepts, postings), 3)] == [0, 1, 2]
    ranked = ranking.rank(3, concepts, postings, models=["xqg80-b1"], full_models=["xqg80-b1"])
    hits = order(ranked, 3)
    assert [h.docnum for h in hits] == [1, 0, 2]
    assert hits[0].evidence.model_listed and not hits[1].evidence.model_listed
    # … but only within its tier: doc 2 lists the model, yet has the word in its body only.
    assert hits[2].evidence.model_listed and hits[2].evidence.tier < hits[1].evidence.tier


def test_the_unit_named_counts_before_the_model_within_a_tier():
    postings = {("title", "fan"): P({0: 1.0, 1: 1.0}), ("models", "kfr-35gw"): P({0: 1.0})}
    other = np.array([True, False])
    ranked = ranking.rank(2, [words("fan")], postings, other_side=other, full_models=["kfr-35gw"])
    assert [h.docnum for h in order(ranked, 2)] == [1, 0]


# --- ties and pages ----------------------------------------------------------------------------


def test_ties_go_by_case_key_not_document_number():
    postings = {("title", "fan"): P({0: 1.0, 1: 1.0, 2: 1.0})}
    ranked = ranking.rank(3, [words("fan")], postings)
    hits = order(ranked, 3, keys=["c", "a", "b"])
    assert [h.key for h in hits] == ["a", "b", "c"]
    assert [h.key for h in order(ranked, 3, keys=["c", "a", "b"], limit=2, page=2)] == ["c"]


def test_the_shortlist_keeps_whatever_ties_with_the_last_place_within_reason():
    postings = {("title", "fan"): P({d: (2.0 if d == 0 else 1.0) for d in range(20)})}
    ranked = ranking.rank(20, [words("fan")], postings)
    live = np.ones(20, dtype=bool)
    candidates, _keys = ranking.shortlist(ranked, live, 2)
    assert candidates.tolist() == list(range(10))  # 1 best + ties, at most 5 × 2
    candidates, _keys = ranking.shortlist(ranked, live, 5)
    assert candidates.tolist() == list(range(20))


def test_filtered_out_cases_are_not_results():
    postings = {("title", "fan"): P({0: 1.0, 1: 1.0})}
    ranked = ranking.rank(2, [words("fan")], postings)
    live = np.array([False, True])
    assert [h.docnum for h in order(ranked, 2, live=live)] == [1]
    assert ranking.total(ranked, live, 10) == 1


# --- which concepts take part -----------------------------------------------------------------


def test_empty_query_ranks_nothing():
    assert ranking.choose_concepts([], [], 1000) == []
    ranked = ranking.rank(3, [], {})
    assert not ranked.tier.any() and ranking.total(ranked, np.ones(3, bool), 10) == 0
    assert order(ranked, 3) == []
    docs, total = ranking.unranked(np.array([True, False, True, True]), limit=2, page=2)
    assert docs.tolist() == [3] and total == 3


def test_concepts_most_telling_first_unknown_and_vague_ones_left_out():
    rare, vague, missing = words("rare", reach=3), words("fault", reach=900), words("zzz", reach=0)
    assert ranking.choose_concepts([vague, missing, rare], [], 1000) == [rare]
    # On a small index a vague concept still takes part.
    assert ranking.choose_concepts([vague, rare], [], 100) == [rare, vague]
    # When no concept is in the index, they all take part.
    assert ranking.choose_concepts([missing], [], 1000) == [missing]
    many = [words(f"w{i}", reach=i + 1) for i in range(8)]
    assert ranking.choose_concepts(many, [], 1000) == many[:ranking.MAX_CONCEPTS]


def test_a_model_number_alone_makes_a_concept():
    chosen = ranking.choose_concepts([], ["kfr-35gw"], 1000)
    assert chosen == [Concept("models", ["kfr-35gw"], 0)]
    ranked = ranking.rank(2, chosen, {("models", "kfr-35gw"): P({1: 1.0})}, models=["kfr-35gw"])
    hits = order(ranked, 2)
    assert [h.docnum for h in hits] == [1]
    assert hits[0].evidence.matches[0].where == "models"
