"""Batch prediction over a stream of tables: texts sorted by length, model calls of a fixed size, order restored.

An encoder pads every mini-batch to its longest text. Tickets in file order mix 5-token and 60-token texts in one
call, so most of the encoder's work is padding; sorted by length, neighbours are alike and each call pads almost
nothing. A cascade is scored in two passes: its fast stage on the whole chunk at once, then its slow stage on the
tickets the fast one was unsure of, in length order, ``batch_size`` of them a call: every slow call is full (not
the quarter of a call of all tickets that the slow stage would otherwise get). Chunks of rows come and go one at a
time (the reader and writer stream them), the next chunk is read on a second thread while the model works on this
one, and ``on_progress`` hears every call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from ticketops.modeling.classifiers import CascadeClassifier
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
    progress = on_progress or (lambda _n: None)
    labels = np.full(n, "", dtype=object)
    confidence = np.zeros(n)
    review = np.ones(n, dtype=bool)
    has_text = np.fromiter((bool(t.strip()) for t in texts), dtype=bool, count=n)
    rows = np.flatnonzero(has_text)
    cascade = getattr(predictor, "classifier", None)
    if isinstance(cascade, CascadeClassifier) and len(rows):
        scored = predictor.decide(cascade_proba(cascade, [texts[i] for i in rows], batch_size, progress))
        labels[rows], confidence[rows], review[rows] = scored.labels, scored.confidence, scored.needs_review
    else:
        rows = rows[length_order([texts[i] for i in rows])]
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            scored = predictor.score([texts[i] for i in batch])
            labels[batch], confidence[batch], review[batch] = scored.labels, scored.confidence, scored.needs_review
            progress(len(batch))
    if len(rows) < n:
        progress(n - len(rows))
    return labels, confidence, review


def cascade_proba(
    cascade: CascadeClassifier, texts: Sequence[str], batch_size: int, on_progress: ProgressCallback
) -> np.ndarray:
    """The cascade's probabilities (its own routing, ``predict_proba_with_stage``): the fast stage on all
    ``texts`` in one call, then the slow stage on the unsure ones in length order, ``batch_size`` a call."""

    def slow_in_length_order(unsure: list[str]) -> np.ndarray:
        on_progress(len(texts) - len(unsure))  # the fast stage's answers
        proba = np.zeros((len(unsure), len(cascade.labels)))
        order = length_order(unsure)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            proba[rows] = cascade.slow.predict_proba([unsure[i] for i in rows])
            on_progress(len(rows))
        return proba

    proba, answered = cascade.predict_proba_with_stage(texts, slow_in_length_order)
    if answered.all():
        on_progress(len(texts))
    return proba


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
