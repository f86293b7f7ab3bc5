"""The replica's own CPU time as ``ticketops_process_cpu_seconds_total``, read at scrape time.

``bentoml serve`` is an arbiter process that starts the service as a child worker
(``_bentoml_impl.worker.service``); the model, the batcher and ``/metrics`` all live in that worker. A
collector in the worker's registry therefore counts exactly the process that does the model work (every
thread of it: the event loop, the batcher, torch's and the prediction log's), and nothing of the arbiter's
start-up imports. prometheus_client's ProcessCollector reads the same figure but carries no ``track`` or
``model_version``, and a stable and a canary replica must be told apart, like every ticketops series.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

CPU_METRIC = "ticketops_process_cpu_seconds"


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads (children excluded: the worker starts none)."""
    times = os.times()
    return times.user + times.system


class ProcessCpuCollector(Collector):
    """One counter sample per scrape; ``model_version`` is empty (no label) until the model has loaded.

    CPU spent loading and warming up stays in the unversioned series, so a version's series counts only the
    time it served: what a cost per 1,000 tickets should divide.
    """

    def __init__(self, track: str, model_version: Callable[[], str], read: Callable[[], float] = process_cpu_seconds):
        self.track = track
        self.model_version = model_version
        self.read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            CPU_METRIC,
            "CPU seconds (user + system) of the serving worker process, the one that runs the model.",
            labels=["track", "model_version"],
        )
        family.add_metric([self.track, self.model_version()], self.read())
        yield family
