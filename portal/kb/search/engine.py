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

FIELD_WEIGHTS = {"title": 4.0, "head": 3.0, "body": 1.0}
# A word found in more than this share of cases is not looked up in bodies: it would
# cost a walk over most of the index and say almost nothing about relevance.
COMMON_SHARE = 0.15
# A synonym group contributes at most this many of its wordings (the most used ones).
MAX_WORDINGS = 4
# The most telling concepts of a query that take part (a long description keeps its best).
MAX_CONCEPTS = 6
# A concept found in more than this share of cases is left out when the query has others.
VAGUE_SHARE = 0.4
# Both shortcuts above apply from this many cases up; a small index is fast anyway.
LARGE_INDEX = 500
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
    # The query in parts, for progressive relaxation: (clause, how many cases it touches).
    concepts: list = field(default_factory=list)
    bonus: object = None  # optional extra score: the title says everything asked
    boosts: list = field(default_factory=list)  # optional extra score: model numbers


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
        return self.total >= LARGE_INDEX

    def common(self, word: str) -> bool:
        return self.large and self.df("body", word) > COMMON_SHARE * self.total


def _word_clause(word: str, stats: Stats, headline_only: bool = False):
    fields = [(f, w) for f, w in FIELD_WEIGHTS.items()
              if not (f == "body" and (headline_only or stats.common(word)))]
    terms_ = [Q.Term(f, word, boost=w) for f, w in fields]
    return terms_[0] if len(terms_) == 1 else Q.DisjunctionMax(terms_, tiebreak=0.2)


def _words_clause(words: list[str], stats: Stats, headline_only: bool = False):
    clauses = [_word_clause(w, stats, headline_only) for w in words]
    return clauses[0] if len(clauses) == 1 else Q.And(clauses)


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


