"""Which (project, id) keys are already stored, without reading the events table each time.

The writer keeps the 64-bit hashes of the stored keys in three tiers, so that storing a call
never copies the whole index:

- the newest commits' hashes, sorted per commit (at most 16 parts);
- a young tier: one sorted array of whole hashes, up to an eighth of the old tier;
- the old tier, compact: the top 50 bits of each hash. The first 18 choose one of 262,144
  buckets (where each bucket starts: 2 MB), the next 32 are kept sorted within their bucket:
  4 bytes a call, 40 MB for 10 million calls (sorted whole hashes took 80 MB). The young tier
  joins it in a thread of its own, so that no commit waits for that copy (both are searched
  meanwhile).

At 10 million calls, looking up and adding 5,400-call commits costs 0.32 us of CPU a call and
no commit waits more than 12 ms; 2.1 us and 235 ms when every 17th commit copied all the sorted
hashes in the writer's thread (`python -m bench.dedupe_index`).

A hit is only a candidate: the exact key is then looked up in the store, so neither a hash
collision nor the 14 bits the old tier leaves out can drop a call. A new key looks stored by
chance with probability stored / 2^50 (1 in 110 million at 10 million calls): one lookup more.
"""

from __future__ import annotations

import threading

import numpy as np

_PARTS = 16  # newest parts kept apart before they join the young tier
_YOUNG_MIN = 262_144  # the young tier joins the old one from this size (or an eighth of it)
_BUCKET_BITS = 18
_BUCKETS = 1 << _BUCKET_BITS
_LEFT_OUT = np.uint64(64 - _BUCKET_BITS - 32)  # low bits the old tier does not keep
_TOP = np.uint64(64 - _BUCKET_BITS)
_SPAN = 4096  # buckets spelt out at a time when merging


