"""Whole posting lists of a Whoosh index as NumPy arrays, for scoring a query in bulk.

Whoosh's own matchers walk postings one document at a time in Python (``skip_to``,
``is_active``, ``id`` per posting); on a large index, a query over common words costs
hundreds of thousands of such calls. Here a term's postings are read block by block and
decoded into arrays once, scored with BM25 in vectorised form, and kept in a small
least-recently-used cache, so that combining the words of a query is array arithmetic.

The index on disk is Whoosh's, unchanged; this module only reads it. The fast block
reader relies on the whoosh3 postings format (pickled, delta-coded id tuples per block);
``read_postings_slow`` reads the same through Whoosh's public matcher API, and a test
checks that both agree, so a change in Whoosh's format fails the tests, not the search.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.util.numeric import byte_to_length

BM25_B = 0.75
BM25_K1 = 1.2
EMPTY_IDS = np.zeros(0, dtype=np.int32)
EMPTY_SCORES = np.zeros(0, dtype=np.float32)
# Whoosh stores a field's length per document in one byte (a logarithmic scale).
LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


def _leaf_matcher(leaf, field: str, word: str):
    """The raw postings matcher of one segment (deleted documents included), or None."""
    try:
        tbytes = leaf._text_to_bytes(field, word)
        terms = leaf._terms
        if (field, tbytes) not in terms:
            return None
        return terms.matcher(field, tbytes, leaf.schema[field].format)
    except (KeyError, ValueError):
        return None


def read_postings_fast(matcher) -> tuple[np.ndarray, np.ndarray]:
    """(segment doc numbers, term frequencies) of a matcher, decoded a block at a time."""
    if not isinstance(matcher, W3LeafMatcher) or matcher._byteids:
        return read_postings_slow(matcher)
    ids_parts, weight_parts = [], []
    m = matcher
    while True:
        if m._data is None:
            m._read_data()
        raw_ids, raw_weights, _values = m._data
        n = m._blocklength
        ids_parts.append(np.cumsum(np.fromiter(raw_ids, dtype=np.int64, count=n)))
        if raw_weights is None:
            weight_parts.append(np.ones(n, dtype=np.float32))
        elif isinstance(raw_weights, float):
            weight_parts.append(np.full(n, raw_weights, dtype=np.float32))
        else:
            weight_parts.append(np.asarray(raw_weights, dtype=np.float32))
        if m._lastblock:
            break
        m._goto(m._nextoffset)
    ids = np.concatenate(ids_parts).astype(np.int32) if ids_parts else EMPTY_IDS
    weights = np.concatenate(weight_parts) if weight_parts else EMPTY_SCORES
    return ids, weights


def read_postings_slow(matcher) -> tuple[np.ndarray, np.ndarray]:
    """The same through Whoosh's public Matcher interface (one posting at a time)."""
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.array(ids, dtype=np.int32), np.array(weights, dtype=np.float32)


