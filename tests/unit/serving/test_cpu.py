"""The replica's CPU counter: the worker's own CPU time, labelled by track and, once loaded, model version."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from ticketops.serving.cpu import ProcessCpuCollector, process_cpu_seconds
from ticketops.serving.metrics import ServiceMetrics


def samples(registry: CollectorRegistry, name: str) -> list:
    return [s for family in registry.collect() for s in family.samples if s.name == name]


def test_process_cpu_seconds_grows_with_work() -> None:
    before = process_cpu_seconds()
    total = sum(i * i for i in range(2_000_000))
    assert total > 0 and process_cpu_seconds() > before


def test_collector_reads_the_counter_at_scrape_time() -> None:
    readings = iter([1.5, 4.0])
    registry = CollectorRegistry()
    registry.register(ProcessCpuCollector("canary", lambda: "7", read=lambda: next(readings)))
    first, second = (samples(registry, "ticketops_process_cpu_seconds_total") for _ in range(2))
    assert first[0].labels == {"track": "canary", "model_version": "7"} and first[0].value == 1.5
    assert second[0].value == 4.0


def test_service_metrics_carry_cpu_price_and_the_model_version_once_loaded() -> None:
    metrics = ServiceMetrics("stable", cpu_hour_price=0.05, currency="EUR")
    (unloaded,) = samples(metrics.registry, "ticketops_process_cpu_seconds_total")
    assert unloaded.labels["model_version"] == ""  # load and warm-up CPU stays out of any version's cost
    metrics.set_model("3", "champion", "abc", "tfidf")
    (loaded,) = samples(metrics.registry, "ticketops_process_cpu_seconds_total")
    assert loaded.labels == {"track": "stable", "model_version": "3"} and loaded.value > 0
    (price,) = samples(metrics.registry, "ticketops_cpu_hour_price")
    assert price.labels == {"currency": "EUR", "track": "stable"} and price.value == 0.05
    assert samples(metrics.registry, "ticketops_model_loaded_timestamp_seconds")[0].value > 1.6e9
