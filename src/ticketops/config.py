"""``params.yaml``: the pipeline's parameters, one typed section per DVC stage (plus rollout, monitor, scenarios).

Nothing here runs at import time; ``load_params`` reads the file when a caller asks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ticketops.settings import MODEL_NAME, project_root


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestParams(_Section):
    seed_path: str = "data/seed/banking77/train.csv"
    seed_text_column: str = "text"
    seed_label_column: str = "category"
    labels_path: str = "data/labels/catalogue.json"
    # Seed tickets whose label is not in the catalogue: "error" (a data problem), or "holdout" for the labels
    # split.holdout_labels lists: kept out of training (their test tickets stay in test) until the catalogue has
    # the category and feedback confirms them. The demo starts so: the launch's intents are not in the catalogue.
    seed_outside_catalogue: Literal["error", "holdout"] = "error"
    feedback_dir: str = "data/feedback"
    output: str = "data/processed/dataset.csv"


class SplitParams(_Section):
    seed: int = 42
    test_fraction: float = Field(0.1, gt=0, lt=0.5)
    validation_fraction: float = Field(0.1, gt=0, lt=0.5)
    # Seed intents kept out of train/validation (still in test): simulates intents that did not exist
    # when the model was trained, e.g. for the demo's "new intent" drift. Feedback of any intent still trains.
    holdout_labels: tuple[str, ...] = ()


class EmbedParams(_Section):
    # The pretrained sentence encoder of the hybrid model (and of a cascade's hybrid slow stage):
    # modeling/encoder_sources.py lists them and where their weights come from.
    encoder: Literal["all-MiniLM-L6-v2", "all-mpnet-base-v2"] = "all-MiniLM-L6-v2"
    batch_size: int = Field(64, ge=1)
    max_length: int = Field(128, ge=8)


class TfidfParams(_Section):
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    char_min_df: int = 2
    C: float = 30.0
    max_iter: int = 2000


class HybridParams(_Section):
    embedding_weight: float = 2.0
    head: Literal["logreg", "svc"] = "logreg"  # svc: linear SVM, temperature fitted on held-out margins
    C: float = 20.0
    max_iter: int = 3000
    # A vote of the k most similar training tickets mixed with the head (modeling/neighbours.py); 0: none.
    neighbours: int = Field(0, ge=0)
    neighbour_weight: float = Field(0.3, ge=0, le=1)
    neighbour_sharpness: float = Field(10.0, gt=0)


class FinetuneParams(_Section):
    train_layers: int = Field(3, ge=1, le=6)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    encoder_lr: float = 1e-4
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_length: int = 64
    tfidf_blend: bool = False
    embedding_weight: float = 1.0
    C: float = 10.0
    max_iter: int = 3000


class CascadeParams(_Section):
    slow_model: Literal["hybrid", "finetune"] = "hybrid"
    accuracy_tolerance: float = 0.001


class TrainParams(_Section):
    model: Literal["tfidf", "hybrid", "finetune", "cascade"] = "hybrid"
    # Where the predictions on unseen tickets come from (review threshold, cascade routing, an SVM's temperature,
    # the drift reference): "validation" fits on train and scores validation; "out_of_fold" fits on train +
    # validation and scores each ticket with a model of ``folds`` - 1 folds that never saw it (not for finetune).
    heldout: Literal["validation", "out_of_fold"] = "validation"
    folds: int = Field(5, ge=2)
    seed: int = 42
    sample_fraction: float = Field(1.0, gt=0, le=1)
    threads: int = 2
    tfidf: TfidfParams = TfidfParams()
    hybrid: HybridParams = HybridParams()
    finetune: FinetuneParams = FinetuneParams()
    cascade: CascadeParams = CascadeParams()


class ScenarioParams(_Section):
    """Traffic scenarios for the simulator, the drift benchmark and the demo."""

    new_intent_labels: tuple[str, ...] = (
        "getting_virtual_card",
        "virtual_card_not_working",
        "get_disposable_virtual_card",
        "disposable_card_limits",
    )
    surge_labels: tuple[str, ...] = ("declined_card_payment", "card_not_working", "declined_cash_withdrawal")
    mixture: float = Field(0.2, ge=0, le=1)


class InvarianceBounds(_Section):
    """Share of predictions that must survive each perturbation (CheckList invariance tests)."""

    casing: float = Field(0.98, ge=0, le=1)
    punctuation: float = Field(0.95, ge=0, le=1)
    typo: float = Field(0.85, ge=0, le=1)


class EvaluateParams(_Section):
    review_precision_target: float = Field(0.98, gt=0, le=1)
    calibration_bins: int = 10
    invariance_min_agreement: InvarianceBounds = InvarianceBounds()
    min_functionality_min_accuracy: float = Field(1.0, ge=0, le=1)
    reference_sample_size: int = 1000


class RegisterParams(_Section):
    model_name: str = MODEL_NAME
    experiment: str = "ticketops"
    gate_metric: Literal["accuracy", "macro_f1"] = "accuracy"
    gate_margin: float = 0.002


class RateCheck(_Section):
    """A canary-vs-stable rate: ``effect`` is the smallest rise it must catch; ``baseline`` the stable rate
    assumed when planning its sample (the measured one is used once there is data)."""

    effect: float = Field(gt=0, lt=1)
    baseline: float = Field(ge=0, lt=1)


class LatencyCheck(RateCheck):
    """The share of requests slower than ``max_p99_ratio`` x stable's p99 (at least ``p99_floor_s``)."""

    max_p99_ratio: float = Field(2.0, gt=1)
    p99_floor_s: float = Field(0.25, gt=0)


