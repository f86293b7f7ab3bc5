"""A small client for Prometheus' HTTP query API: instant queries, with every failure made explicit.

Canary analysis treats "Prometheus unreachable", "no series" and NaN alike: the measurement is missing,
and a missing measurement never promotes.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import httpx


class PrometheusUnavailable(RuntimeError):
    """Prometheus could not be asked, or answered with an error."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class PromQL:
    """Queries over one kept-alive connection pool (a fresh ``httpx.get`` builds a TLS context each time, ~0.15 s:
    most of a check's time). The pool is made on first use and may be shared between threads."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def query(self, expr: str) -> list[Sample]:
        """Evaluate ``expr`` now; an instant vector (or scalar) as samples; NaN values are dropped."""
        try:
            response = self.http.get(f"{self.base_url}/api/v1/query", params={"query": expr})
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"Prometheus at {self.base_url} unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise PrometheusUnavailable(
                f"Prometheus answered HTTP {response.status_code} to {expr!r}: {response.text[:200]}"
            )
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"query {expr!r} failed: {body.get('error', body)}")
        data = body["data"]
        results = [{"metric": {}, "value": data["result"]}] if data["resultType"] == "scalar" else data["result"]
        samples = []
        for item in results:
            value = float(item["value"][1])
            if not math.isnan(value) and not math.isinf(value):
                samples.append(Sample(dict(item["metric"]), value))
        return samples

    def scalar(self, expr: str) -> float | None:
        """The single value of ``expr``, or None when there is no (finite) value."""
        samples = self.query(expr)
        if not samples:
            return None
        if len(samples) > 1:
            raise PrometheusUnavailable(f"{expr!r} returned {len(samples)} series where one was expected")
        return samples[0].value

    def by_label(self, expr: str, label: str) -> dict[str, float]:
        return {s.labels.get(label, ""): s.value for s in self.query(expr)}

    def healthy(self) -> bool:
        try:
            return self.http.get(f"{self.base_url}/-/ready").status_code == 200
        except httpx.HTTPError:
            return False
