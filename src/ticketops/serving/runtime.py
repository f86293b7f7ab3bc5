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
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

import anyio.to_thread

from ticketops.modeling.predictor import set_encoder_batch_size
from ticketops.schemas import ClassifyRequest, FeedbackRequest
from ticketops.serving.auth import User
from ticketops.serving.batching import MicroBatcher
from ticketops.serving.cascade import FAST, SLOW, CascadeStages, served_stages
from ticketops.serving.ids import IdHasher, deployment_key, new_ticket_id
from ticketops.serving.longlived import freeze_long_lived
from ticketops.serving.metrics import ServiceMetrics
from ticketops.serving.prediction_log import LogRow, PredictionLog
from ticketops.serving.redaction import redact, warm_up
from ticketops.serving.scoring import Scorer, TicketScore
from ticketops.serving.served import ServedModel
from ticketops.settings import ServiceSettings

logger = logging.getLogger("ticketops.serving")

WARM_UP_TEXT = "I still have not received my new card, when will it arrive?"
# A cascade's fast stage runs on the event loop for requests up to this many characters (a few hundred
# microseconds); longer requests run it on a worker thread so they do not hold up every other request.
FAST_INLINE_CHARS = 2000


class NotReady(RuntimeError):
    """No verified model is loaded (yet, or the load failed)."""


