"""A share of flagged items among the most recent N, kept in O(1) per item (the cascade's slow-stage share)."""

from __future__ import annotations

import collections
from collections.abc import Iterable


class SlidingShare:
    """Share of flagged tickets among the most recent ``size``: O(1) per ticket, read when Prometheus scrapes."""

    def __init__(self, size: int):
        self._flags: collections.deque[bool] = collections.deque(maxlen=size)
        self._flagged = 0

    def extend(self, flags: Iterable[bool]) -> None:
        window = self._flags
        for flag in flags:
            if len(window) == window.maxlen:
                self._flagged -= window[0]
            window.append(flag)
            self._flagged += flag

    def __len__(self) -> int:
        return len(self._flags)

    @property
    def share(self) -> float | None:
        return self._flagged / len(self._flags) if self._flags else None
