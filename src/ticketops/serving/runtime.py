"""Everything one service replica holds: the verified model, the batcher, the prediction log and the metrics.

The model (``models:/NAME@ALIAS`` from the registry, or ``bento:NAME[:TAG]`` packed in a Bento) is loaded
on a background thread so the process answers ``/livez`` at once and ``/readyz`` only when the URI has been
resolved, every artifact file matched its registered SHA-256, and a warm-up batch ran. A failed load
(missing alias or version, checksum mismatch, unreachable registry) is logged with its reason and retried
on the *same* URI; the service never falls back to another version.

A cascade is served in two places (serving/cascade.py): its fast stage runs in the request handler on every
ticket, and only the tickets it is unsure of go through the batcher to the slow stage.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio.to_thread

from ticketops.schemas import ClassifyRequest, FeedbackRequest
from ticketops.serving.batching import MicroBatcher
from ticketops.serving.cascade import FAST, SLOW, CascadeStages, is_cascade, reference_texts
from ticketops.serving.metrics import ServiceMetrics
from ticketops.serving.prediction_log import LogRow, PredictionLog
from ticketops.serving.redaction import redact
from ticketops.serving.scoring import Scorer, TicketScore, set_encoder_batch_size
from ticketops.settings import ServiceSettings

logger = logging.getLogger("ticketops.serving")

WARM_UP_TEXT = "I still have not received my new card, when will it arrive?"
# A cascade's fast stage runs on the event loop for requests up to this many characters (a few hundred
# microseconds); longer requests run it on a worker thread so they do not hold up every other request.
FAST_INLINE_CHARS = 2000
VERIFY_TEXTS = 200  # reference tickets the compiled fast stage is checked on at load


class NotReady(RuntimeError):
    """No verified model is loaded (yet, or the load failed)."""


class UnknownLabels(ValueError):
    """Feedback names labels the served model does not know; ``positions`` index the offending items."""

    def __init__(self, positions: list[int]):
        super().__init__(f"{len(positions)} unknown label(s)")
        self.positions = positions


@dataclass(frozen=True)
class ServedModel:
    """The model this replica serves and where it came from (registry version, alias, lineage tags)."""

    scorer: Scorer
    uri: str
    version: str
    alias: str
    family: str
    data_md5: str
    labels: frozenset[str]
    stages: CascadeStages | None = None  # a cascade: fast stage in the request path, slow stage batched


class ServingRuntime:
    """One replica's state; the HTTP layer calls ``classify`` and ``feedback`` and reads readiness."""

    def __init__(self, settings: ServiceSettings, metrics: ServiceMetrics | None = None):
        self.settings = settings
        self.metrics = metrics or ServiceMetrics(settings.track, slow_share_window=settings.slow_share_window)
        self.log = PredictionLog(
            settings.prediction_log_url,
            queue_size=settings.prediction_log_queue,
            retention_rows=settings.prediction_log_retention_rows,
            retention_days=settings.prediction_log_retention_days,
            on_drop=self.metrics.observe_log_dropped,
            feedback_wait_s=min(settings.feedback_join_wait_s, settings.request_timeout_s / 2),
        )
        self.model: ServedModel | None = None
        self.batcher: MicroBatcher[str, TicketScore] | None = None
        self.not_ready_reason = "model is loading"
        self._log_started = False
        self._stop = threading.Event()
        self._resources = contextlib.ExitStack()
        self._loader: threading.Thread | None = None
        # Ids for tickets sent without one: a random per-process prefix and a counter (unique across replicas
        # and restarts, and far cheaper than a uuid4 per ticket on the request path).
        self._id_prefix = os.urandom(8).hex()
        self._id_counter = itertools.count(1)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Begin loading in the background; returns at once."""
        self._loader = threading.Thread(target=self._load_until_ready, name="ticketops-model-loader", daemon=True)
        self._loader.start()

    def wait_ready(self, timeout: float) -> bool:
        """Block until ready or ``timeout`` (tests, benchmarks); False if still not ready."""
        if self._loader is not None:
            self._loader.join(timeout)
        return self.ready

    @property
    def ready(self) -> bool:
        return self.model is not None

    def _load_until_ready(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                self._load()
                return
            except Exception as exc:
                self.not_ready_reason = f"{type(exc).__name__}: {exc}"
                self.metrics.observe_load_failure(type(exc).__name__)
                logger.error(
                    "not ready: loading %s failed (attempt %d): %s — /readyz stays 503, retrying the same URI in %.0fs",
                    self.settings.model_uri,
                    attempt,
                    self.not_ready_reason,
                    self.settings.load_retry_s,
                )
                self._stop.wait(self.settings.load_retry_s)

    def _load(self) -> None:
        from ticketops.registry.bento import open_any

        if not self._log_started:
            self.log.start()
            self._log_started = True
        uri = self.settings.model_uri
        logger.info("resolving %s and verifying its artifact checksums", uri)
        with contextlib.ExitStack() as attempt:
            loaded = attempt.enter_context(open_any(uri, threads=self.settings.threads))
            set_encoder_batch_size(loaded.predictor, self.settings.encoder_batch_size)
            scorer = Scorer(loaded.predictor)
            stages, reference_share = self._cascade_stages(loaded)
            batch_fn, batch_stage = (stages.score_slow, SLOW) if stages else (scorer.score_batch, scorer.stage)
            for size in sorted({1, min(8, self.settings.batch_max_size), self.settings.batch_max_size}):
                batch_fn([WARM_UP_TEXT] * size)
            model = ServedModel(
                scorer=scorer,
                uri=uri,
                version=loaded.version,
                alias=loaded.alias or "",
                family=loaded.tags.get("model_family", type(loaded.predictor.classifier).__name__),
                data_md5=loaded.tags.get("data_md5", ""),
                labels=frozenset(scorer.labels),
                stages=stages,
            )
            self._resources.push(attempt.pop_all())  # keep the verified files until shutdown
        self.batcher = MicroBatcher(
            batch_fn,
            max_batch_size=self.settings.batch_max_size,
            max_wait_ms=self.settings.batch_max_wait_ms,
            on_batch=lambda size, seconds: self.metrics.observe_batch(size, batch_stage, seconds),
        )
        self.model = model
        self.metrics.set_model(model.version, model.alias, model.data_md5, model.family)
        predictable = loaded.predictor.classifier.predictable_labels()
        self.metrics.declare_labels(model.version, predictable, (FAST, SLOW) if stages else (scorer.stage,))
        if reference_share is not None:
            self.metrics.set_slow_share_reference(model.version, reference_share)
        self.not_ready_reason = ""
        logger.info(
            "ready: serving %s version %s (family %s, data %s, track %s)",
            model.uri,
            model.version,
            model.family,
            model.data_md5 or "?",
            self.settings.track,
        )

    @staticmethod
    def _cascade_stages(loaded) -> tuple[CascadeStages | None, float | None]:
        """For a cascade: its stages, checked against the registered model, and its slow share on the reference."""
        if not is_cascade(loaded.predictor):
            return None, None
        stages = CascadeStages(loaded.predictor)
        reference = reference_texts(loaded.folder)
        stages.verify([WARM_UP_TEXT, *reference[:VERIFY_TEXTS]])
        share = stages.slow_share(reference)
        logger.info(
            "cascade: fast stage in the request path (routing threshold %.3f), slow share on the reference %s",
            stages.threshold,
            "unknown (no reference sample)" if share is None else f"{share:.1%}",
        )
        return stages, share

    async def aclose(self) -> None:
        """Finish queued tickets, flush the prediction log, release the model (SIGTERM path)."""
        self._stop.set()
        self.metrics.set_not_ready()
        if self.batcher is not None:
            await self.batcher.close()
        if self._log_started:
            flushed = await anyio.to_thread.run_sync(self.log.close)
            logger.info("prediction log %s at shutdown", "flushed" if flushed else "NOT fully flushed")
        self._resources.close()

    # --- requests ----------------------------------------------------------------------------

    def _require_model(self) -> tuple[ServedModel, MicroBatcher[str, TicketScore]]:
        model, batcher = self.model, self.batcher
        if model is None or batcher is None:
            raise NotReady(self.not_ready_reason or "model is loading")
        return model, batcher

    async def classify(self, request: ClassifyRequest, log: bool = True) -> dict:
        """Predictions for every ticket, batched with concurrent requests; logged (redacted) off the request path
        unless ``log`` is False (a shadow copy: the splitter mirrored it, its answer goes nowhere)."""
        model, batcher = self._require_model()
        texts = [ticket.text for ticket in request.tickets]
        started = time.perf_counter()
        if model.stages is None:
            scores = await batcher.submit(texts)
        else:
            scores = await self._score_cascade(model.version, model.stages, batcher, texts)
        latency_ms = (time.perf_counter() - started) * 1000.0
        ids = [ticket.id or f"{self._id_prefix}-{next(self._id_counter):x}" for ticket in request.tickets]
        self.metrics.observe_predictions(
            model.version,
            (s.stage for s in scores),
            (s.label for s in scores),
            (s.confidence for s in scores),
            (s.needs_review for s in scores),
        )
        now = time.time()
        rows = [
            LogRow(
                ticket_id, redact(text), s.label, s.confidence, s.needs_review, model.version, s.stage, latency_ms, now
            )
            for ticket_id, text, s in zip(ids, texts, scores, strict=True)
        ]
        if log:
            self.log.submit(rows)
        return {
            "model_version": model.version,
            "predictions": [
                {"id": r.ticket_id, "label": r.label, "confidence": r.confidence, "needs_review": r.needs_review}
                for r in rows
            ],
        }

    async def _score_cascade(
        self, version: str, stages: CascadeStages, batcher: MicroBatcher[str, TicketScore], texts: list[str]
    ) -> list[TicketScore]:
        """Fast stage here, on every ticket; the batcher (slow stage) only for the tickets it is unsure of."""
        started = time.perf_counter()
        if sum(map(len, texts)) <= FAST_INLINE_CHARS:
            first = stages.score_fast(texts)
        else:
            first = await anyio.to_thread.run_sync(stages.score_fast, texts)
        self.metrics.observe_stage(FAST, time.perf_counter() - started)
        self.metrics.observe_routing(version, [score is None for score in first])
        unsure = [i for i, score in enumerate(first) if score is None]
        answers = dict(zip(unsure, await batcher.submit([texts[i] for i in unsure]), strict=True)) if unsure else {}
        return [score if score is not None else answers[i] for i, score in enumerate(first)]

    async def feedback(self, request: FeedbackRequest) -> dict:
        """Store agents' true labels on the logged predictions and refresh live accuracy of the versions touched."""
        model, _ = self._require_model()
        unknown = [i for i, item in enumerate(request.items) if item.label not in model.labels]
        if unknown:
            raise UnknownLabels(unknown)
        pairs = [(item.id, item.label) for item in request.items]
        matches = await anyio.to_thread.run_sync(self.log.apply_feedback, pairs)
        found = [m for m in matches if m is not None]
        for match in found:
            self.metrics.observe_feedback(match.model_version, match.correct, match.true_label)
        self.metrics.observe_unmatched_feedback(len(matches) - len(found))
        await self._refresh_live_accuracy({m.model_version for m in found})
        return {"accepted": len(pairs), "matched": len(found)}

    async def _refresh_live_accuracy(self, versions: Sequence[str] | set[str]) -> None:
        for version in sorted(versions):
            accuracy = await anyio.to_thread.run_sync(
                self.log.live_accuracy, version, self.settings.live_accuracy_window
            )
            if accuracy is not None:
                self.metrics.set_live_accuracy(version, accuracy)
