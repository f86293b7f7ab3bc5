"""The embedding cache: sliding windows encode only their new texts, and memory stays bounded."""

from __future__ import annotations

import numpy as np

from ticketops.monitoring.embedding import CachedEmbedder


class CountingEncoder:
    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, texts):
        self.seen.extend(texts)
        return np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)


def test_only_new_texts_are_encoded_and_rows_keep_their_order():
    encoder = CountingEncoder()
    embed = CachedEmbedder(encoder)
    first = embed(["aa", "b", "aa"])
    assert encoder.seen == ["aa", "b"]
    second = embed(["b", "ccc", "aa"])
    assert encoder.seen == ["aa", "b", "ccc"]
    np.testing.assert_array_equal(second, [[1, 0], [3, 0], [2, 2]])
    np.testing.assert_array_equal(first[0], second[2])


def test_least_recently_used_texts_leave_first():
    encoder = CountingEncoder()
    embed = CachedEmbedder(encoder, max_entries=2)
    embed(["a", "b"])
    embed(["a"])  # "b" is now the oldest
    embed(["c"])
    assert len(embed) == 2
    embed(["a", "b"])
    assert encoder.seen == ["a", "b", "c", "b"]
