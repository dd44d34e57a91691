"""Markdown to safe HTML, case sections, and search snippets.

Everything users or content authors write goes through :func:`render_markdown`:
Markdown is rendered, then nh3 keeps only an allow-list of tags and attributes,
so no field can run script or inject markup. Snippets are built from escaped text.
"""

from __future__ import annotations

import bisect
import functools
import re

import markdown
import nh3
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "code", "pre",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "a", "img", "span", "del", "sup", "sub",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "h2": {"id"},
    "h3": {"id"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}

SAFETY_HEADINGS = {"safety", "安全注意", "安全", "安全事项", "安全提示"}


def render_markdown(text: str) -> Markup:
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"], output_format="html")
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                      url_schemes=SAFE_SCHEMES, link_rel="noopener noreferrer nofollow")
    return Markup(clean)


def case_sections(body: str) -> list[dict]:
    """The body split at its '## ' headings: [{id, title, html, safety}], in order."""
    sections = []
    parts = re.split(r"^##[ \t]+(.+?)\s*$", body or "", flags=re.M)
    lead = parts[0].strip()
    if lead:
        sections.append({"id": "intro", "title": "", "html": render_markdown(lead), "safety": False})
    for index in range(1, len(parts), 2):
        title = parts[index].strip()
        sections.append({
            "id": f"s{len(sections) + 1}",
            "title": title,
            "html": render_markdown(parts[index + 1]),
            "safety": title.lower() in SAFETY_HEADINGS,
        })
    return sections


def highlight(text: str, terms: list[str]) -> Markup:
    """Escape text and wrap each occurrence of the search terms in <mark>."""
    text = text or ""
    if not terms:
        return escape(text)
    pattern = _terms_pattern(terms)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # every piece of the text was escaped above


def _terms_pattern(terms: list[str]) -> re.Pattern:
    return _compiled_terms(tuple(terms))


@functools.lru_cache(maxsize=512)
def _compiled_terms(terms: tuple[str, ...]) -> re.Pattern:
    """One pattern for the terms, longest first (the same query's terms recur for every hit)."""
    parts = []
    for term in sorted({t for t in terms if t}, key=lambda t: (-len(t), t)):
        if term.isascii():
            # English terms are stems: match the word they begin ("compressor" for "compressor",
            # "cooling" for "cool").
            parts.append(rf"\b{re.escape(term)}[a-z]*")
        else:
            parts.append(re.escape(term))
    return re.compile("|".join(parts), re.I) if parts else re.compile(r"(?!x)x")


SNIPPET_SCAN = 4000


def snippet(text: str, terms: list[str], width: int = 110) -> Markup:
    """The passage of ``text`` with the most search terms in it, highlighted."""
    # The passage is looked for in the first few thousand characters: a case's opening
    # sections say what it is about, and a phone shows two lines of it.
    text = re.sub(r"\s+", " ", (text or "")[:SNIPPET_SCAN]).strip()
    if len(text) <= width:
        return highlight(text, terms)
    pattern = _terms_pattern(terms)
    positions = [m.start() for m in pattern.finditer(text)] if terms else []
    if not positions:
        return highlight(text[:width].rstrip() + "…", [])
    best, best_count = positions[0], 0
    for i, start in enumerate(positions):  # positions are sorted: count those in the window
        count = bisect.bisect_left(positions, start + width, i) - i
        if count > best_count:
            best, best_count = start, count
    begin = max(0, best - width // 4)
    piece = text[begin:begin + width]
    return Markup(("…" if begin else "")) + highlight(piece, terms) + Markup(
        "…" if begin + width < len(text) else "")


@functools.lru_cache(maxsize=4096)
def render_question(text: str, fmt: str = "markdown") -> Markup:
    """A question's text in its own format (imported questions may be HTML or plain text),
    through the same allow-list as everything else.

    Kept per text (a pure function of it; bounded): an attempt page shows 25–50 questions, and
    at the start of an exam hundreds of technicians open theirs at once."""
    if fmt == "plain":
        return Markup("<p>{}</p>".format(escape(text or "")).replace("\n", Markup("<br>")))
    if fmt == "html":
        return Markup(nh3.clean(text or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                                url_schemes=SAFE_SCHEMES, link_rel="noopener noreferrer nofollow"))
    return render_markdown(text)
