"""Which (project, id) keys are already stored, without reading the events table each time.

The writer keeps the 64-bit hashes of every stored key in sorted numpy arrays (8 bytes a call:
80 MB for 10 million). A hash hit is only a candidate: the exact key is then looked up in the
store, so a hash collision can never drop a call.
"""

from __future__ import annotations

import numpy as np

_MERGE_AT = 262_144


class SeenKeys:
    def __init__(self, hashes: np.ndarray | None = None) -> None:
        base = np.asarray(hashes if hashes is not None else [], dtype=np.uint64)
        if base.flags.writeable and base.flags.owndata:
            base.sort()  # in place: the caller hands the array over (no second 8 B a call)
        else:
            base = np.sort(base)
        self._base = base
        self._recent: list[np.ndarray] = []
        self._recent_size = 0

    def __len__(self) -> int:
        return len(self._base) + self._recent_size

    def maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        """A boolean mask: True where the hash was added before (a candidate duplicate)."""
        hit = _contains(self._base, hashes)
        for part in self._recent:
            hit |= _contains(part, hashes)
        return hit

    def add(self, hashes: np.ndarray) -> None:
        if len(hashes) == 0:
            return
        self._recent.append(np.sort(np.asarray(hashes, dtype=np.uint64)))
        self._recent_size += len(hashes)
        if self._recent_size >= _MERGE_AT or len(self._recent) > 16:
            merged = np.sort(np.concatenate(self._recent))
            self._base = np.insert(self._base, np.searchsorted(self._base, merged), merged)
            self._recent, self._recent_size = [], 0


def _contains(sorted_hashes: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    if len(sorted_hashes) == 0:
        return np.zeros(len(hashes), dtype=bool)
    pos = np.searchsorted(sorted_hashes, hashes)
    pos[pos == len(sorted_hashes)] = 0
    return sorted_hashes[pos] == hashes
