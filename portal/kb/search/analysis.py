"""Text analysis for fault-case search: Chinese and English in one field, codes, models.

Plain Python (no Flask): values in, tokens out.

- Text is NFKC-normalised (full-width letters and digits fold to ASCII) and lower-cased.
- Runs of Chinese characters are segmented by rjieba (jieba-rs) with a domain dictionary;
  the index side uses search mode, which also emits the shorter words inside long ones.
- English words are stemmed (Porter); words with digits (e1, r32, 35gw) are kept whole.
- Error codes and model numbers are normalised separately and matched exactly.
- Synonym groups (content/kb/synonyms.yaml) expand a query to every member of a group; the
  keyboard slips listed beside them (致冷 for 制冷) fold to the word meant first.
- A model's family (the letters it starts with: KFR, XQG) is indexed with it.
- Which unit a query or a case is about (indoor or outdoor) is read from its words.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass, field

import rjieba
from whoosh.analysis import Token, Tokenizer
from whoosh.lang.porter import stem

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
RUN_RE = re.compile(rf"[{CJK}]+|[a-z0-9]+(?:'[a-z]+)?")
CJK_RUN_RE = re.compile(rf"[{CJK}]+")
SPACED_CODE_RE = re.compile(r"\b([a-z]{1,2})\s+(\d{1,3})\b")

STOP_EN = frozenset("""
a an the of on in at to for from with by and or is are was be been it its this that my our your
not no do does did don't doesnt dont wont won't isnt cant cannot can will would when after before
very too also just still keep keeps kept then there what why how which please help
show shows showing shown display displays displayed displaying
""".split())
STOP_ZH = frozenset("""
的 了 是 在 我 我的 有 就 也 都 和 与 或 吗 呢 啊 吧 呀 哦 怎么 怎么办 什么 为什么 一直 老是 总是
请问 一下 这个 那个 还是 但是 然后 时候 出现 发现 显示屏 一个 可以 没有了
一股 有点 有些 有一点 特别 非常 比较 一点 好像 感觉 突然 经常 显示 提示 报
""".split())


def normalise(text: str) -> str:
    """Fold full-width forms, lower-case, and tidy apostrophes and spaces."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


def normalise_query(text: str) -> str:
    """A query as typed on a phone: also joins a code typed with a space ("E 4" → "e4")."""
    return SPACED_CODE_RE.sub(r"\1\2", normalise(text))


def normalise_code(code: str) -> str:
    return re.sub(r"[^0-9a-z]", "", normalise(code))


def model_variants(model: str) -> list[str]:
    """A model number as stored: normalised, and without separators ("kfr-35gw", "kfr35gw")."""
    norm = re.sub(r"\s+", "", normalise(model))
    compact = re.sub(r"[-/._]", "", norm)
    return list(dict.fromkeys(v for v in (norm, compact) if v))


def model_query_variants(model: str) -> list[str]:
    """A model typed in full (KFR-35GW/BP2-1) also finds the family it belongs to (KFR-35GW)."""
    norm = re.sub(r"\s+", "", normalise(model))
    variants = []
    parts = re.split(r"(?=[-/.])", norm)
    for i in range(len(parts), 0, -1):
        prefix = "".join(parts[:i]).rstrip("-/.")
        if re.search(r"\d", prefix):  # "kfr" alone says nothing about the unit
            variants.extend(model_variants(prefix))
    return list(dict.fromkeys(variants))


FAMILY_PREFIX_RE = re.compile(r"([a-z]{2,5})(?=[-/.\d]|$)")


def model_family(model: str) -> str | None:
    """The letters a model number starts with, its family (KFR-35GW → "kfr", XQG70 → "xqg")."""
    match = FAMILY_PREFIX_RE.match(re.sub(r"\s+", "", normalise(model)))
    return match.group(1) if match else None


def model_index_terms(model: str) -> list[str]:
    """What the index holds for a model a case lists: the model as written and without
    separators, each shorter model it belongs to (KFR-35GW/BP2-1 → KFR-35GW), and its
    family (KFR), so that a family typed alone finds every case listing one of its models."""
    family = model_family(model)
    found = model_variants(model) + model_query_variants(model) + ([family] if family else [])
    return list(dict.fromkeys(found))


CODE_RE = re.compile(r"^(?=.*\d)[a-z]{1,3}\d{1,3}$|^[a-z]\d[a-z]?$")
MODEL_RE = re.compile(r"^[a-z]{2,6}\d*-[0-9a-z][0-9a-z/.\-]*$|^[a-z]{2,6}\d{2,}[a-z]{1,4}[0-9a-z]*$")


