"""One place that reads configuration: ``params.yaml`` for the pipeline, environment variables for services.

Nothing here runs at import time; callers ask for what they need when they need it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MODEL_NAME = "ticket-classifier"
CHAMPION = "champion"
CHALLENGER = "challenger"
DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@{CHAMPION}"
ROOT_MARKERS = ("dvc.yaml", "params.yaml")


def project_root(start: Path | None = None) -> Path:
    """The repo root: ``TICKETOPS_ROOT`` if set, else the nearest folder upward holding dvc.yaml and params.yaml."""
    if env := os.environ.get("TICKETOPS_ROOT"):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return here


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, or the embedded default ``sqlite:///<root>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def artifact_root() -> Path:
    """Where runs store artifacts when the tracking store is a local database (``mlartifacts/``)."""
    return Path(os.environ.get("TICKETOPS_ARTIFACT_ROOT") or project_root() / "mlartifacts").resolve()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestParams(_Section):
    seed_path: str = "data/seed/banking77/train.csv"
    seed_text_column: str = "text"
    seed_label_column: str = "category"
    labels_path: str = "data/seed/banking77/categories.json"
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
    C: float = 20.0
    max_iter: int = 3000


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
    min_functionality_path: str = "tests/fixtures/min_functionality.csv"
    min_functionality_min_accuracy: float = Field(1.0, ge=0, le=1)
    reference_sample_size: int = 1000


class RegisterParams(_Section):
    model_name: str = MODEL_NAME
    experiment: str = "ticketops"
    gate_metric: Literal["accuracy", "macro_f1"] = "accuracy"
    gate_margin: float = 0.002


class RolloutChecks(_Section):
    """Canary analysis bounds, each canary-vs-stable on the same step window (see rollout/analysis.py)."""

    min_canary_requests: int = Field(30, ge=1)
    max_error_rate_increase: float = 0.01
    max_p99_ratio: float = 2.0
    p99_floor_s: float = 0.25  # a canary p99 below this never fails, whatever the ratio
    max_prediction_divergence: float = 0.3  # total variation distance beyond sampling noise
    max_review_rate_increase: float = 0.1
    max_accuracy_drop: float = 0.03  # beyond sampling noise (one-sided 95% bound of the difference)
    min_feedback: int = Field(20, ge=1)


class RolloutParams(_Section):
    """Canary steps (percent of traffic) and how analysis turns into decisions."""

    steps: tuple[int, ...] = (10, 25, 50, 100)
    analysis_interval_s: float = Field(15.0, gt=0)
    min_step_seconds: float = Field(10.0, ge=0)
    max_failures: int = Field(2, ge=1)  # consecutive failed analyses that roll back
    max_inconclusive: int = Field(40, ge=1)  # consecutive inconclusive analyses before giving up (rollback)
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


class ServiceSettings(BaseSettings):
    """Environment of the HTTP service (``TICKETOPS_*``)."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_", extra="ignore")

    model_uri: str = DEFAULT_MODEL_URI
    api_token: SecretStr | None = None
    max_text_chars: int = Field(2000, ge=1)
    max_tickets: int = Field(64, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_concurrency: int = Field(512, ge=1)
    request_timeout_s: float = Field(10.0, gt=0)
    prediction_log_url: str = "sqlite:///predictions.db"
    prediction_log_queue: int = Field(10_000, ge=1)
    prediction_log_retention_rows: int = Field(1_000_000, ge=1)
    prediction_log_retention_days: float = Field(30.0, gt=0)
    threads: int = Field(2, ge=1)
    # serving (issue 3): labels metrics so stable and canary replicas can be told apart
    track: Literal["stable", "canary"] = "stable"
    batch_max_size: int = Field(64, ge=1)  # tickets per encoder call
    batch_max_wait_ms: float = Field(0.0, ge=0)  # extra wait to fill a batch when the model is idle
    encoder_batch_size: int = Field(16, ge=1)  # sentences per encoder mini-batch within a call (less padding)
    load_retry_s: float = Field(30.0, gt=0)  # retry a failed model load (same URI, never another version)
    live_accuracy_window: int = Field(1000, ge=1)  # most recent labelled predictions per model version
    slow_share_window: int = Field(1000, ge=1)  # cascade: recent tickets behind ticketops_slow_stage_share


class RolloutSettings(BaseSettings):
    """Environment of the rollout controller and the local stack (``TICKETOPS_*``)."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_", extra="ignore")

    state_dir: Path | None = None  # default: <repo root>/.ticketops
    prometheus_url: str = "http://127.0.0.1:9090"
    rollout_backend: Literal["local", "kubernetes"] = "local"
    splitter_port: int = 3000  # local stack: the public endpoint (stable + canary behind it)

    def resolved_state_dir(self) -> Path:
        return (self.state_dir or project_root() / ".ticketops").resolve()


@lru_cache(maxsize=1)
def service_settings() -> ServiceSettings:
    """Settings read once per process (the service is configured by its environment at start)."""
    return ServiceSettings()


class MonitorSettings(BaseSettings):
    """Environment of the drift monitor (``TICKETOPS_MONITOR_*``); it reads the service's prediction log."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_MONITOR_", extra="ignore", populate_by_name=True)

    model_uri: str = DEFAULT_MODEL_URI  # whose reference sample the windows are compared with
    prediction_log_url: str = Field(
        "sqlite:///predictions.db",
        validation_alias=AliasChoices("TICKETOPS_MONITOR_PREDICTION_LOG_URL", "TICKETOPS_PREDICTION_LOG_URL"),
    )
    interval_s: float = Field(300.0, gt=0)  # between checks
    window_size: int = Field(1000, ge=1)  # the most recent tickets one check judges
    window_max_age_s: float = Field(86_400.0, gt=0)  # older tickets are not "current" any more
    only_model_version: bool = True  # judge only the tickets the monitored version classified
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)  # /metrics, /verdict, /healthz
    # `monitor --once` (a CronJob) lives too briefly to be scraped: it pushes its gauges here instead.
    pushgateway_url: str | None = None
    state_dir: Path | None = None  # default: <repo root>/reports/monitor (snapshots, HTML reports, verdict)
    keep_windows: int = Field(2016, ge=1)  # window folders kept (a week at 5 min; ~4 MB each, mostly HTML)
    workspace: Path | None = None  # Evidently UI workspace; default: <state_dir>/workspace
    project: str = "ticket-classifier"  # Evidently project name
    dashboard_port: int = Field(8000, ge=0, le=65535)
    threads: int = Field(2, ge=1)

    def resolved_state_dir(self) -> Path:
        return (self.state_dir or project_root() / "reports" / "monitor").resolve()

    def resolved_workspace(self) -> Path:
        return (self.workspace or self.resolved_state_dir() / "workspace").resolve()


