"""Turning what a technician types into a ranked list of fault cases.

Plain Python (no Flask) over a Whoosh index. A query is cut into *concepts*: each error
code, each synonym group found (every equivalent wording, both languages), each other
word. Every concept is optional: cases are ranked first by how many of the most telling
concepts they match, in the short headline fields (title, symptoms, components) before
the bodies, then by score, so a long symptom description never comes back empty because
one word is absent, and a case naming the fault in its title beats one mentioning it in
passing. Scores are BM25 per field, weighted: error code > model number > title >
symptoms and components > body.

Scoring is array arithmetic over whole posting lists (postings.IndexArrays) rather than
Whoosh's matcher tree, which walks postings one document at a time in Python. The ranking
decision itself (concepts chosen, weights, tiers, page order, each hit's evidence) is in
ranking.py, over plain values; this module analyses the query, gathers those values from the
index and reads the stored fields of the hits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .analysis import (
    STOP_EN,
    Synonyms,
    bigrams,
    looks_like_code,
    looks_like_model,
    model_family,
    model_query_variants,
    model_variants,
    normalise,
    PRODUCT_WORDS,
    product_hints,
    normalise_code,
    normalise_query,
    query_side,
    terms,
)
from .postings import IndexArrays, arrays_for
from . import ranking
from .ranking import FIELD_WEIGHTS, Concept, Ranked, is_large

# A word found in more than this share of cases is not looked up in bodies: it would
# cost a walk over most of the index and say almost nothing about relevance.
COMMON_SHARE = 0.15
# A synonym group contributes at most this many of its wordings (the most used ones).
MAX_WORDINGS = 4
PIECE_RE = re.compile(r"[0-9a-z][0-9a-z/.\-]*")


@dataclass
class Filters:
    product: str | None = None
    model: str | None = None
    component: str | None = None
    lang: str | None = None  # only cases in this language

    def mask(self, arrays: IndexArrays) -> np.ndarray | None:
        """Dense boolean array of the cases these filters let through (None: no filter)."""
        masks = []
        if self.product:
            masks.append(arrays.mask("product", [self.product]))
        if self.lang:
            masks.append(arrays.mask("langs", [self.lang]))
        if self.component:
            masks.append(arrays.mask("component_tags", [normalise(self.component)]))
        if self.model:
            # A family alone (XQG) lets through every model of the family.
            family = model_family(self.model)
            whole = family is not None and normalise(self.model).replace(" ", "") == family
            masks.append(arrays.mask("models", model_query_variants(self.model) + ([family] if whole else [])))
        if not masks:
            return None
        out = masks[0]
        for m in masks[1:]:
            out = out & m
        return out


@dataclass
class Hit:
    key: str
    slugs: dict  # lang → slug
    score: float
    code_match: bool = False
    evidence: ranking.Evidence | None = None  # why it ranks where it does


@dataclass
class Outcome:
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    terms: list[str] = field(default_factory=list)  # words to highlight in snippets
    codes: list[str] = field(default_factory=list)
    exact_code: str | None = None
    product_hint: str | None = None  # the appliance the query names, if exactly one
    suggestions: list[str] = field(default_factory=list)
    concepts: list[Concept] = field(default_factory=list)  # what must (mostly) match
    models: list[str] = field(default_factory=list)  # model variants: optional extra score
    full_models: list[str] = field(default_factory=list)  # models typed in full: first in a tier
    side: str | None = None  # "indoor" or "outdoor": the one unit the query names


class Stats:
    """How often words occur in the index: used to leave out what costs much and says little."""

    def __init__(self, searcher=None):
        self.searcher = searcher
        self.total = searcher.doc_count() if searcher is not None else 0
        self._cache: dict[tuple[str, str], int] = {}

    def df(self, field_name: str, word: str) -> int:
        if self.searcher is None:
            return 1
        key = (field_name, word)
        if key not in self._cache:
            self._cache[key] = self.searcher.doc_frequency(field_name, word)
        return self._cache[key]

    def present(self, word: str) -> bool:
        return any(self.df(f, word) for f in FIELD_WEIGHTS)

    @property
    def large(self) -> bool:
        """Shortcuts that trade a little recall for speed are only worth it on a large index."""
        return is_large(self.total)

    def common(self, word: str) -> bool:
        return self.large and self.df("body", word) > COMMON_SHARE * self.total


def _wordings(alternatives: list[list[str]], stats: Stats) -> list[list[str]]:
    """The wordings worth searching: what was typed, then the most used others in the index."""
    typed, others = alternatives[0], alternatives[1:]
    found = [alt for alt in others if all(stats.present(w) for w in alt)]
    found.sort(key=lambda alt: -min(stats.df("head", w) + stats.df("title", w) for w in alt))
    return [typed] + found[:MAX_WORDINGS - 1]


_PRODUCT_TERMS = None


def _is_product_word(words: list[str]) -> bool:
    global _PRODUCT_TERMS
    if _PRODUCT_TERMS is None:
        _PRODUCT_TERMS = {tuple(terms(w)) for ws in PRODUCT_WORDS.values() for w in ws}
    return tuple(words) in _PRODUCT_TERMS


def _family_piece(piece: str, families: frozenset[str]) -> str | None:
    """The model family a piece of the query names ("xqg", "xqg70", "kfr-35"), if the index has it."""
    family = model_family(piece)
    if family not in families:
        return None
    if piece == family:  # letters alone: not when they are also a word ("ac", "the")
        return None if piece in STOP_EN or _is_product_word([piece]) else family
    return family if re.search(r"\d", piece) else None


def analyse(text: str, synonyms: Synonyms, known_codes: frozenset[str], corrector=None,
            stats: Stats | None = None, families: frozenset[str] = frozenset()) -> Outcome:
    """The query's concepts, and what to highlight.

    ``corrector(word)`` may return the indexed word a misspelt English word stands for;
    the correction is searched as well as what was typed. ``families`` are the model
    families the index holds (a family typed alone, "XQG", finds the cases listing one).
    """
    # Keyboard slips fold to the word meant first (致冷 → 制冷): one pass over the query.
    norm = synonyms.fold(normalise_query(text))
    stats = stats or Stats()
    outcome = Outcome(side=query_side(norm))
    pieces = PIECE_RE.findall(norm)
    model_pieces = []
    for piece in pieces:
        code = normalise_code(piece)
        if len(code) <= 4 and looks_like_code(code, known_codes):
            outcome.codes.append(code)
            outcome.concepts.append(Concept("code", [code], stats.df("codes", code)))
            continue
        family = _family_piece(piece, families)
        if looks_like_model(piece) or family:
            # A model narrows, but a case need not list every model it applies to: it
            # raises the cases that do, and is never required. A model also counts for
            # its family (the index lists the family of every model).
            found = model_query_variants(piece) + ([family] if family else [])
            outcome.models.extend(v for v in found if v not in outcome.models)
            if looks_like_model(piece):  # the model in full, not a family or a family + size
                outcome.full_models.extend(v for v in model_variants(piece) if v not in outcome.full_models)
            model_pieces.append(piece)
    if len(pieces) == 1 and outcome.codes and PIECE_RE.fullmatch(norm.replace(" ", "")):
        outcome.exact_code = outcome.codes[0]
    model_words = {w for piece in model_pieces for w in terms(piece)}
    words = [w for w in dict.fromkeys(terms(norm)) if w not in model_words]
    highlight = set(words)
    group_hits = synonyms.matches(norm)
    in_groups = {w for member, _others in group_hits for w in terms(member)}
    corrections: dict[str, list[str]] = {}  # misspelt word → what it most likely meant
    if corrector is not None:
        for raw in set(re.findall(r"[a-z]{4,}", norm)):
            stemmed = terms(raw)
            if len(stemmed) != 1 or stemmed[0] in in_groups or _is_product_word(stemmed):
                continue
            fixed = corrector(raw)
            if fixed and terms(fixed):
                corrections[stemmed[0]] = terms(fixed)
                highlight.add(fixed)
    # Concepts: each synonym group found in the query, and each word no group covers.
    # Each counts once, as its best wording in its best field.
    word_concepts: list[list[list[str]]] = []
    covered: set[str] = set()
    for member, others in group_hits:
        alternatives = [t for t in (terms(alt) for alt in [member] + others) if t]
        if alternatives:
            word_concepts.append(alternatives)
            covered.update(terms(member))
        highlight.update([member] + others)
    word_concepts.extend([[w]] + ([corrections[w]] if w in corrections else [])
                         for w in words if w not in covered)
    for alternatives in word_concepts:
        alternatives = _wordings(alternatives, stats)
        # How many cases the concept reaches, judged by the wording that was typed.
        reach = min(stats.df("title", w) + stats.df("head", w) + stats.df("body", w)
                    for w in alternatives[0])
        if reach == 0:  # typed words the index does not have: the other wordings decide
            reach = max(min(stats.df("title", w) + stats.df("head", w) for w in alt)
                        for alt in alternatives)
        outcome.concepts.append(Concept("words", alternatives, reach,
                                        topical=not all(_is_product_word(a) for a in alternatives)))
    hinted = product_hints(norm)
    if len(hinted) == 1:
        outcome.product_hint = hinted[0]
    pairs = list(dict.fromkeys(bigrams(norm)))
    # Pairs of characters are a safety net for Chinese words the index does not know
    # (segmented differently); when every word is known they only cost time.
    unknown_cjk = [w for w in words if not w.isascii() and not stats.present(w)]
    if pairs and unknown_cjk:
        outcome.concepts.append(Concept("pairs", pairs, stats.total))
    outcome.terms = sorted(highlight | set(outcome.codes), key=len, reverse=True)
    return outcome


# --- scoring ---------------------------------------------------------------------------------
# The engine gathers from the index what the ranking decision (ranking.py) reads, and turns
# the decision's hits into stored hits.


def _rank(arrays: IndexArrays, stats: Stats, outcome: Outcome) -> Ranked:
    """The ranking decision for one query on one index, from the values gathered here."""
    concepts = ranking.choose_concepts(outcome.concepts, outcome.models, stats.total)
    common = frozenset(w for w in ranking.concept_words(concepts) if stats.common(w))
    postings = {key: arrays.scored(*key)
                for key in ranking.postings_needed(concepts, outcome.models, common, outcome.exact_code,
                                                   outcome.full_models)}
    other_side = None
    if outcome.side:
        # "室外机风扇不转" and the indoor-fan case share every other word ("fan", "not
        # turning", even "outdoor runs" in its title): the unit named decides between them.
        # The cases about each unit are read once per searcher; a query only looks up its
        # candidates in that array (no work that grows with the index).
        other_side = arrays.cached_mask("side", "indoor" if outcome.side == "outdoor" else "outdoor")
    return ranking.rank(arrays.size, concepts, postings, models=outcome.models, common=common,
                        other_side=other_side, exact_code=outcome.exact_code,
                        full_models=outcome.full_models)


def _stored(searcher, docnum: int) -> tuple[str, dict]:
    stored = searcher.stored_fields(int(docnum))
    slugs = dict(reversed(part.split(":", 1)) for part in stored["slugs"].split(",") if ":" in part)
    return stored["key"], slugs


def search(searcher, text: str, synonyms: Synonyms, filters: Filters | None = None,
           limit: int = 10, page: int = 1) -> Outcome:
    """Ranked hits, one per case (translations share one document), for page ``page``."""
    stats = Stats(searcher)
    outcome = analyse(text, synonyms, known_codes(searcher), corrector=_corrector(searcher),
                      stats=stats, families=known_families(searcher))
    arrays = arrays_for(searcher)
    filters = filters or Filters()
    ranked = _rank(arrays, stats, outcome) if (outcome.concepts or outcome.models) else None
    if outcome.product_hint and not filters.product and ranked is not None:
        # The query names the appliance ("冰箱不制冷", "XQG E2"): keep to it, unless that
        # leaves nothing at all (then search every product).
        hinted = Filters(product=outcome.product_hint, model=filters.model,
                         component=filters.component, lang=filters.lang)
        found = _page(searcher, arrays, ranked, hinted.mask(arrays), outcome, limit, page)
        if found.total:
            return found
    outcome.product_hint = None
    return _page(searcher, arrays, ranked, filters.mask(arrays), outcome, limit, page)


def _page(searcher, arrays: IndexArrays, ranked: Ranked | None, mask: np.ndarray | None,
          outcome: Outcome, limit: int, page: int) -> Outcome:
    result = Outcome(terms=outcome.terms, codes=outcome.codes, exact_code=outcome.exact_code,
                     product_hint=outcome.product_hint)
    wanted = limit * page
    live = arrays.live if mask is None else (arrays.live & mask)
    if ranked is None:
        if mask is None:
            return result
        docs, result.total = ranking.unranked(live, limit, page)  # a filter alone: every case it lets through
        for d in docs:
            key, slugs = _stored(searcher, d)
            result.hits.append(Hit(key=key, slugs=slugs, score=1.0, code_match=False))
        return result
    candidates, rank_keys = ranking.shortlist(ranked, live, wanted)
    if not candidates.size:
        return result
    stored = [_stored(searcher, d) for d in candidates]
    slugs = {int(d): s for d, (_key, s) in zip(candidates, stored)}
    for hit in ranking.page_of(ranked, candidates, rank_keys, [key for key, _s in stored], limit, page):
        result.hits.append(Hit(key=hit.key, slugs=slugs[hit.docnum], score=hit.score,
                               code_match=hit.code_match, evidence=hit.evidence))
    result.total = ranking.total(ranked, live, wanted)
    return result


def known_codes(searcher) -> frozenset[str]:
    """The error codes in the index, read once per searcher (a changed index gets a new one)."""
    codes = getattr(searcher, "_portal_codes", None)
    if codes is None:
        codes = frozenset(t.decode() if isinstance(t, bytes) else t
                          for t in searcher.lexicon("codes"))
        searcher._portal_codes = codes
    return codes


def known_families(searcher) -> frozenset[str]:
    """The model families in the index (the all-letter model terms: "kfr", "xqg"), read once
    per searcher like the codes."""
    families = getattr(searcher, "_portal_families", None)
    if families is None:
        words = (t.decode() if isinstance(t, bytes) else t for t in searcher.lexicon("models"))
        families = frozenset(w for w in words if w.isalpha() and model_family(w) == w)
        searcher._portal_families = families
    return families


def _corrector(searcher):
    reader = searcher.reader()

    def correct(word: str) -> str | None:
        if word in STOP_EN or reader.frequency("spell", word):
            return None
        options = searcher.suggest("spell", word, limit=1, maxdist=2)
        return options[0] if options and options[0] != word else None

    return correct


def suggest(searcher, text: str, synonyms: Synonyms) -> list[str]:
    """Other ways to ask: spelling corrections and synonym rewordings, best first."""
    typed = normalise_query(text)
    norm = synonyms.fold(typed)
    suggestions: list[str] = [norm] if norm != typed else []  # 致冷 → "制冷"
    corrected = norm
    for word in set(re.findall(r"[a-z]{4,}", norm)):
        if not searcher.reader().frequency("spell", word):
            options = searcher.suggest("spell", word, limit=1, maxdist=2)
            if options:
                corrected = re.sub(rf"\b{re.escape(word)}\b", options[0], corrected)
    if corrected != norm:
        suggestions.append(corrected)
    for member, others in synonyms.matches(norm):
        for other in others[:2]:
            suggestions.append(norm.replace(member, other, 1))
    return [s for s in dict.fromkeys(suggestions) if s and s != typed][:4]
