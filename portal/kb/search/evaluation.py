"""Relevance measures over a judged query set: MRR@10 and recall@3. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class Judged:
    q: str
    lang: str
    relevant: list[str]


@dataclass
class Scores:
    mrr_at_10: float
    recall_at_3: float
    misses: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    """(query, relevant keys, top-3 keys returned) for queries with nothing relevant in the top 3."""


def load_judged(path: str | Path) -> list[Judged]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return [Judged(q["q"], q.get("lang", "zh"), list(q["relevant"])) for q in data["queries"]]


def evaluate(judged: list[Judged], ranked_keys) -> Scores:
    """``ranked_keys(query, lang)`` returns case keys, best first."""
    reciprocal, hits, misses = 0.0, 0, []
    for item in judged:
        keys = ranked_keys(item.q, item.lang)[:10]
        relevant = set(item.relevant)
        rank = next((i for i, k in enumerate(keys, start=1) if k in relevant), None)
        if rank is not None:
            reciprocal += 1.0 / rank
        if rank is not None and rank <= 3:
            hits += 1
        else:
            misses.append((item.q, item.relevant, keys[:3]))
    n = len(judged) or 1
    return Scores(mrr_at_10=reciprocal / n, recall_at_3=hits / n, misses=misses)
