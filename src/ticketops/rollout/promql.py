"""A small client for Prometheus' HTTP query API: instant queries, with every failure made explicit.

Canary analysis treats "Prometheus unreachable", "no series" and NaN alike: the measurement is missing,
and a missing measurement never promotes.
"""

from __future__ import annotations

import copy
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


class _Pool:
    """One kept-alive ``httpx.Client``, made on first use (again after ``close``), safe to share between threads."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class PromQL:
    """Queries over one kept-alive connection pool (a fresh ``httpx.get`` builds a TLS context each time, ~0.15 s:
    most of a check's time). The pool is made on first use and may be shared between threads."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self._pool = _Pool(timeout)  # shared with the copies ``at`` makes
        self.evaluation_time: float | None = None  # None: each query is evaluated when Prometheus receives it

    @property
    def http(self) -> httpx.Client:
        return self._pool.client()

    def close(self) -> None:
        self._pool.close()

    def at(self, when: float) -> PromQL:
        """This client (same connection pool) evaluating every query at ``when`` (Unix seconds).

        Why: a look at a window is several queries, and "now" is when each reaches Prometheus. On a loaded machine
        that can be seconds after the window was measured, which slides the window past the start of the traffic
        it is meant to hold: a series counted halfway by a scrape during that traffic then looks old and only its
        later growth counts (a canary as good as stable failed its paired-accuracy check so, beside a CPU hog).
        """
        pinned = copy.copy(self)
        pinned.evaluation_time = when
        return pinned

    def query(self, expr: str) -> list[Sample]:
        """Evaluate ``expr`` now (or at ``evaluation_time``); an instant vector (or scalar) as samples; NaN values
        are dropped."""
        params = {"query": expr}
        if self.evaluation_time is not None:
            params["time"] = f"{self.evaluation_time:.3f}"
        try:
            response = self.http.get(f"{self.base_url}/api/v1/query", params=params)
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