class ServingRuntime:
    """One replica's state; the HTTP layer calls ``classify`` and ``feedback`` and reads readiness."""

    def __init__(self, settings: ServiceSettings, metrics: ServiceMetrics | None = None):
        self.settings = settings
        self.metrics = metrics or ServiceMetrics.for_settings(settings)
        self.log = PredictionLog(
            settings.prediction_log_url,
            queue_size=settings.prediction_log_queue,
            retention_rows=settings.prediction_log_retention_rows,
            retention_days=settings.prediction_log_retention_days,
            on_drop=self.metrics.observe_log_dropped,
            spool_dir=settings.prediction_log_spool_dir,
            spool_max_rows=settings.prediction_log_spool_max_rows,
            retry_s=settings.prediction_log_retry_s,
            on_backlog=self.metrics.set_log_backlog,
            scrub=self._stored_row,
        )
        self.ids = IdHasher(deployment_key(settings.id_hash_key, settings.id_hash_key_file))
        self.model: ServedModel | None = None
        self.batcher: MicroBatcher[str, TicketScore] | None = None
        self.not_ready_reason = "model is loading"
        self._log_started = False
        self._stop = threading.Event()
        self._resources = contextlib.ExitStack()
        self._loader: threading.Thread | None = None
        self.humans = None  # HumanLoop (review queue, labels, catalogue, audit) once the log is open

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
            from ticketops.serving.humans import HumanLoop

            self.log.start()
            self._log_started = True
            self.humans = HumanLoop(self.settings, self.log)
        warm_up()  # the redaction's recognizers, before the first ticket is logged
        uri = self.settings.model_uri
        logger.info("resolving %s and verifying its artifact checksums", uri)
        with contextlib.ExitStack() as attempt:
            forced, backend = frozenset(self.settings.force_ungated_versions), self.settings.encoder_backend
            loaded = attempt.enter_context(open_any(uri, self.settings.threads, forced, encoder_backend=backend))
            if getattr(loaded, "forced", False):
                self.humans.record_forced_load(loaded, self.settings.track)
            set_encoder_batch_size(loaded.predictor, self.settings.encoder_batch_size)
            scorer = Scorer(loaded.predictor)
            stages, reference_share = served_stages(loaded.predictor, loaded.folder, WARM_UP_TEXT)
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
                folder=getattr(loaded, "folder", None),
            )
            self._resources.push(attempt.pop_all())  # keep the verified files until shutdown
        self.batcher = MicroBatcher(
            batch_fn,
            max_batch_size=self.settings.batch_max_size,
            max_wait_ms=self.settings.batch_max_wait_ms,
            on_batch=lambda size, seconds: self.metrics.observe_batch(size, batch_stage, seconds),
        )
        self.model = model
        freeze_long_lived()
        self.metrics.set_model(model.version, model.alias, model.data_md5, model.family)
        predictable = loaded.predictor.classifier.predictable_labels()
        self.metrics.declare_labels(model.version, predictable, (FAST, SLOW) if stages else (scorer.stage,))
        if reference_share is not None:
            self.metrics.cascade.set_reference(model.version, reference_share)
        self.not_ready_reason = ""
        logger.info(
            "ready: serving %s version %s (family %s, data %s, track %s)",
            model.uri,
            model.version,
            model.family,
            model.data_md5 or "?",
            self.settings.track,
        )

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

    def _stored_row(self, row: LogRow) -> LogRow:
        """What the log keeps of a ticket: normalised, redacted text and the stored form of its id."""
        return replace(row, text=redact(row.text), ticket_id=self.ids.stored(row.ticket_id))

    def require_model(self) -> tuple[ServedModel, MicroBatcher[str, TicketScore]]:
        model, batcher = self.model, self.batcher
        if model is None or batcher is None:
            raise NotReady(self.not_ready_reason or "model is loading")
        return model, batcher

    async def classify(self, request: ClassifyRequest, log: bool = True) -> dict:
        """Predictions for every ticket, batched with concurrent requests; logged (redacted) off the request path
        unless ``log`` is False (a shadow copy: the splitter mirrored it, its answer goes nowhere)."""
        model, batcher = self.require_model()
        texts = [ticket.text for ticket in request.tickets]
        started = time.perf_counter()
        if model.stages is None:
            scores = await batcher.submit(texts)
        else:
            scores = await self._score_cascade(model.version, model.stages, batcher, texts)
        latency_ms = (time.perf_counter() - started) * 1000.0
        # Generated ids are unguessable (128 random bits): a label can only name a ticket its agent was shown.
        ids = [ticket.id or new_ticket_id() for ticket in request.tickets]
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
                ticket_id=ticket_id,
                text=text,  # redacted by the log's writer (_stored_row), off the request path
                label=score.label,
                confidence=score.confidence,
                needs_review=score.needs_review,
                model_version=model.version,
                stage=score.stage,
                latency_ms=latency_ms,
                created_at=now,
            )
            for ticket_id, text, score in zip(ids, texts, scores, strict=True)
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
        self.metrics.cascade.observe_routing(version, [score is None for score in first])
        unsure = [i for i, score in enumerate(first) if score is None]
        answers = dict(zip(unsure, await batcher.submit([texts[i] for i in unsure]), strict=True)) if unsure else {}
        return [score if score is not None else answers[i] for i, score in enumerate(first)]

    async def feedback(self, request: FeedbackRequest, user: User) -> dict:
        """Agents' labels: checked against the catalogue and the log (all or nothing), settled, audited."""
        model, _ = self.require_model()
        humans = self.humans
        # ids as the log stores them; the response names each ticket as the caller did
        sent = {self.ids.stored(item.id): item.id for item in request.items}
        items = [item.model_copy(update={"id": self.ids.stored(item.id)}) for item in request.items]
        outcomes = await anyio.to_thread.run_sync(humans.label, items, user, model.labels)
        for outcome in outcomes:
            if outcome.true_label is not None:
                correct = outcome.predicted == outcome.true_label
                self.metrics.observe_feedback(outcome.model_version, correct, outcome.true_label)
            if outcome.needs_review and outcome.waited_s is not None:
                self.metrics.kpi.observe_review_resolved(outcome.model_version, outcome.waited_s)
        await self._refresh_live_accuracy({o.model_version for o in outcomes})
        statuses = [o.status for o in outcomes]
        return {
            "accepted": len(outcomes),
            "matched": len(outcomes),
            "disputed": statuses.count("disputed"),
            "results": [{"id": sent.get(o.ticket_id, o.ticket_id), "status": o.status} for o in outcomes],
        }

    async def _refresh_live_accuracy(self, versions: Sequence[str] | set[str]) -> None:
        for version in sorted(versions):
            accuracy = await anyio.to_thread.run_sync(
                self.log.live_accuracy, version, self.settings.live_accuracy_window
            )
            if accuracy is not None:
                self.metrics.set_live_accuracy(version, accuracy)