def looks_like_code(token: str, known: frozenset[str] = frozenset()) -> bool:
    return token in known or bool(CODE_RE.match(token))


def looks_like_model(token: str) -> bool:
    return bool(MODEL_RE.match(token)) and bool(re.search(r"\d", token))


# --- which appliance a query is about -------------------------------------------------------

PRODUCT_WORDS = {
    "air-conditioner": ["空调", "空调器", "挂机", "柜机", "分体机", "变频空调", "定频空调",
                        "air conditioner", "air-conditioner", "aircon", "air con", "ac", "a/c",
                        "split unit"],
    "washing-machine": ["洗衣机", "滚筒洗衣机", "波轮洗衣机", "滚筒", "波轮", "洗衣",
                        "washing machine", "washer", "laundry"],
    "refrigerator": ["冰箱", "冷藏室", "冷冻室", "冷藏", "冷冻", "fridge", "refrigerator",
                     "freezer"],
    "water-heater": ["热水器", "燃气热水器", "电热水器", "空气能热水器", "热泵热水器", "热水",
                     "water heater", "hot water", "boiler"],
}
MODEL_FAMILIES = {
    "air-conditioner": ("kfr", "kf", "kfrd"),
    "washing-machine": ("xqg", "xqb", "xpb", "tqg"),
    "refrigerator": ("bcd", "bc", "bd"),
    "water-heater": ("jsq", "jsg", "jsy", "dszf", "f50", "f60", "f80", "kf-rs"),
}
_FAMILY_RE = re.compile(r"(?<![a-z0-9])([a-z]{2,4})(?=[-\d]|\b)")


def product_hints(query: str) -> list[str]:
    """The appliances a query names, by word or by model family (XQG → washing machine)."""
    norm = normalise(query)
    found = []
    for product, words in PRODUCT_WORDS.items():
        for word in words:
            if word.isascii():
                if re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", norm):
                    found.append(product)
                    break
            elif word in norm:
                found.append(product)
                break
    for match in _FAMILY_RE.finditer(norm):
        for product, families in MODEL_FAMILIES.items():
            if match.group(1) in families and product not in found:
                found.append(product)
    return found


# --- indoor or outdoor unit ------------------------------------------------------------------

# Words that name both units at once ("室内外机通讯", "indoor/outdoor cable") say neither.
_BOTH_UNITS_RE = re.compile(
    r"室?内外机?|indoor\s*(?:/|-|&|and|or)\s*outdoor|outdoor\s*(?:/|-|&|and|or)\s*indoor"
    r"|内机[或和与及跟、/]外机|外机[或和与及跟、/]内机")
# Longer words first at each position ("室外机" before "外机").
_UNIT_RE = re.compile(r"室外机|室外|外风机|外机|(?<![a-z])(?:outdoor|outside unit|condensing unit)"
                      r"|室内机|室内|内风机|内机|(?<![a-z])(?:indoor|inside unit)")


def unit_mentions(text: str) -> tuple[int, int]:
    """How often a text names the indoor and the outdoor unit (or a part on that side)."""
    text = _BOTH_UNITS_RE.sub(" ", normalise(text))
    indoor = outdoor = 0
    for match in _UNIT_RE.finditer(text):
        word = match.group(0)
        if "外" in word or word.startswith(("out", "condensing")):
            outdoor += 1
        else:
            indoor += 1
    return indoor, outdoor


def query_side(text: str) -> str | None:
    """"indoor" or "outdoor" when a query names the one unit only, else None."""
    indoor, outdoor = unit_mentions(text)
    if indoor and not outdoor:
        return "indoor"
    if outdoor and not indoor:
        return "outdoor"
    return None


def case_side(titles) -> str:
    """The unit a case is about, judged from its titles (every language version): the part
    before the first colon when there is one ("内风机不转：…，外机在运行" is about the indoor
    fan), else the whole title. "indoor", "outdoor", or "" for neither or both."""
    indoor = outdoor = 0
    for title in titles:
        head = normalise(title).split(":", 1)[0]
        i, o = unit_mentions(head)
        indoor, outdoor = indoor + i, outdoor + o
    if indoor > outdoor:
        return "indoor"
    if outdoor > indoor:
        return "outdoor"
    return ""


# --- Chinese segmentation ------------------------------------------------------------------

_dictionary_lock = threading.Lock()
_dictionary: set[str] = set()


def add_words(words) -> None:
    """Teach the segmenter domain words (once per process; rjieba's dictionary is global)."""
    with _dictionary_lock:
        for word in words:
            word = normalise(word)
            if word and word not in _dictionary and CJK_RUN_RE.fullmatch(word):
                rjieba.add_word(word, None, None)  # freq and tag: let jieba choose
                _dictionary.add(word)


