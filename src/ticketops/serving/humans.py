"""The people side of one replica: the review queue, agents' labels, the label catalogue and the audit trail.

Everything here is blocking database and file work; the HTTP layer runs it on a worker thread. The label
catalogue is the file in ``data/`` (``TICKETOPS_CATALOGUE_PATH``), re-read when it changes, so a category an
admin adds is usable by every replica at once; without a catalogue file, the served model's labels are the
catalogue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import OperationalError

from ticketops.audit import AuditEvent, AuditTrail
from ticketops.data.catalogue import CatalogueCache, CatalogueError, add_category
from ticketops.schemas import FeedbackItem
from ticketops.serving.auth import User
from ticketops.serving.errors import ApiError, FieldProblem
from ticketops.serving.prediction_log import PredictionLog
from ticketops.serving.reasons import ReasonEngine
from ticketops.serving.review import (
    LabelOutcome,
    adjudication_list,
    apply_labels,
    check_items,
    find_rows,
    labels_today,
    pending_queue,
)
from ticketops.settings import ServiceSettings, project_root

LOOKUP_RETRY_S = 0.1  # between lookups of a ticket another replica answered and may not have written yet


logger = logging.getLogger("ticketops.serving")


class HumanLoop:
    """Queue, labels, catalogue and audit over one prediction-log database."""

    def __init__(self, settings: ServiceSettings, log: PredictionLog):
        self.settings = settings
        self.log = log
        self.trail = AuditTrail(log.engine)
        self.catalogue_path = Path(settings.catalogue_path or project_root() / "data" / "labels" / "catalogue.json")
        self.catalogue = CatalogueCache(self.catalogue_path)
        self._reasons: ReasonEngine | None = None
        self._reasons_for: object = None
        self._lock = threading.Lock()

    # --- labels --------------------------------------------------------------------------------

    def catalogue_names(self, model_labels: Collection[str]) -> set[str]:
        try:
            names = self.catalogue.names()
        except CatalogueError:
            names = set()
        return names or set(model_labels)

    def label(self, items: Sequence[FeedbackItem], user: User, model_labels: Collection[str]) -> list[LabelOutcome]:
        """All-or-nothing: every id logged, every text the classified one, every label in the catalogue."""
        check_items(items, self.catalogue_names(model_labels))
        self.log.flush()
        # The splitter routes requests, not tickets: a label may reach this replica before the replica that
        # answered the ticket has written its row to the shared log. Look again for a bounded time.
        wait_s = min(self.settings.feedback_join_wait_s, self.settings.request_timeout_s / 2)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                rows = find_rows(self.log.ready_engine(), items)
                break
            except ApiError as exc:
                if exc.code != "unknown_id" or time.monotonic() >= deadline:
                    raise
            time.sleep(LOOKUP_RETRY_S)
        return apply_labels(self.log.ready_engine(), items, user, rows)

    # --- the queue -----------------------------------------------------------------------------

    def reasons(self, model) -> ReasonEngine:
        with self._lock:
            if self._reasons is None or self._reasons_for is not model:
                examples, source = self._examples(model)
                self._reasons = ReasonEngine(model.scorer.predictor.classifier, examples, source)
                self._reasons_for = model
            return self._reasons

    def _examples(self, model) -> tuple[pd.DataFrame, str]:
        """Labelled training tickets: the training split of this checkout, else the package's reference sample."""
        from ticketops.fileio import read_csv

        train = Path(self.settings.review_examples_path or project_root() / "data" / "splits" / "train.csv")
        if train.is_file():
            return read_csv(train)[["text", "label"]], "training split"
        reference = Path(model.folder) / "reference.csv" if model.folder is not None else None
        if reference is not None and reference.is_file():
            return read_csv(reference)[["text", "label"]], "the model's labelled reference sample"
        return pd.DataFrame({"text": [], "label": []}), "none"

    def queue(self, limit: int, model) -> dict:
        self.log.flush()  # a ticket classified just before is in the queue, not still in the writer's
        total, items = pending_queue(self.log.ready_engine(), limit)
        engine = self.reasons(model)
        return {
            "pending": total,
            "items": [
                {
                    "id": item.id,
                    "text": item.text,
                    "label": item.label,
                    "confidence": item.confidence,
                    "model_version": item.model_version,
                    "received_at": _iso(item.received_at),
                    "needs_review": True,
                    "reasons": engine.explain(item.text, item.label),
                }
                for item in items
            ],
        }

    def adjudication(self, limit: int) -> dict:
        items = adjudication_list(self.log.ready_engine(), limit)
        for item in items:
            item["received_at"] = _iso(item["received_at"])
        return {"pending": len(items), "items": items}

    def whoami(self, user: User) -> dict:
        today = labels_today(self.log.ready_engine(), user.name)
        return {"name": user.name, "role": user.role, "labelled_today": today}

    def record_forced_load(self, loaded, track: str) -> None:
        """An ungated version serves only by an admin's decision: say so in the log and the audit trail."""
        logger.warning(
            "serving v%s although it did not pass the gate (TICKETOPS_FORCE_UNGATED_VERSIONS)", loaded.version
        )
        try:
            self.trail.record(
                "service",
                "model.forced_ungated",
                f"model/{loaded.name}/{loaded.version}",
                {"uri": loaded.uri, "track": track, "gate_reason": loaded.tags.get("gate_reason", "")},
            )
        except Exception as exc:  # the database may be away; the log line above stays
            logger.error("audit trail: forced load of v%s not recorded (%s)", loaded.version, type(exc).__name__)

    # --- catalogue and audit -------------------------------------------------------------------

    def labels(self, model_labels: Collection[str]) -> dict:
        catalogue = self.catalogue.get()
        if catalogue is None:
            return {
                "version": 0,
                "categories": [{"name": n, "description": "", "served": True} for n in sorted(model_labels)],
            }
        return {
            "version": catalogue.version,
            "categories": [{**c.model_dump(), "served": c.name in model_labels} for c in catalogue.categories],
        }

    def add_category(self, name: str, description: str, user: User) -> dict:
        try:
            catalogue = add_category(self.catalogue_path, name, description, user.name)
        except CatalogueError as exc:
            status, code = (409, "category_exists") if "already" in str(exc) else (400, "invalid_category")
            raise ApiError(status, code, str(exc), [FieldProblem("name", str(exc), code)]) from None
        self.trail.record_all(
            [
                AuditEvent(
                    actor=user.name,
                    action="category.added",
                    target=f"category/{name}",
                    details={"description": description, "catalogue_version": catalogue.version},
                )
            ]
        )
        return {"name": name, "catalogue_version": catalogue.version}

    def audit(self, limit: int, since: datetime | None) -> dict:
        try:
            events = self.trail.events(limit, since)
        except OperationalError as exc:
            raise ApiError(503, "audit_unavailable", "the audit trail's database is unavailable") from exc
        return {"events": [e.model_dump(mode="json") for e in events]}


def _iso(at: float) -> str:
    from ticketops.audit import now_iso

    return now_iso(at)
