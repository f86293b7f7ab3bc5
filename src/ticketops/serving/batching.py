"""Adaptive batching: concurrent requests share one model call, so the encoder sees batches, not single texts.

One model call runs at a time on a dedicated thread (the model's own intra-op threads use the cores).
While it runs, new requests queue up; when it returns, everything queued (up to ``max_batch_size`` items)
goes into the next call. Under light load a request is served alone at once; under heavy load batches grow
by themselves to what the model can absorb, which is the throughput-optimal size for one replica.
``max_wait_ms`` optionally holds an idle model back briefly to collect more (off by default: it only adds
latency when the model is free). Requests abandoned by their caller (timeout, disconnect) are skipped.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

BatchFunction = Callable[[list[T]], Sequence[R]]
BatchObserver = Callable[[int, float], None]


class BatcherClosed(RuntimeError):
    """The batcher is shutting down and takes no new work."""


@dataclass
class _Job(Generic[T, R]):
    items: Sequence[T]
    future: asyncio.Future[list[R]]
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher(Generic[T, R]):
    """Merge concurrent ``submit`` calls into calls of ``fn(items) -> results`` (one result per item, in order)."""

    def __init__(
        self,
        fn: BatchFunction,
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 0.0,
        on_batch: BatchObserver | None = None,
        thread_name: str = "ticketops-model",
    ):
        self.fn = fn
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.on_batch = on_batch or (lambda size, seconds: None)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._pending: collections.deque[_Job[T, R]] = collections.deque()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._closing = False

    def _ensure_worker(self) -> asyncio.Event:
        if self._wake is None or self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="ticketops-batcher")
        return self._wake

    async def submit(self, items: Sequence[T]) -> list[R]:
        """Results for ``items``, computed together with whatever else is queued."""
        if self._closing:
            raise BatcherClosed("the service is shutting down")
        if not items:
            return []
        wake = self._ensure_worker()
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(items, future))
        wake.set()
        return await future

    def _take_batch(self) -> list[_Job[T, R]]:
        """Queued jobs in arrival order, up to ``max_batch_size`` items (a bigger single job goes alone)."""
        jobs: list[_Job[T, R]] = []
        size = 0
        while self._pending:
            job = self._pending[0]
            if job.future.done():  # caller gave up: do not spend the model on it
                self._pending.popleft()
                continue
            if jobs and size + len(job.items) > self.max_batch_size:
                break
            jobs.append(self._pending.popleft())
            size += len(job.items)
        return jobs

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.max_wait_s > 0 and sum(len(j.items) for j in self._pending) < self.max_batch_size:
                oldest = self._pending[0].enqueued
                delay = self.max_wait_s - (time.perf_counter() - oldest)
                if delay > 0:
                    await asyncio.sleep(delay)
            jobs = self._take_batch()
            if not jobs:
                continue
            items = [item for job in jobs for item in job.items]
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(self.executor, self.fn, items)
                if len(results) != len(items):
                    raise RuntimeError(f"batch function returned {len(results)} results for {len(items)} items")
            except Exception as exc:
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            self.on_batch(len(items), time.perf_counter() - started)
            offset = 0
            for job in jobs:
                n = len(job.items)
                if not job.future.done():
                    job.future.set_result(list(results[offset : offset + n]))
                offset += n

    @property
    def queued(self) -> int:
        """Items waiting for the model (not counting the batch being computed)."""
        return sum(len(job.items) for job in self._pending if not job.future.done())

    async def close(self, timeout: float = 30.0) -> None:
        """Take no new work, finish what is queued and running, then release the model thread."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._worker is not None and not self._worker.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._worker), timeout)
            except TimeoutError:
                logger.error("batcher: %d queued tickets not finished at shutdown", self.queued)
                self._worker.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
