"""The rollout backend for Kubernetes: stable and canary Deployments behind one Service (or an HTTPRoute).

Everything the controller needs to resume lives in the cluster: the track Deployments carry their model in
labels and env, and the rollout state is a JSON annotation on the stable Deployment (which outlives every
canary), so a restarted controller, or an SRE with ``kubectl``, sees the same truth.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ticketops.rollout.backend import CANARY, STABLE
from ticketops.rollout.kubernetes import objects as objs
from ticketops.rollout.kubernetes.connection import KubernetesBackendError, api_client_from_settings
from ticketops.rollout.state import RolloutState
from ticketops.settings import KubernetesSettings

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
GATEWAY_GROUP, GATEWAY_VERSION, HTTPROUTES = "gateway.networking.k8s.io", "v1", "httproutes"


class KubernetesBackend:
    """Implements ``RolloutBackend`` with the official kubernetes client (plain JSON merge patches).

    Traffic follows ready replicas by default: the Service selects both tracks, so ``set_weight`` splits
    ``total_replicas`` pods between them. With ``traffic="httproute"`` a Gateway API HTTPRoute's backendRef
    weights split the traffic instead, and the replica counts only provide capacity.
    """

    name = "kubernetes"

    def __init__(
        self,
        settings: KubernetesSettings | None = None,
        api_client: Any | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 2.0,
    ) -> None:
        from kubernetes import client

        self.settings = settings or KubernetesSettings()
        self.api_client = api_client or api_client_from_settings(self.settings)
        self._apps = client.AppsV1Api(self.api_client)
        self._custom = client.CustomObjectsApi(self.api_client)
        self._sleep = sleep
        self._poll_s = poll_s

    @classmethod
    def from_settings(cls, settings: KubernetesSettings | None = None) -> KubernetesBackend:
        """The backend for ``TICKETOPS_K8S_*`` (what ``ticketops rollout --backend kubernetes`` uses)."""
        return cls(settings or KubernetesSettings())

    # --- RolloutBackend -------------------------------------------------------------------------------------

    supports_shadow = False  # mirrored traffic on the cluster (Gateway API RequestMirror) comes with Argo

    def set_shadow(self) -> None:
        raise KubernetesBackendError("no traffic mirroring on Kubernetes yet: set rollout.shadow.enabled false")

    def deploy_canary(self, model_uri: str, version: str) -> None:
        """Create (or re-template) the canary from the stable Deployment, at 0% of traffic.

        With replica-based traffic 0% means 0 canary pods: they start with the first ``set_weight`` > 0, which
        waits for them. With an HTTPRoute the canary starts ``canary_replicas`` pods at weight 0 and this waits
        until they are ready (model loaded), as the local backend does. A canary that never gets ready is left
        for the controller's ``canary_ready()`` check to roll back.
        """
        s = self.settings
        if s.traffic == "httproute":
            self._patch_route(0)  # before the canary exists: no request may reach it before analysis starts
        replicas = s.canary_replicas if s.traffic == "httproute" else 0
        stable = self._read(s.stable_deployment, required=True)
        body = objs.canary_from_stable(
            stable,
            name=s.canary_deployment,
            container=s.container,
            model_uri=model_uri,
            version=version,
            replicas=replicas,
            image=s.image,
        )
        body["metadata"]["annotations"][objs.CHANGE_CAUSE_ANNOTATION] = f"ticketops: canary of version {version}"
        current = self._read(s.canary_deployment)
        if current is None:
            self._apps.create_namespaced_deployment(s.namespace, body, **self._opts())
            log.info("created %s serving %s", s.canary_deployment, model_uri)
        else:
            # The selector is immutable: keep the existing one (k8s/base declares track=canary already) and
            # make sure the new template still matches it.
            selector = current["spec"]["selector"].get("matchLabels") or {}
            body["spec"]["template"]["metadata"]["labels"].update(selector)
            meta = {key: body["metadata"][key] for key in ("labels", "annotations")}
            spec = {key: body["spec"][key] for key in ("replicas", "template")}
            self._patch_deployment(s.canary_deployment, {"metadata": meta, "spec": spec})
            log.info("re-templated %s to serve %s", s.canary_deployment, model_uri)
        if replicas:
            self._wait_ready(s.canary_deployment, replicas)

    def set_weight(self, canary_percent: int) -> None:
        """Move ``canary_percent`` of traffic to the canary. New canary pods must be ready before stable shrinks
        (or before the HTTPRoute weight moves), so capacity never drops and no request meets a loading pod."""
        s = self.settings
        current = self._replicas(CANARY)
        if s.traffic == "httproute":
            # Stable keeps full capacity; the canary's pods grow with its share before the weight moves.
            if canary_percent > 0:
                needed = max(s.canary_replicas, math.ceil(s.total_replicas * canary_percent / 100), current)
                if needed > current:
                    self._scale(s.canary_deployment, needed)
                if not self._wait_ready(s.canary_deployment, needed):
                    return  # the weight stays where it was; canary_ready() tells the controller
            self._patch_route(canary_percent)
            return
        stable_n, canary_n = objs.split_replicas(s.total_replicas, canary_percent)
        if canary_n > current:
            self._scale(s.canary_deployment, canary_n)
            if not self._wait_ready(s.canary_deployment, canary_n):
                return  # stable keeps its pods; canary_ready() tells the controller
            self._scale(s.stable_deployment, stable_n)
        elif canary_n < current:
            self._scale(s.stable_deployment, stable_n)
            self._wait_ready(s.stable_deployment, stable_n)
            self._scale(s.canary_deployment, canary_n)
        else:
            self._scale(s.stable_deployment, stable_n)

    def promote(self, model_uri: str, version: str) -> None:
        """Roll the stable Deployment to ``model_uri`` (a normal rollout: ``kubectl rollout status/undo`` work),
        then, once it is complete, take all traffic off the canary and scale it to 0.

        If the stable rollout does not complete within ``promote_wait_s`` the canary keeps serving and
        ``KubernetesBackendError`` is raised: removing it would leave only the previous model answering.
        """
        s = self.settings
        stable = self._read(s.stable_deployment, required=True)
        template = objs.model_template(
            stable["spec"]["template"],
            container=s.container,
            track=STABLE,
            model_uri=model_uri,
            version=version,
            image=s.image,
        )
        cause = f"ticketops: promote version {version} ({model_uri})"
        patch = {
            "metadata": {
                "labels": {objs.VERSION_LABEL: objs.label_value(version)},
                "annotations": {objs.MODEL_URI_ANNOTATION: model_uri, objs.CHANGE_CAUSE_ANNOTATION: cause},
            },
            "spec": {"replicas": s.total_replicas, "template": template},
        }
        self._patch_deployment(s.stable_deployment, patch)
        if s.promote_wait_s > 0:
            self._wait_rolled_out(s.stable_deployment, s.promote_wait_s)
        if s.traffic == "httproute":
            self._patch_route(0)
        self._scale(s.canary_deployment, 0)
        log.info("promoted %s to %s", s.stable_deployment, model_uri)

    def rollback(self) -> None:
        """All traffic back to stable at once (stable at full size first), then the canary scaled to 0."""
        s = self.settings
        if s.traffic == "httproute":
            self._patch_route(0)
        self._scale(s.stable_deployment, s.total_replicas)
        self._scale(s.canary_deployment, 0)
        log.info("rolled back: all traffic on %s", s.stable_deployment)

    def canary_ready(self) -> bool:
        """The canary has ready pods, all running its current template (a scaled-to-0 canary is not ready)."""
        canary = self._read(self.settings.canary_deployment)
        return canary is not None and objs.deployment_serving(canary)

    def load_state(self) -> RolloutState | None:
        """The rollout state annotated on the stable Deployment, if a rollout ever ran."""
        stable = self._read(self.settings.stable_deployment, required=True)
        raw = (stable["metadata"].get("annotations") or {}).get(objs.STATE_ANNOTATION)
        return RolloutState.model_validate_json(raw) if raw else None

    def save_state(self, state: RolloutState) -> None:
        """Annotate the stable Deployment (metadata only: no pod is restarted by it)."""
        patch = {"metadata": {"annotations": {objs.STATE_ANNOTATION: state.model_dump_json()}}}
        self._patch_deployment(self.settings.stable_deployment, patch)

    # --- what SREs and `rollout status` want to see ------------------------------------------------------------

    def tracks(self) -> dict[str, dict[str, Any]]:
        """Per track: model URI, version label, desired and ready replicas (absent tracks are left out)."""
        out: dict[str, dict[str, Any]] = {}
        for track, name in ((STABLE, self.settings.stable_deployment), (CANARY, self.settings.canary_deployment)):
            dep = self._read(name)
            if dep is not None:
                out[track] = {"deployment": name, **objs.track_info(dep, self.settings.container)}
        return out

    def canary_traffic_percent(self) -> int | None:
        """The canary's actual share now: its HTTPRoute weight, or its fraction of the ready pods behind the
        Service (None when nothing is ready or the route does not reference both tracks)."""
        s = self.settings
        if s.traffic == "httproute":
            route = self._route()
            return objs.route_canary_percent(route, stable_service=s.stable_service, canary_service=s.canary_service)
        ready = {track: info["ready_replicas"] for track, info in self.tracks().items()}
        total = sum(ready.values())
        return round(100 * ready.get(CANARY, 0) / total) if total else None

    # --- API plumbing ---------------------------------------------------------------------------------------

    def _opts(self) -> dict[str, Any]:
        return {"_request_timeout": self.settings.request_timeout_s}

    def _read(self, name: str, *, required: bool = False) -> dict[str, Any] | None:
        """The Deployment as the API server returned it (raw JSON: fields the client models lack survive)."""
        from kubernetes.client.exceptions import ApiException

        try:
            response = self._apps.read_namespaced_deployment(
                name, self.settings.namespace, _preload_content=False, **self._opts()
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            if required:
                raise KubernetesBackendError(
                    f"Deployment {self.settings.namespace}/{name} not found: apply k8s/ first "
                    "(kubectl apply -k k8s/overlays/<env>)"
                ) from exc
            return None
        return json.loads(response.data)

    def _replicas(self, track: str) -> int:
        name = self.settings.stable_deployment if track == STABLE else self.settings.canary_deployment
        dep = self._read(name)
        return 0 if dep is None else int(dep["spec"].get("replicas", 1))

    def _patch_deployment(self, name: str, patch: dict[str, Any]) -> None:
        self._apps.patch_namespaced_deployment(
            name, self.settings.namespace, patch, _content_type=MERGE_PATCH, _preload_content=False, **self._opts()
        )

    def _scale(self, name: str, replicas: int) -> None:
        if replicas == 0 and self._read(name) is None:
            return  # nothing to scale down
        self._patch_deployment(name, {"spec": {"replicas": replicas}})

    def _route(self) -> dict[str, Any]:
        s = self.settings
        return self._custom.get_namespaced_custom_object(
            GATEWAY_GROUP, GATEWAY_VERSION, s.namespace, HTTPROUTES, s.httproute, **self._opts()
        )

    def _patch_route(self, canary_percent: int) -> None:
        s = self.settings
        route = self._route()
        rules = objs.route_with_weights(
            route, stable_service=s.stable_service, canary_service=s.canary_service, canary_percent=canary_percent
        )
        self._custom.patch_namespaced_custom_object(
            GATEWAY_GROUP,
            GATEWAY_VERSION,
            s.namespace,
            HTTPROUTES,
            s.httproute,
            {"spec": {"rules": rules}},
            _content_type=MERGE_PATCH,
            **self._opts(),
        )

    def _wait_ready(self, name: str, replicas: int) -> bool:
        """Wait up to ``ready_timeout_s`` for ``replicas`` ready pods of the current template; False on timeout."""
        deadline = time.monotonic() + self.settings.ready_timeout_s
        while True:
            if objs.replicas_ready(self._read(name, required=True), replicas):
                return True
            if time.monotonic() >= deadline:
                log.warning("%s: %d ready pod(s) not reached in %.0fs", name, replicas, self.settings.ready_timeout_s)
                return False
            self._sleep(self._poll_s)

    def _wait_rolled_out(self, name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            dep = self._read(name, required=True)
            if objs.rollout_complete(dep):
                return
            if time.monotonic() >= deadline:
                raise KubernetesBackendError(
                    f"{name} did not finish rolling out within {timeout_s:.0f}s; the canary keeps serving. "
                    f"See `kubectl -n {self.settings.namespace} rollout status deploy/{name}`."
                )
            self._sleep(self._poll_s)
