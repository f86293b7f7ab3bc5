"""The reconciler's loop inside the analysis service: the registry follows the cluster without a human step.

With ``TICKETOPS_ARGO_RECONCILE=true`` a daemon thread calls the reconciler every interval; any exception (no
cluster credentials yet, the API server away, a bug) is logged and counted, and the next interval tries again:
the analysis Argo waits for must never stop because recording failed. The reconciler
(``ticketops.rollout.argo.reconciler``) is imported inside the thread, so the service starts without it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)
Outcome = Callable[[bool, float], None]  # (succeeded, when): for the service's metrics


def default_reconcile() -> Callable[[], object]:
    """``Reconciler.from_settings().run_once``, built on first use and rebuilt after a failed build."""
    built: list = []

    def reconcile() -> object:
        if not built:
            from ticketops.rollout.argo.reconciler import Reconciler

            built.append(Reconciler.from_settings())
        return built[0].run_once()

    return reconcile


class ReconcileLoop:
    """Calls ``reconcile`` every ``interval_s`` seconds in a daemon thread until ``stop``."""

    def __init__(self, reconcile: Callable[[], object], interval_s: float, outcome: Outcome | None = None):
        self.reconcile = reconcile
        self.interval_s = interval_s
        self.outcome = outcome or (lambda ok, at: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="argo-reconciler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.once()
            self._stop.wait(self.interval_s)

    def once(self) -> bool:
        """One reconciliation; False (logged) when it raised."""
        try:
            events = self.reconcile()
        except Exception as exc:
            logger.error("reconcile failed, trying again in %gs: %s: %s", self.interval_s, type(exc).__name__, exc)
            self.outcome(False, time.time())
            return False
        if events:
            logger.info("reconciled: %s", events)
        self.outcome(True, time.time())
        return True
