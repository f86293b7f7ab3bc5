"""Environment settings of the services (``TICKETOPS_*``), the project root, and the registry's fixed names.

Nothing here runs at import time; callers ask for what they need when they need it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MODEL_NAME = "ticket-classifier"
CHAMPION = "champion"
CHALLENGER = "challenger"
SHADOW_HEADER = "X-Ticketops-Shadow"  # a /classify copied by the splitter in a shadow phase: answered, not logged
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


def signing_keys() -> tuple[Path, Path]:
    """(private, public) key of package signing: ``TICKETOPS_SIGNING_KEY`` and ``TICKETOPS_MODEL_PUBLIC_KEY``,
    else a pair under ``<root>/.ticketops/signing/`` (created at the first registration; a production
    deployment mounts only the public key where it serves)."""
    default = project_root() / ".ticketops" / "signing"
    private = os.environ.get("TICKETOPS_SIGNING_KEY") or default / "private.pem"
    public = os.environ.get("TICKETOPS_MODEL_PUBLIC_KEY") or default / "public.pem"
    return Path(private), Path(public)


def encoder_cache_dir() -> Path:
    """Where pretrained encoders shipped as split zips are unpacked once: ``TICKETOPS_ENCODER_CACHE``, else
    ``~/.cache/ticketops/encoders`` (modeling/encoder_sources.py)."""
    env = os.environ.get("TICKETOPS_ENCODER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ticketops" / "encoders"


class ServiceSettings(BaseSettings):
    """Environment of the HTTP service (``TICKETOPS_*``)."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_", extra="ignore")

    model_uri: str = DEFAULT_MODEL_URI
    api_token: SecretStr | None = None  # alone: one admin user named "admin"
    auth_file: Path | None = None  # users and roles (YAML, token SHA-256s); reloaded on change or SIGHUP
    catalogue_path: Path | None = None  # the label catalogue; default <root>/data/labels/catalogue.json
    review_examples_path: Path | None = None  # similar tickets for reviewers; default <root>/data/splits/train.csv
    max_text_chars: int = Field(2000, ge=1)
    max_tickets: int = Field(64, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_concurrency: int = Field(512, ge=1)
    request_timeout_s: float = Field(10.0, gt=0)
    prediction_log_url: str = "sqlite:///predictions.db"
    prediction_log_queue: int = Field(10_000, ge=1)
    prediction_log_retention_rows: int = Field(1_000_000, ge=1)
    prediction_log_retention_days: float = Field(30.0, gt=0)
    # rows the database cannot take wait here (bounded), replayed in order; default <root>/.ticketops/prediction-spool
    prediction_log_spool_dir: Path | None = None
    prediction_log_spool_max_rows: int = Field(200_000, ge=1)
    prediction_log_retry_s: float = Field(1.0, gt=0)  # between attempts while the database is away
    # ids that are not safe opaque tokens are stored as a keyed hash: replicas of one deployment share the key
    id_hash_key: SecretStr | None = None  # hex, >= 16 bytes; else the key file (created on first use)
    id_hash_key_file: Path | None = None  # default <root>/.ticketops/id-hash.key
    # feedback for a ticket another replica answered may arrive before that replica wrote its row: look again
    # for this long (at most half the request timeout) before counting the label unmatched
    feedback_join_wait_s: float = Field(2.0, ge=0)
    threads: int = Field(2, ge=1)
    # labels metrics so stable and canary replicas can be told apart
    track: Literal["stable", "canary"] = "stable"
    batch_max_size: int = Field(64, ge=1)  # tickets per encoder call
    batch_max_wait_ms: float = Field(0.0, ge=0)  # extra wait to fill a batch when the model is idle
    encoder_batch_size: int = Field(16, ge=1)  # sentences per encoder mini-batch within a call (less padding)
    # auto: the artifact's ONNX graph on ONNX Runtime (torch for artifacts without one); onnx: insist; torch: ignore it
    encoder_backend: Literal["auto", "onnx", "torch"] = "auto"
    load_retry_s: float = Field(30.0, gt=0)  # retry a failed model load (same URI, never another version)
    # versions an admin lets serve although they did not pass the gate (each load is an audit event)
    force_ungated_versions: list[str] = Field(default_factory=list)
    live_accuracy_window: int = Field(1000, ge=1)  # most recent labelled predictions per model version
    slow_share_window: int = Field(1000, ge=1)  # cascade: recent tickets behind ticketops_slow_stage_share
    # What one CPU-hour of a replica costs (exported as ticketops_cpu_hour_price; recording rules turn CPU-seconds
    # per 1,000 tickets into money). Default: an on-demand general-purpose cloud vCPU-hour, roughly.
    cpu_hour_price: float = Field(0.048, ge=0)
    currency: str = Field("USD", min_length=1, max_length=8)


class RolloutSettings(BaseSettings):
    """Environment of the rollout controller and the local stack (``TICKETOPS_*``)."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_", extra="ignore")

    state_dir: Path | None = None  # default: <repo root>/.ticketops
    prometheus_url: str = "http://127.0.0.1:9090"
    rollout_backend: Literal["local", "kubernetes", "argo"] = "local"
    splitter_port: int = 3000  # local stack: the public endpoint (stable + canary behind it)

    def resolved_state_dir(self) -> Path:
        return (self.state_dir or project_root() / ".ticketops").resolve()


class TrafficSettings(BaseSettings):
    """Environment of simulated traffic (``TICKETOPS_TRAFFIC_*``): the bearer token its requests carry by default."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_TRAFFIC_", extra="ignore")

    token: SecretStr | None = None

    def bearer(self) -> str | None:
        return self.token.get_secret_value() if self.token is not None else None


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
    project: str = MODEL_NAME  # Evidently project name
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


