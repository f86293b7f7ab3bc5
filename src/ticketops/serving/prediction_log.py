"""The prediction log: every classified ticket (redacted) in a SQL table, written off the request path.

Requests hand rows to a bounded in-memory queue and return; one writer thread inserts them in batches.
Nothing is lost when the database is away (down, locked, full, not there yet at start): rows that cannot
be written, or that do not fit the queue, go to a bounded on-disk spool (serving/spool.py) and are replayed
oldest first once the database answers again; while the spool holds rows, new batches join it behind them.
Only beyond the spool's bound are rows dropped and counted. Each row has a unique ``row_key`` that the
database refuses twice, so a retried or replayed batch is stored exactly once. The service does not wait
for the database at start: the tables are created when the writer first reaches it, or by the first read
(``ready_engine``).

SQLite runs in WAL mode so the drift monitor can read while the service writes; any SQLAlchemy URL
(PostgreSQL in production) works the same. Retention (rows and days) is enforced by the writer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import Engine

from ticketops.data.database import make_engine, resolve_url
from ticketops.serving.log_rows import LogRow
from ticketops.serving.log_store import default_spool_dir, ensure_schema, insert_once, live_accuracy, prune_rows
from ticketops.serving.spool import Spool, SpoolFull

__all__ = ["LogRow", "PredictionLog", "make_engine", "resolve_url"]

logger = logging.getLogger(__name__)

DropCallback = Callable[[int, str], None]
BacklogCallback = Callable[[int], None]
Scrub = Callable[["LogRow"], "LogRow"]  # raw row -> row as stored (redacted text, stored id)


class PredictionLog:
    """Bounded queue + batching writer thread over the ``predictions`` table, with an on-disk spool."""

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
        spool_dir: Path | None = None,
        spool_max_rows: int = 200_000,
        retry_s: float = 1.0,
        on_backlog: BacklogCallback | None = None,
        scrub: Scrub | None = None,
    ):
        self.url = url
        self.retention_rows = retention_rows
        self.retention_days = retention_days
        self.batch_size = batch_size
        self.prune_every_s = prune_every_s
        self.retry_s = retry_s
        self.on_drop = on_drop or (lambda count, reason: None)
        self.on_backlog = on_backlog or (lambda rows: None)
        self.scrub = scrub or (lambda row: row)  # runs in the writer: redaction costs the request path nothing
        self.spool = Spool(spool_dir or default_spool_dir(url), spool_max_rows)
        self._schema_ready = False
        self._schema_lock = threading.Lock()  # the writer and the reading routes may both create the tables
        self._next_attempt = 0.0  # monotonic time before which the database is not tried again
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

    def ready_engine(self) -> Engine:
        """The engine with the tables in place, for the routes that read the log: the tables are created lazily
        (the service starts without its database), so a read may come first. Raises the database's error."""
        if not self._schema_ready:
            with self._schema_lock:
                if not self._schema_ready:
                    ensure_schema(self.engine)
                    self._schema_ready = True
        return self.engine

    def start(self) -> None:
        """Start the writer; returns at once even when the database is unreachable (rows spool meanwhile)."""
        self._engine = make_engine(self.url)
        self.on_backlog(self.spool.rows)
        self._thread = threading.Thread(target=self._run, name="ticketops-prediction-log", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Rows waiting in the spool for the database."""
        return self.spool.rows

    # --- request path ------------------------------------------------------------------------

    def submit(self, rows: Sequence[LogRow]) -> int:
        """Queue rows without blocking; what does not fit goes to the spool (dropped and reported only when
        that is full too). Returns the rows queued in memory."""
        queued = 0
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                break
            queued += 1
        self._accepted += queued
        if queued < len(rows):
            self._spool([asdict(self.scrub(row)) for row in rows[queued:]], "queue_full")
        return queued

    def _spool(self, rows: list[dict], reason: str) -> None:
        try:
            self.spool.append(rows)
        except SpoolFull:
            self.on_drop(len(rows), "spool_full")
        except OSError as exc:
            logger.error("prediction log: %d rows neither written nor spooled (%s)", len(rows), type(exc).__name__)
            self.on_drop(len(rows), "spool_error")
        else:
            logger.debug("prediction log: %d rows spooled (%s)", len(rows), reason)
        self.on_backlog(self.spool.rows)

    # --- writer ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                if not self._schema_ready:
                    self._database_ready()  # tables before the first row: the reading routes need them
                self.replay()
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

    def _database_ready(self, force: bool = False) -> bool:
        """Whether to try the database now (not within ``retry_s`` of a failure); creates the tables once."""
        if not force and time.monotonic() < self._next_attempt:
            return False
        if self._schema_ready:
            return True
        try:
            self.ready_engine()
        except Exception as exc:
            self._failed(exc, "schema")
            return False
        self._maybe_prune()
        return True

    def _failed(self, exc: Exception, what: str) -> None:
        self._next_attempt = time.monotonic() + self.retry_s
        logger.warning("prediction log: database unavailable (%s: %s); spooling", what, type(exc).__name__)

    def _write(self, batch: list[LogRow]) -> None:
        try:
            rows = [asdict(self.scrub(row)) for row in batch]
            self.replay()  # what waits goes first
            if self.spool.rows == 0 and self._database_ready():
                try:
                    insert_once(self.engine, rows)
                    return
                except Exception as exc:  # down, locked, full: keep the rows
                    self._failed(exc, "insert")
            self._spool(rows, "database_unavailable")  # behind what waits already: arrival order holds
        finally:
            with self._progress:
                self._done += len(batch)
                self._progress.notify_all()

    def replay(self, force: bool = False) -> int:
        """Store spooled rows oldest first until the spool is empty or the database fails; rows stored."""
        if self.spool.rows == 0 and not force:
            return 0
        stored = 0
        if not self._database_ready(force):
            return 0
        for path, rows in self.spool.oldest():
            try:
                insert_once(self.engine, rows)
            except Exception as exc:
                self._failed(exc, "replay")
                break
            self.spool.remove(path)
            stored += len(rows)
        self.on_backlog(self.spool.rows)
        if stored:
            logger.info("prediction log: %d spooled rows stored, %d waiting", stored, self.spool.rows)
        return stored

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
        """Flush what is queued (to the database or the spool), try the spool once more, stop the writer and
        release the database; True if no row was left in memory. Spooled rows stay on disk for the next start."""
        if self._thread is None:
            return True
        flushed = self.flush(timeout)
        self._stopping.set()
        self._thread.join(timeout=5.0)
        self._thread = None
        if not flushed:
            logger.error("prediction log: %d rows still queued at shutdown", self._accepted - self._done)
        try:
            self.replay(force=True)
        except Exception as exc:
            logger.error("prediction log: final replay failed (%s)", type(exc).__name__)
        if self.spool.rows:
            logger.warning("prediction log: %d rows stay spooled in %s", self.spool.rows, self.spool.directory)
        if self._engine is not None:
            self._engine.dispose()
        return flushed

    # --- retention ---------------------------------------------------------------------------

    def _maybe_prune(self) -> None:
        if self._schema_ready and time.monotonic() - self._last_prune >= self.prune_every_s:
            try:
                self.prune()
            except Exception as exc:
                logger.error("prediction log: retention pass failed (%s)", type(exc).__name__)

    def prune(self, now: float | None = None) -> int:
        """Delete rows older than the retention window and beyond the newest ``retention_rows``."""
        self._last_prune = time.monotonic()
        return prune_rows(self.engine, self.retention_rows, self.retention_days, time.time() if now is None else now)

    def live_accuracy(self, model_version: str, window: int) -> float | None:
        """Accuracy over the ``window`` most recently labelled predictions of ``model_version`` (None if none)."""
        return live_accuracy(self.ready_engine(), model_version, window)