class KubernetesSettings(BaseSettings):
    """Where and how the Kubernetes rollout backend acts (``TICKETOPS_K8S_*``); names match ``k8s/base``."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_K8S_", extra="ignore")

    namespace: str = "ticketops"
    stable_deployment: str = "ticketops-stable"
    canary_deployment: str = "ticketops-canary"
    service: str = "ticketops"  # selects both tracks: traffic follows ready replicas
    container: str = "service"  # the container whose TICKETOPS_MODEL_URI the backend sets
    image: str | None = None  # None keeps the image of the stable Deployment
    # "replicas": one Service, traffic split by replica counts; "httproute": Gateway API backendRef weights.
    traffic: Literal["replicas", "httproute"] = "replicas"
    httproute: str = "ticketops"
    stable_service: str = "ticketops-stable"  # HTTPRoute backendRefs (one Service per track)
    canary_service: str = "ticketops-canary"
    total_replicas: int = Field(4, ge=2)  # replicas mode: stable + canary; a 10% step still needs a whole pod
    canary_replicas: int = Field(1, ge=1)  # httproute mode: canary pods while it has any weight
    ready_timeout_s: float = Field(300.0, ge=0)  # new pods (model loading) must be ready within this
    promote_wait_s: float = Field(600.0, ge=0)  # wait for the stable rollout before removing the canary
    kubeconfig: str | None = None  # None: $KUBECONFIG or ~/.kube/config, or in-cluster service account
    context: str | None = None
    in_cluster: bool = False
    request_timeout_s: float = Field(10.0, gt=0)
