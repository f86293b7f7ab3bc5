"""The analysis service Argo Rollouts' ``web`` metric provider calls: ticketops' checks, one answer per check.

Each AnalysisTemplate's metric asks ``GET /v1/checks/{phase}/{check}?canary_version=V&stable_version=S&revision=R
&step=K`` every interval; the answer is the local controller's own measurement and verdict (``CanaryAnalysis``
over rollout/checks.py: the same PromQL, thresholds and sequential tests), with what was measured. A valid
request is ALWAYS answered 200, because Argo marks a non-2xx answer as an Error, and errors abort a rollout: a
missing series, NaN, Prometheus unreachable or any failure while measuring is ``inconclusive`` (Argo keeps
looking, then pauses), never ``pass``. The window is ``now`` minus the first time this (revision, phase, step)
was asked about (windows.py, persisted); a pass on a window shorter than ``min_step_seconds`` is held back as
inconclusive, as the local controller holds its step. ``GET /v1/analysis/{phase}`` judges the whole phase.

Trust boundary: ``TICKETOPS_ANALYSIS_TOKEN`` (bearer, compared in constant time by serving/auth.py) guards the
routes but the probes and ``/metrics``; without one the service only listens on loopback. ``/readyz`` does not
depend on Prometheus: an unready pod would turn every look into an Argo Error instead of an inconclusive answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import SecretStr

from ticketops.rollout.analysis import CANARY_PHASE, PHASE_CHECKS, CanaryAnalysis, CheckResult, UnknownCheck, checks_of
from ticketops.rollout.argo.reconcile_loop import ReconcileLoop
from ticketops.rollout.argo.windows import Windows
from ticketops.rollout.checks import Verdict
from ticketops.serving.auth import PUBLIC, AuthConfigError, Authorizer, Role, UserDirectory, is_loopback

logger = logging.getLogger(__name__)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # versions go into PromQL label matchers: no quotes
POLICY: dict[str, frozenset[Role]] = {"/livez": PUBLIC, "/readyz": PUBLIC, "/metrics": PUBLIC}
DEFAULT_OPTIONAL = {CANARY_PHASE: frozenset({"live_accuracy"})}  # the controller's guard on all but the last step


class BadRequest(ValueError):
    """What Argo's arguments got wrong (400, never a verdict)."""


@dataclass(frozen=True)
class Ask:
    """One look Argo asks for."""

    phase: str
    canary_version: str
    stable_version: str
    revision: str  # the canary's pod-template hash: a new template is a new window
    step: str

    @classmethod
    def parse(cls, phase: str, query) -> Ask:
        try:
            checks_of(phase)
        except UnknownCheck as exc:
            raise BadRequest(str(exc)) from None
        defaults = {"revision": query.get("canary_version"), "step": phase}  # one window per version and phase
        values = {}
        for name in ("canary_version", "stable_version", "revision", "step"):
            value = query.get(name) or defaults.get(name)
            if not value or not NAME.fullmatch(value):
                raise BadRequest(f"{name} must be given as letters, digits, '.', '_' or '-' (at most 64)")
            values[name] = value
        return cls(phase=phase, **values)


def analysis_authorizer(token: SecretStr | None, host: str) -> Authorizer:
    """AuthConfigError when asked to listen beyond loopback without a token."""
    directory = UserDirectory(admin_token=token)
    if not directory.configured and not is_loopback(host):
        raise AuthConfigError(f"refusing to listen on {host}: set TICKETOPS_ANALYSIS_TOKEN, or bind 127.0.0.1")
    return Authorizer(directory, POLICY)


def finite(value):
    """JSON Argo can parse: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


class ServiceMetrics:
    """The service's own series (not the replicas'): answers by verdict, and the reconciler's health."""

    def __init__(self, registry: CollectorRegistry):
        self.answers = Counter(
            "ticketops_analysis_answers_total",
            "Checks answered, by phase and verdict",
            ["phase", "check", "verdict"],
            registry=registry,
        )
        self.reconciles = Counter(
            "ticketops_argo_reconcile_total", "Reconciler runs by outcome", ["outcome"], registry=registry
        )
        self.reconciled_at = Gauge(
            "ticketops_argo_reconcile_last_success_timestamp_seconds",
            "When the reconciler last succeeded",
            registry=registry,
        )
        for outcome in ("ok", "error"):
            self.reconciles.labels(outcome)

    def reconciled(self, ok: bool, at: float) -> None:
        self.reconciles.labels("ok" if ok else "error").inc()
        if ok:
            self.reconciled_at.set(at)