class IndexArrays:
    """One searcher's index seen as arrays: lengths per field, live documents, and a cache
    of scored postings. Made once per searcher (a changed index gets a new searcher)."""

    def __init__(self, searcher, cache_bytes: int = 48 * 2**20):
        reader = searcher.reader()
        self.searcher = searcher
        self.leaves = list(reader.leaf_readers())
        self.size = reader.doc_count_all()  # document numbers run 0 … size-1
        self.live = np.ones(self.size, dtype=bool)
        for leaf, offset in self.leaves:
            for docnum in getattr(leaf, "deleted_docs_set", None) or ():
                self.live[offset + docnum] = False
        self.doc_count = int(self.live.sum())
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._cache: OrderedDict = OrderedDict()
        self._cache_bytes = 0
        self._masks: dict[tuple[str, str], np.ndarray] = {}  # few, small: see cached_mask
        self.cache_limit = cache_bytes
        self._lock = threading.Lock()

    # --- lengths ------------------------------------------------------------------------
    def lengths(self, field: str) -> tuple[np.ndarray, float]:
        """Each document's length of ``field`` (in tokens, as Whoosh stored it) and the mean."""
        found = self._lengths.get(field)
        if found is None:
            parts = []
            for leaf, _offset in self.leaves:
                count = leaf.doc_count_all()
                perdoc = getattr(leaf, "_perdoc", None)
                column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN) if perdoc else None
                if column is None:
                    parts.append(np.zeros(count, dtype=np.float32))
                else:
                    codes = np.fromiter((column[i] for i in range(count)), dtype=np.uint8, count=count)
                    parts.append(LENGTH_OF_BYTE[codes])
            lengths = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            live_lengths = lengths[self.live]
            mean = float(live_lengths.mean()) if live_lengths.size and live_lengths.mean() > 0 else 1.0
            found = (lengths, mean)
            self._lengths[field] = found
        return found

    # --- postings -----------------------------------------------------------------------
    def postings(self, field: str, word: str) -> tuple[np.ndarray, np.ndarray]:
        """Live documents holding ``word`` in ``field`` (sorted) and their term frequencies."""
        ids_parts, tf_parts = [], []
        for leaf, offset in self.leaves:
            matcher = _leaf_matcher(leaf, field, word) if hasattr(leaf, "_terms") else None
            if matcher is None:
                continue
            try:
                ids, tfs = read_postings_fast(matcher)
            except (AttributeError, TypeError, ValueError):  # another postings layout
                ids, tfs = read_postings_slow(_leaf_matcher(leaf, field, word))
            ids_parts.append(ids + offset)
            tf_parts.append(tfs)
        if not ids_parts:
            return EMPTY_IDS, EMPTY_SCORES
        ids = np.concatenate(ids_parts) if len(ids_parts) > 1 else ids_parts[0]
        tfs = np.concatenate(tf_parts) if len(tf_parts) > 1 else tf_parts[0]
        keep = self.live[ids]
        if not keep.all():
            ids, tfs = ids[keep], tfs[keep]
        return ids.astype(np.int32, copy=False), tfs

    def scored(self, field: str, word: str) -> tuple[np.ndarray, np.ndarray]:
        """(documents, BM25 score) of one word in one field; cached, most recently used kept."""
        key = (field, word)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        ids, tfs = self.postings(field, word)
        if ids.size:
            lengths, mean = self.lengths(field)
            idf = math.log(self.doc_count / (ids.size + 1)) + 1.0
            norm = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths[ids] / mean)
            scores = (idf * tfs * (BM25_K1 + 1) / (tfs + norm)).astype(np.float32)
        else:
            scores = EMPTY_SCORES
        found = (ids, scores)
        cost = ids.nbytes + scores.nbytes + 200
        with self._lock:
            if key not in self._cache:
                self._cache[key] = found
                self._cache_bytes += cost
                while self._cache_bytes > self.cache_limit and len(self._cache) > 1:
                    _old_key, (old_ids, old_scores) = self._cache.popitem(last=False)
                    self._cache_bytes -= old_ids.nbytes + old_scores.nbytes + 200
        return found

    def present(self, field: str, word: str) -> np.ndarray:
        """The documents holding ``word`` in ``field`` (no scores needed)."""
        return self.scored(field, word)[0]

    def mask(self, field: str, words) -> np.ndarray:
        """Dense boolean array: documents holding any of ``words`` in ``field``."""
        out = np.zeros(self.size, dtype=bool)
        for word in words:
            out[self.present(field, word)] = True
        return out


    def cached_mask(self, field: str, word: str) -> np.ndarray:
        """Like :meth:`mask` for one word, made once per searcher and kept: for the few values
        every query may ask about (the unit a case is about), so that a query only indexes it."""
        key = (field, word)
        found = self._masks.get(key)
        if found is None:
            found = self.mask(field, [word])
            with self._lock:
                self._masks[key] = found
        return found


def arrays_for(searcher, cache_bytes: int = 48 * 2**20) -> IndexArrays:
    """The IndexArrays of a searcher, made on first use and kept on it."""
    arrays = getattr(searcher, "_portal_arrays", None)
    if arrays is None:
        arrays = IndexArrays(searcher, cache_bytes)
        searcher._portal_arrays = arrays
    return arrays