class ArgoAnalysisSettings(BaseSettings):
    """The analysis service Argo Rollouts' ``web`` metrics call (``ticketops rollout analysis-service``) and the
    in-cluster shadow mirror (``ticketops rollout shadow-mirror``). Prometheus is the controller's
    (``TICKETOPS_PROMETHEUS_URL``): both judge the same series."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_", extra="ignore")

    prometheus_url: str = "http://127.0.0.1:9090"
    analysis_prometheus_timeout_s: float = Field(3.0, gt=0)  # per query: a check's queries fit Argo's 20 s timeout
    analysis_token: SecretStr | None = None  # the bearer token Argo's AnalysisTemplates send
    analysis_state_dir: Path | None = None  # first-seen times of (revision, phase, step); default <state>/analysis
    argo_reconcile: bool = False  # run the reconciler (registry follows the cluster) inside the analysis service
    argo_reconcile_interval_s: float | None = Field(None, gt=0)  # default: params.yaml rollout.analysis_interval_s
    shadow_stable_url: str = "http://ticketops-stable.ticketops.svc:3000"
    shadow_canary_url: str = "http://ticketops-canary.ticketops.svc:3000"
    shadow_max_in_flight: int = Field(8, ge=1)  # mirrored tickets asked of both tracks at once; more are skipped
    shadow_recheck_s: float = Field(10.0, gt=0)  # both tracks on one version: ask again only this often
    shadow_timeout_s: float = Field(10.0, gt=0)

    def resolved_analysis_state_dir(self) -> Path:
        return (self.analysis_state_dir or RolloutSettings().resolved_state_dir() / "analysis").resolve()


class ArgoSettings(BaseSettings):
    """The Argo Rollouts backend and the reconciler (``TICKETOPS_ARGO_*``); the cluster connection, namespace and
    serving container are ``KubernetesSettings`` (``TICKETOPS_K8S_*``)."""

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_ARGO_", extra="ignore")

    rollout: str = "ticketops"  # the Rollout (argoproj.io/v1alpha1) that serves the model
    # The manager names managedFields record for ticketops' own writes (so history names them as actors).
    field_manager: str = Field("ticketops", min_length=1, max_length=128)
    reconciler_field_manager: str = Field("ticketops-reconciler", min_length=1, max_length=128)
    poll_s: float = Field(5.0, gt=0)  # `rollout start --wait`: between two readings of the Rollout
    wait_timeout_s: float = Field(0.0, ge=0)  # `rollout start --wait` gives up after this long (0: never)


class RetrainSettings(BaseSettings):
    """Where a retraining publishes its data version, and how the webhook starts one (``TICKETOPS_RETRAIN_*``).

    Publishing makes a registered model's ``data_md5`` restorable: the feedback batch and the pipeline outputs go
    to the DVC remote, dvc.lock and the .dvc files to a git branch, and both are recorded on the model version.
    """

    model_config = SettingsConfigDict(env_prefix="TICKETOPS_RETRAIN_", extra="ignore")

    publish: bool = False  # dvc push + commit the data version on a branch + git push (the cluster's Job: true)
    # The repository the branch is pushed to, and cloned from when the workspace is empty (the Job's emptyDir).
    # None: the checkout's own `origin`. Credentials never go in the URL: see git_username/git_token.
    git_url: str | None = None
    git_base: str = "main"  # the branch an empty workspace is cloned at
    git_username: str = "git"  # HTTPS username for git_token (GitHub: any; GitLab: oauth2 or a token name)
    git_token: SecretStr | None = None  # HTTPS token, handed to git by a credential helper, never written to disk
    branch_prefix: str = "retrain/"
    author_name: str = "ticketops-retrain"
    author_email: str = "ticketops-retrain@localhost"
    dvc_remote: str | None = None  # the DVC remote to push to; None: the repository's default (core.remote)
    reason: str = ""  # why this retraining runs (the webhook puts the alert names on the Job it creates)
    # "process": the webhook retrains in its own process (one machine); "kubernetes": it creates a Job from the
    # suspended CronJob (as `kubectl create job --from=cronjob/<cronjob>` does) in TICKETOPS_K8S_NAMESPACE.
    trigger: Literal["process", "kubernetes"] = "process"
    cronjob: str = "ticketops-retrain"