class Judge:
    """Looks through ``CanaryAnalysis`` on the window of each ask."""

    def __init__(self, analysis: CanaryAnalysis, windows: Windows, min_step_seconds: float):
        self.analysis, self.windows, self.min_step_seconds = analysis, windows, min_step_seconds

    def _hold(self, result: CheckResult, window: float) -> CheckResult:
        if result.verdict != Verdict.PASS or window >= self.min_step_seconds:
            return result
        detail = f"passing, but the window is {window:.0f}s < min_step_seconds {self.min_step_seconds:g}: "
        return dataclasses.replace(result, verdict=Verdict.INCONCLUSIVE, detail=detail + result.detail)

    def _header(self, ask: Ask, window: float) -> dict:
        return {
            "phase": ask.phase,
            "window_s": round(window, 1),
            "canary_version": ask.canary_version,
            "stable_version": ask.stable_version,
            "revision": ask.revision,
            "step": ask.step,
        }

    def check(self, ask: Ask, name: str) -> dict:
        window = self.windows.window(ask.revision, ask.phase, ask.step)
        try:
            result = self.analysis.check(name, int(window), ask.canary_version, ask.stable_version)
        except Exception as exc:  # anything but a verdict from the data is "don't know", never a 500 or a pass
            logger.exception("check %s failed while measuring", name)
            result = CheckResult(name, Verdict.INCONCLUSIVE, detail=f"measuring failed: {type(exc).__name__}")
        body = self._hold(result, window).as_dict()
        return finite({"check": body.pop("name"), **self._header(ask, window), **body})

    def phase(self, ask: Ask, optional: frozenset[str]) -> dict:
        window = self.windows.window(ask.revision, ask.phase, ask.step)
        try:
            analysis = self.analysis.run(int(window), ask.canary_version, ask.stable_version, ask.phase, optional)
            checks = [self._hold(c, window) for c in analysis.checks]
            verdict, detail = analysis.verdict, analysis.reason
            if verdict == Verdict.PASS and window < self.min_step_seconds:
                verdict = Verdict.INCONCLUSIVE
                detail = f"passing, but the window is {window:.0f}s < min_step_seconds {self.min_step_seconds:g}"
        except Exception as exc:
            logger.exception("phase %s failed while measuring", ask.phase)
            verdict, checks, detail = Verdict.INCONCLUSIVE, [], f"measuring failed: {type(exc).__name__}"
        return finite(
            {
                "verdict": str(verdict),
                **self._header(ask, window),
                "detail": detail,
                "optional": sorted(optional),
                "checks": [{"check": c.name, **{k: v for k, v in c.as_dict().items() if k != "name"}} for c in checks],
            }
        )


def parse_optional(phase: str, query) -> frozenset[str]:
    if "optional" not in query:
        return DEFAULT_OPTIONAL.get(phase, frozenset())
    names = frozenset(n for n in query["optional"].split(",") if n)
    unknown = names - set(PHASE_CHECKS[phase])
    if unknown:
        raise BadRequest(f"optional names checks the {phase} phase does not run: {', '.join(sorted(unknown))}")
    return names


def build_app(judge: Judge, authorizer: Authorizer, loop: ReconcileLoop | None = None, registry=None):
    """The service's routes; ``loop`` (the reconciler) runs while the app runs."""
    from aiohttp import web

    from ticketops.serving.auth_middleware import aiohttp_middleware

    registry = registry or CollectorRegistry()
    metrics = ServiceMetrics(registry)
    if loop is not None:
        loop.outcome = metrics.reconciled

    def bad(message: str) -> web.Response:
        return web.json_response({"error": "bad_request", "message": message}, status=400)

    async def one_check(request: web.Request) -> web.Response:
        phase, name = request.match_info["phase"], request.match_info["check"]
        try:
            ask = Ask.parse(phase, request.query)
        except BadRequest as exc:
            return bad(str(exc))
        if name not in PHASE_CHECKS[phase]:
            return bad(f"unknown check {name!r} for the {phase} phase (one of {', '.join(PHASE_CHECKS[phase])})")
        body = await asyncio.to_thread(judge.check, ask, name)
        metrics.answers.labels(phase, name, body["verdict"]).inc()
        return web.json_response(body)

    async def whole_phase(request: web.Request) -> web.Response:
        try:
            ask = Ask.parse(request.match_info["phase"], request.query)
            optional = parse_optional(ask.phase, request.query)
        except BadRequest as exc:
            return bad(str(exc))
        body = await asyncio.to_thread(judge.phase, ask, optional)
        metrics.answers.labels(ask.phase, "all", body["verdict"]).inc()
        return web.json_response(body)

    async def livez(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:  # not Prometheus: a slow one would fail the probe
        return web.json_response({"status": "ready"})

    async def metrics_route(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    async def start_loop(_: web.Application) -> None:
        if loop is not None:
            loop.start()

    async def stop_loop(_: web.Application) -> None:
        if loop is not None:
            await asyncio.to_thread(loop.stop)

    app = web.Application(middlewares=[aiohttp_middleware(authorizer)], client_max_size=64 * 1024)
    app.router.add_get("/v1/checks/{phase}/{check}", one_check)
    app.router.add_get("/v1/analysis/{phase}", whole_phase)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    app.on_startup.append(start_loop)
    app.on_cleanup.append(stop_loop)
    return app


def app_from_settings(host: str, settings=None, reconcile=None):
    """The service as configured by the environment and params.yaml; AuthConfigError for an open non-loopback
    bind. ``reconcile`` replaces the reconciler (tests)."""
    from ticketops.config import load_params
    from ticketops.rollout.argo.reconcile_loop import default_reconcile
    from ticketops.rollout.promql import PromQL
    from ticketops.settings import ArgoAnalysisSettings

    settings = settings or ArgoAnalysisSettings()
    authorizer = analysis_authorizer(settings.analysis_token, host)
    params = load_params().rollout
    analysis = CanaryAnalysis(PromQL(settings.prometheus_url, settings.analysis_prometheus_timeout_s), params.checks)
    judge = Judge(analysis, Windows(settings.resolved_analysis_state_dir()), params.min_step_seconds)
    loop = None
    if settings.argo_reconcile:
        interval = settings.argo_reconcile_interval_s or params.analysis_interval_s
        loop = ReconcileLoop(reconcile or default_reconcile(), interval)
    return build_app(judge, authorizer, loop)
