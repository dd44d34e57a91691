"""Lesson Markdown to safe HTML: callouts (tip / warning / safety) and portal links.

Links are resolved before rendering (``case:KEY``, ``lesson:SLUG``, ``quiz:SLUG``, images
under the course's ``images/``). Each callout (a blockquote whose first line is
``[!TIP]``, ``[!WARNING]`` or ``[!SAFETY]``) is cut out of the text and rendered on its own,
so that two callouts in a row stay two (Markdown would merge neighbouring blockquotes);
every piece goes through the same nh3 allow-list as all other text
(markup.render_markdown) and is only wrapped in fixed markup of our own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from markupsafe import Markup, escape

from ..markup import render_markdown

LINK_RE = re.compile(r"(!?)\[([^\]]*)\]\((lesson|case|quiz|images/)([^)\s]*)\)")
CALLOUT_START_RE = re.compile(r"^\s{0,3}>\s?\[!(TIP|WARNING|SAFETY)\]\s*(.*)$", re.I)
QUOTE_LINE_RE = re.compile(r"^\s{0,3}>\s?(.*)$")


def resolve_links(text: str, resolve: Callable[[str, str], str | None]) -> str:
    """Replace portal links by URLs; ``resolve(kind, target)`` returns a URL or None (then the
    link text stays, without a link)."""

    def replace(match: re.Match) -> str:
        bang, label, kind, target = match.groups()
        if kind == "images/":
            kind = "image"
        else:
            target = target.lstrip(":")
        url = resolve(kind, target)
        if url is None:
            return label
        return f"{bang}[{label}]({url})"

    return LINK_RE.sub(replace, text)


def split_callouts(text: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The text with each callout replaced by a placeholder paragraph, and the callouts
    (placeholder → (kind, inner Markdown))."""
    lines = text.splitlines()
    out: list[str] = []
    callouts: dict[str, tuple[str, str]] = {}
    i = 0
    while i < len(lines):
        match = CALLOUT_START_RE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        kind, first = match.group(1).lower(), match.group(2)
        inner = [first] if first else []
        i += 1
        while i < len(lines) and (quoted := QUOTE_LINE_RE.match(lines[i])) and not CALLOUT_START_RE.match(lines[i]):
            inner.append(quoted.group(1))
            i += 1
        token = f"CALLOUT{secrets.token_hex(8)}"
        callouts[token] = (kind, "\n".join(inner))
        out.extend(["", token, ""])
    return "\n".join(out), callouts


def render_lesson(text: str, resolve: Callable[[str, str], str | None],
                  labels: dict[str, str]) -> Markup:
    """``labels``: the callout titles in the reader's language, by kind (tip/warning/safety)."""
    body, callouts = split_callouts(resolve_links(text, resolve))
    html = str(render_markdown(body))
    for token, (kind, inner) in callouts.items():
        aside = (f'<aside class="callout callout-{kind}" role="note">'
                 f'<p class="callout-label">{escape(labels.get(kind, kind))}</p>'
                 f'{render_markdown(inner)}</aside>')
        html = html.replace(f"<p>{token}</p>", aside)
    return Markup(html)
