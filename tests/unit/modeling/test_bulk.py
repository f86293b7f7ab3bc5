"""Batch prediction: length-ordered model calls, answers back in file order, chunks streamed and read ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers.tiny_model import build_package, tiny_frame
from ticketops.modeling.bulk import length_order, predict_chunk, predict_chunks, prefetch, score_sorted
from ticketops.modeling.predictor import Predictor, set_encoder_batch_size


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return Predictor.from_folder(build_package(tmp_path_factory.mktemp("tiny")), threads=1)


class Spy:
    """A predictor that records the texts of each model call."""

    def __init__(self, inner: Predictor):
        self.inner = inner
        self.calls: list[list[str]] = []

    def score(self, texts):
        self.calls.append(list(texts))
        return self.inner.score(texts)


def test_length_order_is_stable() -> None:
    assert length_order(["ccc", "a", "bb", "b", ""]).tolist() == [4, 1, 3, 2, 0]


def test_calls_go_in_length_order_and_answers_come_back_in_file_order(predictor) -> None:
    texts = tiny_frame()["text"].tolist()
    spy = Spy(predictor)
    seen: list[int] = []
    labels, confidence, review = score_sorted(spy, texts, batch_size=16, on_progress=seen.append)
    assert [len(c) for c in spy.calls] == [16] * (len(texts) // 16) + ([len(texts) % 16] if len(texts) % 16 else [])
    lengths = [len(t) for call in spy.calls for t in call]
    assert lengths == sorted(lengths)
    direct = predictor.score(texts)
    assert labels.tolist() == direct.labels
    np.testing.assert_allclose(confidence, direct.confidence)
    assert review.tolist() == direct.needs_review.tolist()
    assert sum(seen) == len(texts)


def test_empty_texts_are_not_scored_and_go_to_review(predictor) -> None:
    spy = Spy(predictor)
    out = predict_chunk(spy, pd.DataFrame({"id": ["a", "b", "c"], "text": ["close my account", "  ", ""]}), 8)
    assert spy.calls == [["close my account"]]
    assert list(out.columns) == ["id", "text", "label", "confidence", "needs_review"]
    assert out["label"].tolist()[1:] == ["", ""] and out["needs_review"].tolist()[1:] == [True, True]
    assert out.loc[1:, "confidence"].tolist() == [0.0, 0.0]


def test_missing_parquet_texts_count_as_empty(predictor) -> None:
    out = predict_chunk(predictor, pd.DataFrame({"text": ["where is my card", None]}), 8)
    assert out["label"].iloc[1] == "" and bool(out["needs_review"].iloc[1])


def test_chunks_keep_their_order_and_rows(predictor) -> None:
    frame = tiny_frame()[["text", "label"]].rename(columns={"label": "truth"})
    chunks = [frame.iloc[i : i + 25].reset_index(drop=True) for i in range(0, len(frame), 25)]
    whole = predict_chunk(predictor, frame, 32)
    streamed = pd.concat(list(predict_chunks(predictor, chunks, 32)), ignore_index=True)
    pd.testing.assert_frame_equal(streamed, whole)


def test_prefetch_reads_ahead_and_raises_the_readers_error() -> None:
    def source():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(source()):
            got.append(item)
    assert got == [1, 2]


def test_prefetch_stops_reading_when_the_caller_stops() -> None:
    read: list[int] = []

    def source():
        for i in range(1000):
            read.append(i)
            yield i

    stream = prefetch(source())
    assert next(stream) == 0
    stream.close()
    assert len(read) <= 3  # this item, one queued, one waiting to be queued


def test_encoder_mini_batches_in_length_order_give_the_same_answers(tmp_path) -> None:
    """The hybrid (real MiniLM): service-sized mini-batches over sorted texts = one ticket at a time."""
    hybrid = Predictor.from_folder(build_package(tmp_path, family="hybrid"), threads=1)
    set_encoder_batch_size(hybrid, 4)
    texts = tiny_frame()["text"].tolist()[:40]
    _, confidence, _ = score_sorted(hybrid, texts, batch_size=16)
    one_by_one = np.array([hybrid.score([t]).confidence[0] for t in texts])
    np.testing.assert_allclose(confidence, one_by_one, atol=1e-5)


def test_a_cascade_fills_its_slow_calls_with_unsure_tickets_only(tmp_path, monkeypatch) -> None:
    """Fast stage on the whole chunk, slow stage on the unsure tickets only, full calls in length order; the
    answers are the cascade's own (``Predictor.score``)."""
    cascade = Predictor.from_folder(build_package(tmp_path, family="cascade", fast_share=0.5), threads=1)
    texts = tiny_frame()["text"].tolist()
    direct = cascade.score(texts)
    slow_calls: list[list[str]] = []
    slow = cascade.classifier.slow
    original = slow.predict_proba
    monkeypatch.setattr(slow, "predict_proba", lambda batch: slow_calls.append(list(batch)) or original(batch))
    seen: list[int] = []
    labels, confidence, review = score_sorted(cascade, texts, batch_size=8, on_progress=seen.append)
    unsure = int((~cascade.classifier.route(cascade.classifier.fast.predict_proba(texts))).sum())
    assert 0 < unsure < len(texts)
    assert [len(call) for call in slow_calls] == [8] * (unsure // 8) + ([unsure % 8] if unsure % 8 else [])
    lengths = [len(t) for call in slow_calls for t in call]
    assert lengths == sorted(lengths)
    assert labels.tolist() == direct.labels and review.tolist() == direct.needs_review.tolist()
    np.testing.assert_allclose(confidence, direct.confidence, rtol=1e-5)
    assert seen[0] == len(texts) - unsure and sum(seen) == len(texts)
