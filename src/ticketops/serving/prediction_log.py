"""The prediction log: every classified ticket (redacted) in a SQL table, written off the request path.

Requests hand rows to a bounded in-memory queue and return; one writer thread inserts them in batches.
When the queue is full the rows are dropped and counted (a slow database must never slow the response).
SQLite runs in WAL mode so the drift monitor can read while the service writes; any SQLAlchemy URL
(PostgreSQL in production) works the same. Retention (rows and days) is enforced by the writer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine, case, create_engine, delete, event, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ticketops.serving.log_schema import metadata, predictions
from ticketops.settings import project_root

logger = logging.getLogger(__name__)

DropCallback = Callable[[int, str], None]


@dataclass(frozen=True)
class LogRow:
    """One classified ticket as stored; ``text`` must already be redacted."""

    ticket_id: str
    text: str
    label: str
    confidence: float
    needs_review: bool
    model_version: str
    stage: str
    latency_ms: float
    created_at: float


@dataclass(frozen=True)
class FeedbackMatch:
    """An agent label joined to the prediction it judges."""

    ticket_id: str
    predicted: str
    true_label: str
    model_version: str

    @property
    def correct(self) -> bool:
        return self.predicted == self.true_label


def resolve_url(url: str) -> str:
    """A relative SQLite path is taken from the project root (cwd outside a checkout), not the worker's cwd."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    path = Path(parsed.database)
    if not path.is_absolute():
        path = project_root() / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, relaxed fsync and a generous busy timeout (several writers)."""
    url = resolve_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


class PredictionLog:
    """Bounded queue + batching writer thread over the ``predictions`` table."""

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = 10_000,
        retention_rows: int = 1_000_000,
        retention_days: float = 30.0,
        batch_size: int = 500,
        prune_every_s: float = 60.0,
        on_drop: DropCallback | None = None,
        feedback_wait_s: float = 2.0,
    ):
        self.url = url
        self.retention_rows = retention_rows
        self.retention_days = retention_days
        self.batch_size = batch_size
        self.prune_every_s = prune_every_s
        self.on_drop = on_drop or (lambda count, reason: None)
        self.feedback_wait_s = feedback_wait_s
        self._queue: queue.Queue[LogRow] = queue.Queue(maxsize=queue_size)
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._progress = threading.Condition()
        self._accepted = 0  # rows queued so far (only the event loop adds)
        self._done = 0  # rows taken off the queue and written (or counted as failed)
        self._last_prune = 0.0

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("prediction log not started")
        return self._engine

    def start(self) -> None:
        """Open the database, create the table if needed, prune once and start the writer."""
        self._engine = make_engine(self.url)
        for attempt in range(3):  # several replicas may create the table at the same moment
            try:
                metadata.create_all(self._engine)
                break
            except OperationalError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
        self.prune()
        self._thread = threading.Thread(target=self._run, name="ticketops-prediction-log", daemon=True)
        self._thread.start()

    # --- request path ------------------------------------------------------------------------

    def submit(self, rows: Sequence[LogRow]) -> int:
        """Queue rows without blocking; rows that do not fit are dropped and reported. Returns rows queued."""
        queued = 0
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                break
            queued += 1
        self._accepted += queued
        if queued < len(rows):
            self.on_drop(len(rows) - queued, "queue_full")
        return queued

    # --- writer ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                self._maybe_prune()
                continue
            batch = [first]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
            self._maybe_prune()

    def _write(self, batch: list[LogRow]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(predictions.insert(), [asdict(row) for row in batch])
        except Exception as exc:  # never let one bad write stop the writer; the rows are counted as dropped
            logger.error("prediction log: %d rows not written (%s)", len(batch), type(exc).__name__)
            self.on_drop(len(batch), "write_error")
        finally:
            with self._progress:
                self._done += len(batch)
                self._progress.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row queued before this call is written; False on timeout."""
        target = self._accepted
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                    return self._done >= target
                self._progress.wait(remaining)
        return True

    def close(self, timeout: float = 30.0) -> bool:
        """Flush what is queued, stop the writer and release the database; True if nothing was left behind."""
        if self._thread is None:
            return True
        flushed = self.flush(timeout)
        self._stopping.set()
        self._thread.join(timeout=5.0)
        self._thread = None
        if not flushed:
            logger.error("prediction log: %d rows still queued at shutdown", self._accepted - self._done)
        if self._engine is not None:
            self._engine.dispose()
        return flushed

    # --- retention ---------------------------------------------------------------------------

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune >= self.prune_every_s:
            try:
                self.prune()
            except Exception as exc:
                logger.error("prediction log: retention pass failed (%s)", type(exc).__name__)

    def prune(self, now: float | None = None) -> int:
        """Delete rows older than the retention window and beyond the newest ``retention_rows``."""
        self._last_prune = time.monotonic()
        now = time.time() if now is None else now
        cutoff = now - self.retention_days * 86_400
        with self.engine.begin() as conn:
            removed = conn.execute(delete(predictions).where(predictions.c.created_at < cutoff)).rowcount or 0
            newest = conn.execute(select(func.max(predictions.c.row_id))).scalar()
            if newest is not None and newest > self.retention_rows:
                keep_from = newest - self.retention_rows
                removed += conn.execute(delete(predictions).where(predictions.c.row_id <= keep_from)).rowcount or 0
        return removed

    # --- feedback ----------------------------------------------------------------------------

    def apply_feedback(
        self, labels: Sequence[tuple[str, str]], now: float | None = None, wait_s: float | None = None
    ) -> list[FeedbackMatch | None]:
        """Store each (ticket id, true label) on the newest logged prediction with that id; None where none exists.

        Rows still queued here are flushed first. A label can also reach this replica before the replica that
        answered the ticket (the splitter routes requests, not tickets) has written its row to the shared log:
        ids not found are looked up again for up to ``wait_s`` seconds before they count as unmatched.
        """
        self.flush()
        now = time.time() if now is None else now
        wait_s = self.feedback_wait_s if wait_s is None else wait_s
        matches: list[FeedbackMatch | None] = [None] * len(labels)
        pending = list(range(len(labels)))
        deadline = time.monotonic() + wait_s
        while True:
            pending = self._match(labels, pending, matches, now)
            if not pending or time.monotonic() >= deadline:
                return matches
            time.sleep(0.1)

    def _match(
        self, labels: Sequence[tuple[str, str]], positions: list[int], matches: list[FeedbackMatch | None], now: float
    ) -> list[int]:
        """Join the labels at ``positions``; returns the positions still without a logged prediction."""
        c = predictions.c
        missing = []
        with self.engine.begin() as conn:
            for i in positions:
                ticket_id, true_label = labels[i]
                row = conn.execute(
                    select(c.row_id, c.label, c.model_version)
                    .where(c.ticket_id == ticket_id)
                    .order_by(c.row_id.desc())
                    .limit(1)
                ).first()
                if row is None:
                    missing.append(i)
                    continue
                conn.execute(
                    update(predictions).where(c.row_id == row.row_id).values(true_label=true_label, feedback_at=now)
                )
                matches[i] = FeedbackMatch(ticket_id, row.label, true_label, row.model_version)
        return missing

    def live_accuracy(self, model_version: str, window: int) -> float | None:
        """Accuracy over the ``window`` most recently labelled predictions of ``model_version`` (None if none)."""
        c = predictions.c
        recent = (
            select(case((c.label == c.true_label, 1), else_=0).label("correct"))
            .where(c.model_version == model_version, c.true_label.is_not(None))
            .order_by(c.feedback_at.desc())
            .limit(window)
            .subquery()
        )
        with self.engine.connect() as conn:
            total, correct = conn.execute(select(func.count(), func.sum(recent.c.correct))).one()
        return None if not total else float(correct) / total
