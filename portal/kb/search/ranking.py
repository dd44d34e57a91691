"""The ranking decision for fault cases, over plain values: no Whoosh, no Flask, no query.

The engine (engine.py) reads what it needs from the index — per (field, term) the documents
holding the term and their unweighted BM25 scores ("postings"), which words are too common
to look up in bodies, which cases are about the other unit — and hands them to the
functions here, which decide:

- which concepts of a query take part (``choose_concepts``);
- each concept's score per case, anywhere and in the headline fields (``concept_scores``),
  from the field weights, the tie-breaks and the wordings;
- the tiers (exact error code; the most telling concepts all in the headlines; … anywhere;
  either of the two most telling), the scores with their extras (the title says everything
  asked, a model number matches), and which cases count in the total (``rank``);
- within a tier, a case about the unit the query names before one about the other unit,
  then a case listing a model number typed in full before one that does not;
- the order of one page of hits, each with its score and why (``shortlist``, ``page_of``,
  ``evidence``).

Arrays are NumPy arrays indexed by document number; the arithmetic is float32, exactly as
the engine has always done it (results are compared to the last bit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIELD_WEIGHTS = {"title": 4.0, "head": 3.0, "body": 1.0}
HEADLINE = ("title", "head")
# The most telling concepts of a query that take part (a long description keeps its best).
MAX_CONCEPTS = 6
# A concept found in more than this share of cases is left out when the query has others.
VAGUE_SHARE = 0.4
# Both shortcuts (VAGUE_SHARE, and common words not looked up in bodies) apply from this many
# cases up; a small index is fast anyway.
LARGE_INDEX = 500
CODE_WEIGHT = 12.0
MODEL_WEIGHT = 8.0
BIGRAM_WEIGHT = 0.6
TITLE_ALL_WEIGHT = 6.0
FIELD_TIEBREAK = 0.2  # a word in several fields: the best field counts, the others a little
WORDING_TIEBREAK = 0.1  # likewise for several wordings of one concept
# Where the terms of each kind of concept are looked up, and their weight.
KIND_FIELDS = {"code": ("codes", CODE_WEIGHT), "models": ("models", MODEL_WEIGHT),
               "pairs": ("cjk", BIGRAM_WEIGHT)}

Postings = tuple  # (document numbers: int array, unweighted BM25 scores: float32 array)
EMPTY_POSTINGS = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


@dataclass
class Concept:
    """One thing the query asks for, in every wording worth searching."""

    kind: str  # "code", "words", "pairs" (Chinese character pairs), "models"
    wordings: list  # words: [[word, …], …] (all words of one wording); others: [term, …]
    reach: int = 0  # how many cases it touches (by the wording typed)
    topical: bool = True  # False for a concept that only names the appliance

    @property
    def label(self) -> str:
        """The concept as typed (its first wording), for the evidence of a hit."""
        first = self.wordings[0] if self.wordings else ""
        return " ".join(first) if self.kind == "words" else " ".join(self.wordings)


# --- which concepts take part -----------------------------------------------------------------


def choose_concepts(concepts: list[Concept], models: list[str], total_docs: int) -> list[Concept]:
    """The concepts that rank, most telling (smallest reach) first.

    Concepts no case has cannot help (unless none has any); only a model number asked for
    makes a models concept; at most MAX_CONCEPTS; on a large index, a concept found in a large
    share of all cases ("fault", "code") is left out when others are more telling."""
    chosen = [c for c in concepts if c.reach > 0] or concepts
    if not chosen and models:
        chosen = [Concept("models", models, 0)]
    chosen = sorted(chosen, key=lambda c: c.reach)[:MAX_CONCEPTS]
    total = total_docs or 1
    telling = [c for c in chosen if c.reach <= VAGUE_SHARE * total]
    if telling and total >= LARGE_INDEX:
        chosen = telling
    return chosen


def is_large(total_docs: int) -> bool:
    return total_docs >= LARGE_INDEX


def topical(concepts: list[Concept]) -> list[Concept]:
    """The word concepts about the fault (not only naming the appliance)."""
    return [c for c in concepts if c.kind == "words" and c.topical]


def word_fields(headline_only: bool, common: bool) -> tuple[str, ...]:
    """Where a word is looked up: every field, but bodies neither for the headline score nor
    for a word too common to say anything there."""
    return tuple(f for f in FIELD_WEIGHTS if not (f == "body" and (headline_only or common)))


def postings_needed(concepts: list[Concept], models: list[str], common: frozenset[str] | set[str],
                    exact_code: str | None, full_models: list[str] = ()) -> list[tuple[str, str]]:
    """Every (field, term) whose postings ``rank`` reads, each once, in a stable order."""
    wanted: dict[tuple[str, str], None] = {}
    for c in concepts:
        if c.kind in KIND_FIELDS:
            field_name = KIND_FIELDS[c.kind][0]
            terms = c.wordings[:1] if c.kind == "code" else c.wordings
            wanted.update(((field_name, t), None) for t in terms)
        else:
            for words in c.wordings:
                for word in words:
                    wanted.update(((f, word), None) for f in word_fields(False, word in common))
    wanted.update((("models", t), None) for t in models)
    wanted.update((("models", t), None) for t in full_models)
    wanted.update((("title", w), None) for c in topical(concepts) for ws in c.wordings for w in ws)
    if exact_code:
        wanted[("codes", exact_code)] = None
    return list(wanted)


def concept_words(concepts: list[Concept]) -> list[str]:
    """The words of the word concepts (whose body lookups depend on how common they are)."""
    return list(dict.fromkeys(w for c in concepts if c.kind == "words" for ws in c.wordings for w in ws))


# --- scores -----------------------------------------------------------------------------------


def _get(postings: dict, field_name: str, term: str) -> Postings:
    return postings.get((field_name, term), EMPTY_POSTINGS)


def weighted_sum(size: int, parts, weight: float) -> np.ndarray:
    """Per case: the sum of the weighted scores of some postings."""
    out = np.zeros(size, dtype=np.float32)
    for ids, scores in parts:
        if ids.size:
            out[ids] += scores * weight
    return out


def word_score(size: int, fields: dict) -> np.ndarray:
    """A word in its best field (weighted), plus a little for its other fields. ``fields``:
    field → postings of the word, for the fields it is looked up in."""
    best = np.zeros(size, dtype=np.float32)
    total = np.zeros(size, dtype=np.float32)
    for f, weight in FIELD_WEIGHTS.items():
        ids, scores = fields.get(f, EMPTY_POSTINGS)
        if not ids.size:
            continue
        weighted = scores * weight
        best[ids] = np.maximum(best[ids], weighted)
        total[ids] += weighted
    return best + FIELD_TIEBREAK * (total - best)


def all_words(word_scores: list[np.ndarray]) -> np.ndarray:
    """A wording of several words: the sum of their scores where every one is present."""
    out = None
    for s in word_scores:
        out = s if out is None else np.where((out > 0) & (s > 0), out + s, 0).astype(np.float32)
    return out


def best_wording(options: list[np.ndarray]) -> np.ndarray:
    """A concept in several wordings: the best one counts, the others a little."""
    if len(options) == 1:
        return options[0]
    stacked = np.vstack(options)
    best = stacked.max(axis=0)
    return best + WORDING_TIEBREAK * (stacked.sum(axis=0) - best)


def concept_scores(size: int, c: Concept, postings: dict,
                   common: frozenset[str] | set[str] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
    """(score anywhere, score in the headline fields) of one concept, per case."""
    if c.kind in KIND_FIELDS:
        field_name, weight = KIND_FIELDS[c.kind]
        terms = c.wordings[:1] if c.kind == "code" else c.wordings
        full = weighted_sum(size, [_get(postings, field_name, t) for t in terms], weight)
        return full, full
    results = []
    for headline_only in (False, True):
        options = []
        for words in c.wordings:
            options.append(all_words([
                word_score(size, {f: _get(postings, f, w) for f in word_fields(headline_only, w in common)})
                for w in words]))
        results.append(best_wording(options))
    return results[0], results[1]


def title_all(size: int, concepts: list[Concept], postings: dict) -> np.ndarray | None:
    """Extra score where the title holds some wording of every topical concept."""
    about = topical(concepts)
    if not about:
        return None
    total = np.zeros(size, dtype=np.float32)
    everywhere = np.ones(size, dtype=bool)
    for c in about:
        best = np.zeros(size, dtype=np.float32)
        for words in c.wordings:
            s = None
            for word in words:
                part = weighted_sum(size, [_get(postings, "title", word)], 1.0)
                s = part if s is None else np.where((s > 0) & (part > 0), s + part, 0)
            best = np.maximum(best, s)
        everywhere &= best > 0
        total += best
    return np.where(everywhere, total * TITLE_ALL_WEIGHT, 0).astype(np.float32)


# --- tiers --------------------------------------------------------------------------------------


@dataclass
class Ranked:
    """The decision over every case of the index (arrays by document number)."""

    tier: np.ndarray  # int16 per case: 0 = not a result; higher first
    score: np.ndarray  # float32 per case
    good: np.ndarray  # bool: matches the query well (counted in the total)
    code_tier: int = 0  # cases at this tier matched the exact error code
    # Cases about the other unit than the one the query names: last within their tier.
    other_side: np.ndarray | None = None
    # What the scores were made of, for the evidence of a hit.
    concepts: tuple = ()  # the concepts that took part, most telling first
    full: tuple = ()  # per concept: score anywhere
    head: tuple = ()  # per concept: score in the headline fields
    model: np.ndarray | None = None  # model-number score
    bonus: np.ndarray | None = None  # the title says everything asked
    # Cases listing a model number the query gives in full (KFR-35GW/BP2, XQG80-B1201): first
    # within their tier (after the unit named), ahead of cases for other models.
    model_listed: np.ndarray | None = None


def rank(size: int, concepts: list[Concept], postings: dict, *, models: list[str] = (),
         common: frozenset[str] | set[str] = frozenset(), other_side: np.ndarray | None = None,
         exact_code: str | None = None, full_models: list[str] = ()) -> Ranked:
    """Tiers: the exact error code; then the most telling concepts all in the headline
    fields, then all but the least telling one, …; then the same anywhere; then either
    of the two most telling. Within a tier, the score (with optional extras: the title
    says everything asked, a model number matches).

    ``concepts`` as chosen by ``choose_concepts``; ``postings`` holds at least what
    ``postings_needed`` lists; ``common``: words not looked up in bodies; ``other_side``:
    the cases about the other unit than the one the query names; ``full_models``: the variants
    of model numbers typed in full (not a family alone), whose cases go first within a tier."""
    n = len(concepts)
    tier = np.zeros(size, dtype=np.int16)
    score = np.zeros(size, dtype=np.float32)
    full_scores: tuple = ()
    head_scores: tuple = ()
    if n:
        full_scores, head_scores = zip(*(concept_scores(size, c, postings, common) for c in concepts))
        least = min(2, n)
        head_run = np.zeros(size, dtype=np.int16)  # leading concepts matched in headlines
        full_run = np.zeros(size, dtype=np.int16)  # … anywhere
        head_alive = np.ones(size, dtype=bool)
        full_alive = np.ones(size, dtype=bool)
        for full, head in zip(full_scores, head_scores):
            head_alive &= head > 0
            full_alive &= full > 0
            head_run += head_alive
            full_run += full_alive
            score += full
        # Headline tiers rank above every body tier: 2n+k and n+k for k leading concepts.
        tier = np.where(full_run >= least, n + full_run, 0).astype(np.int16)
        tier = np.where(head_run >= least, 2 * n + head_run, tier).astype(np.int16)
        good = tier > 0
        if n > 1:
            either = (full_scores[0] > 0) | (full_scores[1] > 0)
            tier = np.where((tier == 0) & either, 1, tier).astype(np.int16)
    else:
        good = np.zeros(size, dtype=bool)
    model_score = None
    if models:
        model_score = concept_scores(size, Concept("models", list(models), 0), postings)[0]
        score += model_score
    bonus = title_all(size, concepts, postings)
    if bonus is not None:
        score += bonus
    model_listed = listing(size, full_models, postings)
    ranked = Ranked(tier=tier, score=score, good=good, other_side=other_side, concepts=tuple(concepts),
                    full=tuple(full_scores), head=tuple(head_scores), model=model_score, bonus=bonus,
                    model_listed=model_listed)
    if exact_code:
        # A query that is exactly an error code lists the cases for that code first,
        # those about that code (listing fewer others, naming it in the title) before
        # those that mention it in passing.
        code_ids, code_scores = _get(postings, "codes", exact_code)
        ranked.code_tier = 3 * n + 1
        ranked.tier[code_ids] = ranked.code_tier
        ranked.good[code_ids] = True
        ranked.score[code_ids] = code_scores * CODE_WEIGHT + (bonus[code_ids] if bonus is not None else 0)
    return ranked


def listing(size: int, full_models: list[str], postings: dict) -> np.ndarray | None:
    """The cases listing one of the model numbers typed in full (None: none typed).

    A model typed in full is the most specific thing a technician can say about the unit in
    front of them: among cases that match the rest of the query equally well (one tier), the
    ones for that model come first, whatever the scores of the others' words."""
    if not full_models:
        return None
    out = np.zeros(size, dtype=bool)
    for term in full_models:
        ids, _scores = _get(postings, "models", term)
        out[ids] = True
    return out


