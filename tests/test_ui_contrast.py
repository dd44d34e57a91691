"""Every foreground/background pair the stylesheet uses meets WCAG AA (4.5:1 for text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parent.parent / "portal/static/css/portal.css"

# (foreground, background) custom properties that appear together in the stylesheet.
PAIRS = [
    ("text", "bg"), ("text", "surface"), ("muted", "surface"), ("muted", "bg"),
    ("primary", "surface"), ("primary", "bg"), ("primary-dark", "surface"),
    ("primary-text", "primary"), ("primary-text", "primary-dark"),
    ("primary", "info-bg"), ("primary-dark", "info-bg"),
    ("header-text", "header"), ("header", "bg"), ("danger-text", "danger"),
    ("success-text", "success-bg"), ("error-text", "error-bg"), ("error-text", "surface"),
    ("info-text", "info-bg"), ("notice-text", "notice-bg"), ("tag-text", "tag-bg"),
    ("text", "info-bg"),
]


def _variables() -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", CSS.read_text(), re.S).group(1)
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", root))


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _declared_pairs() -> set[tuple[str, str]]:
    """(color, background) pairs declared together in one rule of the stylesheet."""
    pairs = set()
    for block in re.findall(r"{([^{}]*)}", CSS.read_text()):
        fg = re.search(r"(?<![-\w])color:\s*var\(--([a-z-]+)\)", block)
        bg = re.search(r"background(?:-color)?:\s*var\(--([a-z-]+)\)", block)
        if fg and bg:
            pairs.add((fg.group(1), bg.group(1)))
    return pairs


def test_every_declared_pair_is_checked():
    """A rule that sets both colours is a pair: it must be in PAIRS (and so pass AA)."""
    declared = _declared_pairs()
    assert declared, "the parser found no colour pairs"
    assert declared - set(PAIRS) == set()


def test_contrast_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("fg, bg", PAIRS)
def test_pairs_meet_wcag_aa(fg, bg):
    colours = _variables()
    assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, colours[fg], bg, colours[bg])