def analyse(text: str, synonyms: Synonyms, known_codes: frozenset[str], corrector=None,
            stats: Stats | None = None):
    """The query's clauses, and what to highlight. Returns (query or None, Outcome).

    ``corrector(word)`` may return the indexed word a misspelt English word stands for;
    the correction is searched as well as what was typed.
    """
    norm = normalise_query(text)
    stats = stats or Stats()
    outcome = Outcome()
    clauses = []
    pieces = PIECE_RE.findall(norm)
    for piece in pieces:
        code = normalise_code(piece)
        if len(code) <= 4 and looks_like_code(code, known_codes):
            outcome.codes.append(code)
            clause = Q.Term("codes", code, boost=CODE_WEIGHT)
            clauses.append(clause)
            outcome.concepts.append((clause, stats.df("codes", code), clause))
        elif looks_like_model(piece):
            # A model narrows, but a case need not list every model it applies to: it
            # raises the cases that do, and is never required.
            clause = Q.Or([Q.Term("models", v) for v in model_query_variants(piece)],
                          boost=MODEL_WEIGHT)
            clauses.append(clause)
            outcome.boosts.append(clause)
    if len(pieces) == 1 and outcome.codes and PIECE_RE.fullmatch(norm.replace(" ", "")):
        outcome.exact_code = outcome.codes[0]
    model_words = {w for piece in pieces if looks_like_model(piece) for w in terms(piece)}
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
    concepts = [_wordings(alts, stats) for alts in concepts]
    for alternatives in concepts:
        variants = []
        for headline_only in (False, True):
            options = [_words_clause(alt, stats, headline_only) for alt in alternatives]
            variants.append(options[0] if len(options) == 1
                            else Q.DisjunctionMax(options, tiebreak=0.1))
        clauses.append(variants[0])
        # How many cases the concept reaches, judged by the wording that was typed.
        reach = min(stats.df("title", w) + stats.df("head", w) + stats.df("body", w)
                    for w in alternatives[0])
        if reach == 0:  # typed words the index does not have: the other wordings decide
            reach = max(min(stats.df("title", w) + stats.df("head", w) for w in alt)
                        for alt in alternatives)
        outcome.concepts.append((variants[0], reach, variants[1]))
    # The strongest sign a case is the one asked for: its title says everything asked
    # (the appliance aside, which the product hint handles).
    topical = [alts for alts in concepts if not all(_is_product_word(a) for a in alts)]
    if topical:
        per_concept = [Q.Or([Q.And([Q.Term("title", t) for t in alt]) for alt in alts])
                       for alts in topical]
        outcome.bonus = (Q.And(per_concept, boost=TITLE_ALL_WEIGHT) if len(per_concept) > 1
                         else Q.Or(per_concept, boost=TITLE_ALL_WEIGHT))
        clauses.append(outcome.bonus)
    if outcome.boosts:
        extras = ([outcome.bonus] if outcome.bonus is not None else []) + outcome.boosts
        outcome.bonus = extras[0] if len(extras) == 1 else Q.Or(extras)
    hinted = product_hints(norm)
    if len(hinted) == 1:
        outcome.product_hint = hinted[0]
    pairs = list(dict.fromkeys(bigrams(norm)))
    # Pairs of characters are a safety net for Chinese words the index does not know
    # (segmented differently); when every word is known they only cost time.
    unknown_cjk = [w for w in words if not w.isascii() and not stats.present(w)]
    if pairs and unknown_cjk:
        clause = Q.Or([Q.Term("cjk", p) for p in pairs], boost=BIGRAM_WEIGHT, scale=0.9)
        clauses.append(clause)
        outcome.concepts.append((clause, stats.total, clause))
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
    query, outcome = analyse(text, synonyms, known_codes(searcher), corrector=_corrector(searcher),
                             stats=Stats(searcher))
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
    """Cases matching every concept first; then, while the page is not full, the cases
    matching all but the least telling concept (the one found in the most cases), and so
    on. Intersections are cheap for Whoosh where a wide OR over common words is not, and a
    case matching more of what was asked still ranks higher."""
    result = Outcome(terms=outcome.terms, codes=outcome.codes, exact_code=outcome.exact_code,
                     product_hint=outcome.product_hint)
    wanted = limit * page
    seen: set[str] = set()
    hits: list[Hit] = []
    if query is None:
        if filter_query is None:
            return result
        everything = searcher.search(Q.Every(), limit=wanted, filter=filter_query)
        result.hits = _hits(everything, seen, wanted)[limit * (page - 1):]
        result.total = len(everything)
        return result
    if outcome.exact_code:
        # A query that is exactly an error code lists the cases for that code first.
        code_results = searcher.search(Q.Term("codes", outcome.exact_code), limit=wanted,
                                       filter=filter_query)
        hits.extend(_hits(code_results, seen, wanted, code_match=True))
    # Concepts no case has cannot help; then the most telling first.
    concepts = [c for c in outcome.concepts if c[1] > 0] or outcome.concepts
    if not concepts and outcome.boosts:  # only a model number was asked for
        concepts = [(Q.Or(outcome.boosts), 0, Q.Or(outcome.boosts))]
    concepts = sorted(concepts, key=lambda c: c[1])[:MAX_CONCEPTS]
    total_docs = searcher.doc_count() or 1
    telling = [c for c in concepts if c[1] <= VAGUE_SHARE * total_docs]
    if telling and total_docs >= LARGE_INDEX:
        # A concept found in a large share of all cases ("fault", "code") says almost
        # nothing about which case is meant; the others decide.
        concepts = telling
    total = 0
    # Headlines (title, symptoms, components) first: short postings, and the cases that
    # name the fault there are the ones wanted. Bodies only if the page is not full yet.
    for headline in (True, False):
        if len(hits) >= wanted:
            break
        clauses = [c[2] if headline else c[0] for c in concepts]
        for keep in range(len(clauses), min(2, len(clauses)) - 1, -1):
            core = clauses[0] if keep == 1 else Q.And(clauses[:keep])
            step_query = Q.AndMaybe(core, outcome.bonus) if outcome.bonus is not None else core
            found = searcher.search(step_query, limit=wanted + len(seen), filter=filter_query)
            if not total:
                total = len(found)
            hits.extend(_hits(found, seen, wanted - len(hits)))
            if len(hits) >= wanted:
                break
    if len(hits) < wanted and len(concepts) > 1:
        # Still short: either of the two most telling concepts will do, so the query is
        # never empty while one of its words matches anything.
        found = searcher.search(Q.Or(clauses[:2]), limit=wanted + len(seen), filter=filter_query)
        hits.extend(_hits(found, seen, wanted - len(hits)))
    result.total = max(total, len(seen))
    result.hits = hits[limit * (page - 1):wanted]
    return result


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