# --- one page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """How one concept of the query matched one case."""

    concept: str  # as typed
    kind: str  # "code", "words", "pairs", "models"
    where: str | None  # "headline" (title, symptoms, components), "body", "codes", "models", "cjk"; None: not at all
    score: float  # its share of the case's score (before the extras)


@dataclass(frozen=True)
class Evidence:
    """Why a case ranks where it does."""

    tier: int
    code_match: bool  # the query is exactly an error code this case lists
    other_side: bool  # about the other unit than the one the query names (last in its tier)
    matches: tuple[Match, ...] = ()  # per concept, most telling first
    model: float = 0.0  # score for a model number asked for
    title_all: float = 0.0  # score for a title that holds every topical concept
    model_listed: bool = False  # lists a model number typed in full (first within its tier)


@dataclass(frozen=True)
class RankedHit:
    docnum: int
    key: str  # the case key
    score: float
    code_match: bool
    evidence: Evidence


def evidence(ranked: Ranked, docnum: int) -> Evidence:
    """Which concepts matched where in one case, and the extras it got."""
    matches = []
    for c, full, head in zip(ranked.concepts, ranked.full, ranked.head):
        if c.kind in KIND_FIELDS:
            where = KIND_FIELDS[c.kind][0] if full[docnum] > 0 else None
        else:
            where = "headline" if head[docnum] > 0 else "body" if full[docnum] > 0 else None
        matches.append(Match(c.label, c.kind, where, float(full[docnum])))
    tier = int(ranked.tier[docnum])
    return Evidence(
        tier=tier, code_match=is_code_match(ranked, docnum),
        other_side=bool(ranked.other_side[docnum]) if ranked.other_side is not None else False,
        matches=tuple(matches),
        model=float(ranked.model[docnum]) if ranked.model is not None else 0.0,
        title_all=float(ranked.bonus[docnum]) if ranked.bonus is not None else 0.0,
        model_listed=bool(ranked.model_listed[docnum]) if ranked.model_listed is not None else False)


