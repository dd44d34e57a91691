"""Searching the knowledge base: the index answers, the database supplies what is shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ..extensions import db
from ..links import external_url
from ..markup import highlight, snippet
from . import gaps, indexing
from .indexing import plain_text
from .models import Case, SearchLog
from .search import engine
from .search.analysis import normalise_query


@dataclass
class Result:
    case: Case
    title: object  # Markup, highlighted
    snippet: object  # Markup, highlighted
    code_match: bool
    score: float


@dataclass
class SearchPage:
    query: str
    results: list[Result] = field(default_factory=list)
    total: int = 0
    page: int = 1
    limit: int = 10
    suggestions: list[str] = field(default_factory=list)
    log_id: int | None = None
    exact_code: str | None = None
    rebuilding: bool = False  # no readable index yet: the page says so

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


def search_cases(text: str, *, lang: str, product: str | None = None, model: str | None = None,
                 component: str | None = None, only_lang: str | None = None, limit: int = 10,
                 page: int = 1, user=None, log: bool = True) -> SearchPage:
    """Ranked cases, each shown in ``lang`` when a translation exists (unless ``only_lang``)."""
    indexing.sync()
    terms = indexing.current_terms()
    filters = engine.Filters(product=product or None, model=model or None,
                             component=component or None, lang=only_lang or None)
    result = SearchPage(query=text, page=page, limit=limit)
    with indexing.manager().searcher() as searcher:
        if searcher is None:
            result.rebuilding = True
            return result
        outcome = engine.search(searcher, text, terms.synonyms, filters, limit=limit, page=page)
        if text.strip() and (outcome.total == 0 or outcome.total < 3):
            result.suggestions = engine.suggest(searcher, text, terms.synonyms)
    result.total = outcome.total
    result.exact_code = outcome.exact_code
    if log and text.strip():
        # Logged before the cases are read: the commit would otherwise expire them, and
        # reading them again costs a query per result.
        # The log row and its day's kept gap counts, in one transaction.
        entry = gaps.log_search(text.strip()[:200], normalise_query(text)[:200], lang, outcome.total,
                                user.id if user else None)
        db.session.commit()
        result.log_id = entry.id
    wanted_slugs = []
    for hit in outcome.hits:
        # The reader's language when the case has it, else the other (or only the one asked for).
        order = [only_lang] if only_lang else [lang, "en" if lang == "zh" else "zh"]
        wanted_slugs.append(next((hit.slugs[l] for l in order if l in hit.slugs), None))
    cases = {c.slug: c for c in db.session.scalars(
        select(Case).where(Case.slug.in_([s for s in wanted_slugs if s]),
                           Case.status == "published"))}
    for hit, slug in zip(outcome.hits, wanted_slugs):
        case = cases.get(slug)
        if case is None:  # the index is a moment behind an archive; skip the stale hit
            continue
        text_for_snippet = " ".join(case.symptoms or []) + " " + plain_text(case.body)
        result.results.append(Result(
            case=case, title=highlight(case.title, outcome.terms),
            snippet=snippet(text_for_snippet, outcome.terms), code_match=hit.code_match,
            score=hit.score))
    return result


def mark_opened(log_id: int | None, user) -> None:
    """A result of this search was opened: the search was not a gap."""
    if not log_id:
        return
    entry = db.session.get(SearchLog, log_id)
    if entry is not None and not entry.opened and (entry.user_id is None or
                                                   (user is not None and entry.user_id == user.id)):
        gaps.flip_opened(entry)  # and the kept count of its day's unopened searches
        db.session.commit()


def api_result(item: Result) -> dict:
    case = item.case
    return {
        "slug": case.slug,
        "title": case.title,
        "lang": case.lang,
        "product": case.product,
        "error_codes": case.error_codes,
        "url": external_url("kb.case", slug=case.slug),
        "snippet": str(item.snippet),
    }
