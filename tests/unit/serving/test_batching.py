"""The adaptive batcher: concurrent submits share calls, results go back to the right caller, failures stay local."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ticketops.serving.batching import BatcherClosed, MicroBatcher


class Recorder:
    """A batch function that upper-cases texts, records each call and can be held on a gate."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        self.entered.set()
        self.gate.wait(10)
        self.calls.append(list(items))
        return [item.upper() for item in items]


async def _wait_for(event: threading.Event) -> None:
    await asyncio.get_running_loop().run_in_executor(None, event.wait, 10)


def test_requests_that_arrive_while_the_model_is_busy_share_the_next_call() -> None:
    async def scenario() -> None:
        fn = Recorder()
        batcher = MicroBatcher(fn, max_batch_size=64)
        fn.gate.clear()
        first = asyncio.create_task(batcher.submit(["a"]))
        await _wait_for(fn.entered)  # the model is busy with ["a"]
        rest = [asyncio.create_task(batcher.submit([f"t{i}", f"u{i}"])) for i in range(10)]
        await asyncio.sleep(0.05)
        assert batcher.queued == 20
        fn.gate.set()
        assert await first == ["A"]
        results = await asyncio.gather(*rest)
        assert results == [[f"T{i}", f"U{i}"] for i in range(10)]
        assert [len(call) for call in fn.calls] == [1, 20]
        await batcher.close()

    asyncio.run(scenario())


def test_batches_never_exceed_max_batch_size_and_keep_arrival_order() -> None:
    async def scenario() -> None:
        fn = Recorder()
        batcher = MicroBatcher(fn, max_batch_size=8)
        fn.gate.clear()
        first = asyncio.create_task(batcher.submit(["x"]))
        await _wait_for(fn.entered)
        rest = [asyncio.create_task(batcher.submit([f"t{i}"] * 3)) for i in range(6)]
        await asyncio.sleep(0.05)
        fn.gate.set()
        await asyncio.gather(first, *rest)
        assert [len(call) for call in fn.calls] == [1, 6, 6, 6]
        flat = [item for call in fn.calls[1:] for item in call]
        assert flat == [f"t{i}" for i in range(6) for _ in range(3)]
        await batcher.close()

    asyncio.run(scenario())


def test_an_abandoned_request_is_not_computed() -> None:
    async def scenario() -> None:
        fn = Recorder()
        batcher = MicroBatcher(fn, max_batch_size=64)
        fn.gate.clear()
        first = asyncio.create_task(batcher.submit(["busy"]))
        await _wait_for(fn.entered)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(["abandoned"]), 0.05)
        kept = asyncio.create_task(batcher.submit(["kept"]))
        await asyncio.sleep(0.01)
        fn.gate.set()
        assert await kept == ["KEPT"]
        await first
        assert fn.calls == [["busy"], ["kept"]]
        await batcher.close()

    asyncio.run(scenario())


def test_a_failing_batch_fails_only_its_own_requests_and_the_batcher_keeps_working() -> None:
    async def scenario() -> None:
        def fn(items: list[str]) -> list[str]:
            if "boom" in items:
                raise ValueError("model exploded")
            return items

        sizes: list[int] = []
        batcher = MicroBatcher(fn, on_batch=lambda size, seconds: sizes.append(size))
        with pytest.raises(ValueError, match="exploded"):
            await batcher.submit(["boom"])
        assert await batcher.submit(["fine"]) == ["fine"]
        assert sizes == [1]  # only successful calls are observed
        await batcher.close()

    asyncio.run(scenario())


def test_wrong_number_of_results_is_an_error_not_a_misaligned_answer() -> None:
    async def scenario() -> None:
        batcher = MicroBatcher(lambda items: items[:-1])
        with pytest.raises(RuntimeError, match="1 results for 2 items"):
            await batcher.submit(["a", "b"])
        await batcher.close()

    asyncio.run(scenario())


def test_close_finishes_queued_work_then_refuses_new_work() -> None:
    async def scenario() -> None:
        fn = Recorder()
        batcher = MicroBatcher(fn)
        fn.gate.clear()
        first = asyncio.create_task(batcher.submit(["a"]))
        await _wait_for(fn.entered)
        second = asyncio.create_task(batcher.submit(["b"]))
        await asyncio.sleep(0.01)
        closing = asyncio.create_task(batcher.close())
        await asyncio.sleep(0.01)
        fn.gate.set()
        await closing
        assert await first == ["A"]
        assert await second == ["B"]
        with pytest.raises(BatcherClosed):
            await batcher.submit(["c"])

    asyncio.run(scenario())


def test_max_wait_collects_a_batch_when_the_model_is_idle() -> None:
    async def scenario() -> None:
        fn = Recorder()
        batcher = MicroBatcher(fn, max_batch_size=64, max_wait_ms=100)
        results = await asyncio.gather(*(batcher.submit([str(i)]) for i in range(5)))
        assert results == [[str(i)] for i in range(5)]
        assert [len(call) for call in fn.calls] == [5]
        await batcher.close()

    asyncio.run(scenario())
