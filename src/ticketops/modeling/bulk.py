"""Batch prediction over a stream of tables: texts sorted by length, model calls of a fixed size, order restored.

An encoder pads every mini-batch to its longest text. Tickets in file order mix 5-token and 60-token texts
in one call, so most of the encoder's work is padding; sorted by length, neighbours are alike and each call
pads almost nothing. Chunks of rows come and go one at a time (the reader and writer stream them), the next
chunk is read on a second thread while the model works on this one, and ``on_progress`` hears every call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from ticketops.modeling.predictor import Predictor

OUTPUT_COLUMNS = ("label", "confidence", "needs_review")
ProgressCallback = Callable[[int], None]


def length_order(texts: Sequence[str]) -> np.ndarray:
    """Indices of ``texts`` from shortest to longest (stable: equal lengths keep file order)."""
    return np.argsort(np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)), kind="stable")


def score_sorted(
    predictor: Predictor,
    texts: Sequence[str],
    batch_size: int,
    on_progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, confidences and review flags of ``texts`` in their order, computed in length order.

    Empty or whitespace-only texts are not scored: no label, confidence 0, sent to review.
    """
    n = len(texts)
    labels = np.full(n, "", dtype=object)
    confidence = np.zeros(n)
    review = np.ones(n, dtype=bool)
    has_text = np.fromiter((bool(t.strip()) for t in texts), dtype=bool, count=n)
    rows = np.flatnonzero(has_text)
    rows = rows[length_order([texts[i] for i in rows])]
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        scored = predictor.score([texts[i] for i in batch])
        labels[batch], confidence[batch], review[batch] = scored.labels, scored.confidence, scored.needs_review
        if on_progress is not None:
            on_progress(len(batch))
    if on_progress is not None and len(rows) < n:
        on_progress(n - len(rows))
    return labels, confidence, review


def predict_chunk(
    predictor: Predictor, frame: pd.DataFrame, batch_size: int, on_progress: ProgressCallback | None = None
) -> pd.DataFrame:
    """``frame``'s columns plus label, confidence, needs_review (the ``ticketops predict`` output)."""
    texts = frame["text"].astype("string").fillna("").astype(str).tolist()
    labels, confidence, review = score_sorted(predictor, texts, batch_size, on_progress)
    return frame.assign(label=labels, confidence=confidence.round(6), needs_review=review)


def prefetch(chunks: Iterable[pd.DataFrame], depth: int = 1) -> Iterator[pd.DataFrame]:
    """``chunks`` in order, the next ones read on a background thread while the caller works on this one."""
    done = object()
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Put ``item`` in the queue unless the caller stopped reading; False once it has."""
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not offer(chunk):
                    return
            offer(done)
        except BaseException as exc:  # re-raised in the caller's thread
            offer(exc)

    reader = threading.Thread(target=read, name="ticketops-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := slots.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def predict_chunks(
    predictor: Predictor,
    chunks: Iterable[pd.DataFrame],
    batch_size: int,
    on_progress: ProgressCallback | None = None,
) -> Iterator[pd.DataFrame]:
    """Each chunk with its predictions, in order; the next chunk is read while this one is scored."""
    for frame in prefetch(chunks):
        yield predict_chunk(predictor, frame, batch_size, on_progress)