def _segment(run: str, search_mode: bool) -> list[str]:
    return list(rjieba.cut_for_search(run) if search_mode else rjieba.cut(run))


@functools.lru_cache(maxsize=200_000)
def _english(word: str) -> str | None:
    word = word.replace("'", "")
    if word in STOP_EN or len(word) < 2:
        return None
    if word.isalpha() and len(word) > 3:
        return stem(word)
    return word


def terms(text: str, index: bool = False) -> list[str]:
    """The search terms of a text. ``index=True`` adds the short words inside long Chinese ones."""
    out: list[str] = []
    for match in RUN_RE.finditer(normalise(text)):
        run = match.group(0)
        if CJK_RUN_RE.fullmatch(run):
            for word in _segment(run, index):
                if word.strip() and word not in STOP_ZH:
                    out.append(word)
        else:
            word = _english(run)
            if word:
                out.append(word)
    return out


def bigrams(text: str) -> list[str]:
    """Overlapping pairs of Chinese characters: a safety net when segmentation differs."""
    out = []
    for run in CJK_RUN_RE.findall(normalise(text)):
        if len(run) == 1:
            out.append(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


class MixedTokenizer(Tokenizer):
    """Whoosh tokenizer over :func:`terms` (index side)."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, text in enumerate(terms(value, index=True)):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + pos
            yield token


class BigramTokenizer(Tokenizer):
    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, text in enumerate(bigrams(value)):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            yield token


# --- synonyms ------------------------------------------------------------------------------


@dataclass
class Synonyms:
    """Groups of words that mean the same to a technician, in either language."""

    groups: list[list[str]] = field(default_factory=list)
    # Slips of the pinyin keyboard: the word meant → what gets typed instead (制冷: [致冷]).
    variants: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        self.groups = [[normalise(m) for m in group if normalise(m)] for group in self.groups]
        self._variant_of = {}
        for word, slips in (self.variants or {}).items():
            for slip in slips or ():
                if normalise(slip) and normalise(slip) != normalise(word):
                    self._variant_of[normalise(slip)] = normalise(word)
        # One pattern for every slip, longest first: folding costs one pass over the query.
        self._variant_re = None
        if self._variant_of:
            alternatives = []
            for slip in sorted(self._variant_of, key=len, reverse=True):
                alternatives.append(re.escape(slip) if CJK_RUN_RE.search(slip)
                                    else rf"(?<![a-z0-9]){re.escape(slip)}(?![a-z0-9])")
            self._variant_re = re.compile("|".join(alternatives))
        self._patterns = []
        for index, group in enumerate(self.groups):
            for member in group:
                if CJK_RUN_RE.search(member):
                    pattern = re.compile(re.escape(member))
                else:
                    pattern = re.compile(rf"(?<![a-z0-9]){re.escape(member)}(?![a-z0-9])")
                self._patterns.append((pattern, member, index))
        # Longer members first, so "室外机不转" wins over "室外机" where both match.
        self._patterns.sort(key=lambda item: -len(item[1]))
        # Members by their first two characters: a query only tries the members that
        # could start at one of its positions.
        self._order = {id(item): n for n, item in enumerate(self._patterns)}
        self._by_start: dict[str, list] = {}
        for item in self._patterns:
            self._by_start.setdefault(item[1][:2], []).append(item)

    def matches(self, query: str) -> list[tuple[str, list[str]]]:
        """(member found in the query, the other members of its group) for each group hit."""
        query = normalise(query)
        found, taken = [], []
        candidates = {}
        for i in range(len(query)):
            for key in (query[i:i + 2], query[i]):
                for item in self._by_start.get(key, ()):
                    candidates[id(item)] = item
        ordered = sorted(candidates.values(), key=lambda item: self._order[id(item)])
        for pattern, member, index in ordered:
            if member not in query:
                continue
            for m in pattern.finditer(query):
                span = range(m.start(), m.end())
                if any(set(span) & set(t) for t in taken):
                    continue
                if index not in [g for _m, _o, g in found]:
                    others = [o for o in self.groups[index] if o != member]
                    found.append((member, others, index))
                taken.append(span)
                break
        return [(member, others) for member, others, _index in found]

    def fold(self, text: str) -> str:
        """A normalised text with each keyboard slip replaced by the word meant (致冷 → 制冷)."""
        if self._variant_re is None:
            return text
        return self._variant_re.sub(lambda m: self._variant_of[m.group(0)], text)

    def words(self) -> list[str]:
        return [m for group in self.groups for m in group]
