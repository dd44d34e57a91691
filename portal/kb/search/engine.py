"""Turning what a technician types into a ranked list of fault cases.

Plain Python over a Whoosh searcher (no Flask). Ranking, highest weight first:
error code, model number, title, symptoms, components, body. Every query word is
optional: a case matching more of them ranks higher (a coordination bonus), so a
long symptom description never comes back empty because one word is absent.
Synonym groups add every equivalent wording, in both languages; pairs of Chinese
characters catch what segmentation splits differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import query as Q

from .analysis import (
    STOP_EN,
    Synonyms,
    bigrams,
    looks_like_code,
    looks_like_model,
    model_query_variants,
    normalise,
    PRODUCT_WORDS,
    product_hints,
    normalise_code,
    normalise_query,
    terms,
)

FIELD_WEIGHTS = {"title": 4.0, "symptoms": 3.0, "components": 2.0, "body": 1.0}
CODE_WEIGHT = 12.0
MODEL_WEIGHT = 8.0
BIGRAM_WEIGHT = 0.6
TITLE_ALL_WEIGHT = 6.0
PIECE_RE = re.compile(r"[0-9a-z][0-9a-z/.\-]*")


@dataclass
class Filters:
    product: str | None = None
    model: str | None = None
    component: str | None = None
    lang: str | None = None  # only cases in this language

    def query(self):
        parts = []
        if self.product:
            parts.append(Q.Term("product", self.product))
        if self.lang:
            parts.append(Q.Term("langs", self.lang))
        if self.component:
            parts.append(Q.Term("component_tags", normalise(self.component)))
        if self.model:
            parts.append(Q.Or([Q.Term("models", v) for v in model_query_variants(self.model)]))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Q.And(parts)


@dataclass
class Hit:
    key: str
    slugs: dict  # lang → slug
    score: float
    code_match: bool = False


@dataclass
class Outcome:
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    terms: list[str] = field(default_factory=list)  # words to highlight in snippets
    codes: list[str] = field(default_factory=list)
    exact_code: str | None = None
    product_hint: str | None = None  # the appliance the query names, if exactly one
    suggestions: list[str] = field(default_factory=list)


def _word_clause(word: str):
    return Q.DisjunctionMax([Q.Term(f, word, boost=w) for f, w in FIELD_WEIGHTS.items()],
                            tiebreak=0.2)


def _words_clause(words: list[str]):
    clauses = [_word_clause(w) for w in words]
    return clauses[0] if len(clauses) == 1 else Q.And(clauses)


_PRODUCT_TERMS = None


def _is_product_word(words: list[str]) -> bool:
    global _PRODUCT_TERMS
    if _PRODUCT_TERMS is None:
        _PRODUCT_TERMS = {tuple(terms(w)) for ws in PRODUCT_WORDS.values() for w in ws}
    return tuple(words) in _PRODUCT_TERMS


def analyse(text: str, synonyms: Synonyms, known_codes: frozenset[str], corrector=None):
    """The query's clauses, and what to highlight. Returns (query or None, Outcome).

    ``corrector(word)`` may return the indexed word a misspelt English word stands for;
    the correction is searched as well as what was typed.
    """
    norm = normalise_query(text)
    outcome = Outcome()
    clauses = []
    pieces = PIECE_RE.findall(norm)
    for piece in pieces:
        code = normalise_code(piece)
        if len(code) <= 4 and looks_like_code(code, known_codes):
            outcome.codes.append(code)
            clauses.append(Q.Term("codes", code, boost=CODE_WEIGHT))
        elif looks_like_model(piece):
            clauses.append(Q.Or([Q.Term("models", v) for v in model_query_variants(piece)],
                                boost=MODEL_WEIGHT))
    if len(pieces) == 1 and outcome.codes and PIECE_RE.fullmatch(norm.replace(" ", "")):
        outcome.exact_code = outcome.codes[0]
    words = list(dict.fromkeys(terms(norm)))
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
    concepts: list[list[list[str]]] = []
    covered: set[str] = set()
    for member, others in group_hits:
        alternatives = [t for t in (terms(alt) for alt in [member] + others) if t]
        if alternatives:
            concepts.append(alternatives)
            covered.update(terms(member))
        highlight.update([member] + others)
    concepts.extend([[w]] + ([corrections[w]] if w in corrections else [])
                    for w in words if w not in covered)
    for alternatives in concepts:
        options = [_words_clause(alt) for alt in alternatives]
        clauses.append(options[0] if len(options) == 1 else Q.DisjunctionMax(options, tiebreak=0.1))
    # The strongest sign a case is the one asked for: its title says everything asked
    # (the appliance aside, which the product hint handles).
    topical = [alts for alts in concepts if not all(_is_product_word(a) for a in alts)]
    if topical:
        per_concept = [Q.Or([Q.And([Q.Term("title", t) for t in alt]) for alt in alts])
                       for alts in topical]
        clauses.append(Q.And(per_concept, boost=TITLE_ALL_WEIGHT) if len(per_concept) > 1
                       else Q.Or(per_concept, boost=TITLE_ALL_WEIGHT))
    hinted = product_hints(norm)
    if len(hinted) == 1:
        outcome.product_hint = hinted[0]
    pairs = list(dict.fromkeys(bigrams(norm)))
    if pairs:
        clauses.append(Q.Or([Q.Term("cjk", p) for p in pairs], boost=BIGRAM_WEIGHT, scale=0.9))
    outcome.terms = sorted(highlight | set(outcome.codes), key=len, reverse=True)
    if not clauses:
        return None, outcome
    return Q.Or(clauses, scale=0.9), outcome


def _hits(results, seen: set[str], limit: int, code_match: bool = False) -> list[Hit]:
    hits = []
    for hit in results:
        key = hit["key"]
        if key in seen:
            continue
        seen.add(key)
        slugs = dict(reversed(part.split(":", 1)) for part in hit["slugs"].split(",") if ":" in part)
        hits.append(Hit(key=key, slugs=slugs, score=hit.score, code_match=code_match))
        if len(hits) >= limit:
            break
    return hits


def search(searcher, text: str, synonyms: Synonyms, filters: Filters | None = None,
           limit: int = 10, page: int = 1) -> Outcome:
    """Ranked hits, one per case (translations collapsed by key), for page ``page``."""
    query, outcome = analyse(text, synonyms, known_codes(searcher), corrector=_corrector(searcher))
    filters = filters or Filters()
    if outcome.product_hint and not filters.product and query is not None:
        # The query names the appliance ("冰箱不制冷", "XQG E2"): keep to it, unless that
        # leaves nothing at all (then search every product).
        hinted = Filters(product=outcome.product_hint, model=filters.model,
                         component=filters.component, lang=filters.lang)
        found = _run(searcher, query, outcome, hinted.query(), limit, page)
        if found.total:
            return found
    outcome.product_hint = None
    return _run(searcher, query, outcome, filters.query(), limit, page)


def _run(searcher, query, outcome: Outcome, filter_query, limit: int, page: int) -> Outcome:
    outcome = Outcome(terms=outcome.terms, codes=outcome.codes, exact_code=outcome.exact_code,
                      product_hint=outcome.product_hint)
    wanted = limit * page
    seen: set[str] = set()
    hits: list[Hit] = []
    if query is None:
        if filter_query is None:
            return outcome
        query = Q.Every()
    if outcome.exact_code:
        # A query that is exactly an error code lists the cases for that code first.
        code_results = searcher.search(Q.Term("codes", outcome.exact_code), limit=wanted,
                                       filter=filter_query)
        hits.extend(_hits(code_results, seen, wanted, code_match=True))
    results = searcher.search(query, limit=wanted + len(hits), filter=filter_query)
    hits.extend(_hits(results, seen, wanted - len(hits)))
    outcome.total = len(results)  # one document per case: matches are cases
    outcome.hits = hits[limit * (page - 1):wanted]
    return outcome


def known_codes(searcher) -> frozenset[str]:
    """The error codes in the index, read once per searcher (a changed index gets a new one)."""
    codes = getattr(searcher, "_portal_codes", None)
    if codes is None:
        codes = frozenset(t.decode() if isinstance(t, bytes) else t
                          for t in searcher.lexicon("codes"))
        searcher._portal_codes = codes
    return codes


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
    norm = normalise_query(text)
    suggestions: list[str] = []
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
    return [s for s in dict.fromkeys(suggestions) if s and s != norm][:4]