def is_code_match(ranked: Ranked, docnum: int) -> bool:
    return bool(ranked.code_tier > 0 and ranked.tier[docnum] == ranked.code_tier)


def shortlist(ranked: Ranked, live: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidates for the first ``wanted`` hits, best first, with their rank keys: tier
    first (within a tier, a case about the other unit last, then a case not listing a model
    typed in full after those that do), then score; ties by document number. ``live``: the
    cases that may be shown (not deleted, let through by the filters)."""
    candidates = np.flatnonzero((ranked.tier > 0) & live)
    if not candidates.size:
        return candidates, np.zeros(0, dtype=np.float64)
    tiers = ranked.tier[candidates].astype(np.float64) * 4
    if ranked.other_side is not None:
        tiers += 2 * ~ranked.other_side[candidates]
    if ranked.model_listed is not None:
        tiers += ranked.model_listed[candidates]
    keys = tiers * 1e6 + ranked.score[candidates]
    if candidates.size > wanted:
        # The best ``wanted``, and whatever ties with the last of them (so that which of
        # equal cases make the page does not depend on document numbers), within reason.
        cut = np.partition(-keys, wanted - 1)[wanted - 1]
        top = np.flatnonzero(-keys <= cut)
        if top.size > 5 * wanted:
            top = top[np.lexsort((candidates[top], -keys[top]))][:5 * wanted]
        candidates, keys = candidates[top], keys[top]
    order = np.lexsort((candidates, -keys))
    return candidates[order], keys[order]


def page_of(ranked: Ranked, candidates: np.ndarray, rank_keys: np.ndarray, case_keys: list[str],
            limit: int, page: int) -> list[RankedHit]:
    """Page ``page`` of the shortlist (``shortlist``; ``case_keys``: the case key of each
    candidate). Equal ranks in the order of the case keys: the same on every host, however
    its index happens to be laid out in segments."""
    items = sorted(zip(rank_keys, case_keys, candidates), key=lambda item: (-item[0], item[1]))
    return [RankedHit(docnum=int(d), key=key, score=float(ranked.score[d]),
                      code_match=is_code_match(ranked, d), evidence=evidence(ranked, int(d)))
            for _rank, key, d in items[limit * (page - 1):limit * page]]


def total(ranked: Ranked, live: np.ndarray, wanted: int) -> int:
    """How many results to announce: those that match well, and at least the pages shown."""
    good = int(np.count_nonzero(ranked.good & live))
    return max(good, min(wanted, int(np.count_nonzero((ranked.tier > 0) & live))))


def unranked(live: np.ndarray, limit: int, page: int) -> tuple[np.ndarray, int]:
    """No query, only filters: every case they let through, in document order (page, total)."""
    docs = np.flatnonzero(live)
    return docs[limit * (page - 1):limit * page], int(docs.size)