class SeenKeys:
    def __init__(self, hashes: np.ndarray | None = None) -> None:
        self._old = _compact(np.asarray(hashes if hashes is not None else [], dtype=np.uint64))
        self._young = np.empty(0, dtype=np.uint64)
        self._parts: list[np.ndarray] = []
        self._parts_size = 0
        self._joining = np.empty(0, dtype=np.uint64)  # the young tier a thread is merging
        self._merge: _Merge | None = None

    def __len__(self) -> int:
        return len(self._old) + len(self._joining) + len(self._young) + self._parts_size

    def maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        """A boolean mask: True where the hash was added before (a candidate duplicate)."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        order = np.argsort(hashes)
        ascending = hashes[order]  # searched in order: numpy's searchsorted is then 3x faster
        found = self._old.maybe_seen(ascending)
        for part in (self._joining, self._young, *self._parts):
            found |= _contains(part, ascending)
        hit = np.empty(len(found), dtype=bool)
        hit[order] = found
        return hit

    def add(self, hashes: np.ndarray) -> None:
        if len(hashes) == 0:
            return
        self._parts.append(np.sort(np.asarray(hashes, dtype=np.uint64)))
        self._parts_size += len(hashes)
        if len(self._parts) <= _PARTS:
            return
        parts = np.sort(np.concatenate(self._parts))
        self._young = _inserted(self._young, np.searchsorted(self._young, parts), parts)
        self._parts, self._parts_size = [], 0
        if self._merge is not None and not self._merge.is_alive():
            self.wait()
        if self._merge is None and len(self._young) >= max(_YOUNG_MIN, len(self._old) // 8):
            self._joining, self._young = self._young, np.empty(0, dtype=np.uint64)
            self._merge = _Merge(self._old, self._joining)

    def wait(self) -> None:
        """Adopt the old tier a merge is making, once it is made (tests; otherwise `add`)."""
        if self._merge is not None:
            self._old = self._merge.result()
            self._joining, self._merge = np.empty(0, dtype=np.uint64), None


class _Merge(threading.Thread):
    def __init__(self, old: _Compact, young: np.ndarray) -> None:
        super().__init__(name="promptpulse-dedupe-merge", daemon=True)
        self._old, self._young = old, young
        self._merged: _Compact | None = None
        self.start()

    def run(self) -> None:
        self._merged = self._old.merged_with(self._young)

    def result(self) -> _Compact:
        self.join()
        if self._merged is None:  # the thread failed (logged by threading): merge here
            self._merged = self._old.merged_with(self._young)
        return self._merged


class _Compact:
    """Hashes, 4 bytes each: `starts[b]` is where bucket b begins in `kept`, the 32 bits kept
    of its hashes, ascending. Never changed once made (a merge makes a new one)."""

    def __init__(self, kept: np.ndarray, starts: np.ndarray) -> None:
        self._kept, self._starts = kept, starts

    def __len__(self) -> int:
        return len(self._kept)

    def maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        buckets, kept = _buckets(hashes), _fingerprints(hashes)
        at = self._lower_bound(buckets, kept)
        inside = at < self._starts[buckets + 1]
        hit = np.zeros(len(hashes), dtype=bool)
        hit[inside] = self._kept[at[inside]] == kept[inside]
        return hit

    def merged_with(self, sorted_hashes: np.ndarray) -> _Compact:
        """A new tier holding these hashes too (this one is left as it was, still searchable)."""
        buckets, kept = _buckets(sorted_hashes), _fingerprints(sorted_hashes)
        at = self._merge_positions(buckets, kept)
        starts = self._starts.copy()
        starts[1:] += np.cumsum(np.bincount(buckets, minlength=_BUCKETS))
        return _Compact(_inserted(self._kept, at, kept), starts)

    def _merge_positions(self, buckets: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """Where sorted hashes go among these: a searchsorted over their 50-bit keys, spelt out
        for a span of buckets at a time (bounded temporaries; spans without new hashes are
        skipped)."""
        at = np.empty(len(kept), dtype=np.int64)
        firsts = np.arange(0, _BUCKETS + 1, _SPAN)
        edges = np.searchsorted(buckets, firsts)  # the new hashes of each span
        for first, lo, hi in zip(firsts[:-1], edges[:-1], edges[1:], strict=True):
            if lo == hi:
                continue
            begin, end = self._starts[first], self._starts[first + _SPAN]
            spelt = np.repeat(
                np.arange(first, first + _SPAN, dtype=np.uint64) << np.uint64(32),
                np.diff(self._starts[first : first + _SPAN + 1]),
            )
            spelt |= self._kept[begin:end]
            wanted = (buckets[lo:hi].astype(np.uint64) << np.uint64(32)) | kept[lo:hi]
            at[lo:hi] = begin + np.searchsorted(spelt, wanted)
        return at

    def _lower_bound(self, buckets: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """Per hash, the first position in its bucket whose kept bits are not below its own: a
        binary search of every hash at once, one numpy step per halving (~log2 of a bucket)."""
        lo, hi = self._starts[buckets], self._starts[buckets + 1]
        last = len(self._kept) - 1  # only indexed while some bucket is open, so not empty
        while True:
            open_ = lo < hi
            if not open_.any():
                return lo
            mid = (lo + hi) >> 1
            below = open_ & (self._kept[np.minimum(mid, last)] < kept)
            lo = np.where(below, mid + 1, lo)
            hi = np.where(open_ & ~below, mid, hi)


def _compact(hashes: np.ndarray) -> _Compact:
    if hashes.flags.writeable and hashes.flags.owndata:
        hashes.sort()  # in place: the caller hands the array over (no second 8 B a call)
    else:
        hashes = np.sort(hashes)
    # Sorted by the whole hash, so by bucket, then by the 32 bits kept within each bucket.
    firsts = np.arange(_BUCKETS, dtype=np.uint64) << _TOP
    starts = np.append(np.searchsorted(hashes, firsts), len(hashes)).astype(np.int64)
    return _Compact(_fingerprints(hashes), starts)


def _buckets(hashes: np.ndarray) -> np.ndarray:
    return (hashes >> _TOP).astype(np.intp)


def _fingerprints(hashes: np.ndarray) -> np.ndarray:
    """The 32 bits below the bucket's. Shifted straight into 4-byte values (numpy casts 8 KB at
    a time): no 8-byte temporary of every hash."""
    kept = np.empty(len(hashes), dtype=np.uint32)
    np.right_shift(hashes, _LEFT_OUT, out=kept, casting="unsafe")
    return kept


def _inserted(values: np.ndarray, at: np.ndarray, new: np.ndarray) -> np.ndarray:
    """`np.insert(values, at, new)` for ascending `at`, by a scatter: 3x as fast."""
    placed = at + np.arange(len(at))  # where each new value lands in the result
    others = np.ones(len(values) + len(new), dtype=bool)
    others[placed] = False
    out = np.empty(len(others), dtype=values.dtype)
    out[placed] = new
    out[others] = values
    return out


def _contains(sorted_hashes: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    if len(sorted_hashes) == 0:
        return np.zeros(len(hashes), dtype=bool)
    pos = np.searchsorted(sorted_hashes, hashes)
    pos[pos == len(sorted_hashes)] = 0
    return sorted_hashes[pos] == hashes