class AccuracyCheck(_Section):
    effect: float = Field(0.03, gt=0, lt=1)  # smallest accuracy drop to catch
    baseline: float = Field(0.9, gt=0, lt=1)  # stable's accuracy, for planning


class ShadowAccuracyCheck(_Section):
    effect: float = Field(0.02, gt=0, lt=1)  # smallest paired accuracy drop to catch
    baseline_discordance: float = Field(0.1, gt=0, le=1)  # share of tickets exactly one model gets right


class ShadowAgreementCheck(_Section):
    min_agreement: float = Field(0.8, gt=0, le=1)  # acceptable agreement on intents both models know
    effect: float = Field(0.1, gt=0, lt=1)  # a disagreement this much larger fails


class RolloutChecks(_Section):
    """Error rates and smallest effects of the rollout checks (rollout/checks.py, rollout/sequential.py)."""

    alpha: float = Field(0.005, gt=0, lt=0.5)  # false FAIL of a challenger as good as stable, per check and phase
    beta: float = Field(0.2, gt=0, lt=0.5)  # false PASS of a challenger worse by the effect, per check and phase
    power: float = Field(0.8, gt=0.5, lt=1)  # for the planned sample each check reports
    tau_scale: float = Field(1.0, gt=0)  # mSPRT mixing sd in units of the effect
    min_count: int = Field(30, ge=1)  # observations per track before any rate is judged
    min_feedback: int = Field(30, ge=1)  # labels before an accuracy is judged (fewer: inconclusive)
    error_rate: RateCheck = RateCheck(effect=0.02, baseline=0.005)
    latency: LatencyCheck = LatencyCheck(effect=0.1, baseline=0.01)
    review_rate: RateCheck = RateCheck(effect=0.1, baseline=0.3)
    live_accuracy: AccuracyCheck = AccuracyCheck()
    shadow_accuracy: ShadowAccuracyCheck = ShadowAccuracyCheck()
    shadow_agreement: ShadowAgreementCheck = ShadowAgreementCheck()


class ShadowParams(_Section):
    """The first phase: every live ticket mirrored to the challenger, its answers discarded."""

    enabled: bool = True
    max_in_flight: int = Field(8, ge=1)  # mirrored requests the splitter keeps open at once; more are skipped


class RolloutParams(_Section):
    """Canary steps (percent of traffic) and how analysis turns into decisions."""

    steps: tuple[int, ...] = (10, 25, 50, 100)
    analysis_interval_s: float = Field(15.0, gt=0)
    min_step_seconds: float = Field(10.0, ge=0)
    max_step_seconds: float = Field(600.0, gt=0)  # a phase undecided by then is inconclusive: the rollout pauses
    max_failures: int = Field(2, ge=1)  # consecutive failed analyses that roll back
    require_accuracy_evidence: bool = True  # promotion needs shadow_accuracy or live_accuracy to have passed
    shadow: ShadowParams = ShadowParams()
    checks: RolloutChecks = RolloutChecks()


class DriftSignalParams(_Section):
    """One drift signal: the Evidently method, its calibrated threshold, the smallest samples it may judge."""

    method: str
    threshold: float
    min_current: int = Field(ge=1)
    min_reference: int = Field(ge=1)
    max_current: int | None = Field(None, ge=1)  # a seeded sample of at most this many current tickets (cost cap)


class MonitorParams(_Section):
    """Drift calibration (``ticketops drift``, ``ticketops monitor``, the drift benchmark); not a pipeline stage.

    The thresholds were chosen on steady windows (tickets drawn like the reference, no drift) by
    ``benchmarks/drift.py --calibrate``; params.yaml records the figures behind each value. Text, embedding
    and live accuracy thresholds are in units of their no-drift spread (monitoring/thresholds.py).
    """

    text: DriftSignalParams = DriftSignalParams(
        method="abs_text_content_drift", threshold=1.3, min_current=100, min_reference=100
    )
    embedding: DriftSignalParams = DriftSignalParams(
        method="mmd", threshold=0.2, min_current=100, min_reference=100, max_current=500
    )
    prediction: DriftSignalParams = DriftSignalParams(
        method="chisquare", threshold=0.001, min_current=100, min_reference=100
    )
    confidence: DriftSignalParams = DriftSignalParams(method="ks", threshold=0.001, min_current=50, min_reference=50)
    review_rate: DriftSignalParams = DriftSignalParams(method="z", threshold=0.001, min_current=50, min_reference=50)
    live_accuracy: DriftSignalParams = DriftSignalParams(
        method="accuracy_drop", threshold=5.4, min_current=100, min_reference=100
    )
    slow_share: DriftSignalParams = DriftSignalParams(method="z", threshold=1e-4, min_current=200, min_reference=200)


class Params(_Section):
    """``params.yaml``: one section per DVC stage, plus the rollout and monitor sections."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    ingest: IngestParams = IngestParams()
    split: SplitParams = SplitParams()
    embed: EmbedParams = EmbedParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    scenarios: ScenarioParams = ScenarioParams()
    rollout: RolloutParams = RolloutParams()
    monitor: MonitorParams = MonitorParams()
    # ``register`` is a pydantic BaseModel attribute, hence the alias.
    registration: RegisterParams = Field(RegisterParams(), alias="register")

    def as_dict(self) -> dict:
        """The parameters as written in params.yaml (section names as there)."""
        return self.model_dump(by_alias=True, mode="json")


def load_params(path: Path | str | None = None) -> Params:
    """Parse ``params.yaml`` (default: at the project root) into typed sections; unknown keys in a section fail."""
    path = Path(path) if path else project_root() / "params.yaml"
    raw = yaml.safe_load(path.read_text()) if path.exists() else {}
    return Params.model_validate(raw or {})
