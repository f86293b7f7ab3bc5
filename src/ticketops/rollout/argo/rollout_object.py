"""The Rollout ``ticketops`` through the official kubernetes client: read what it serves, pin its template, and
promote / abort it as ``kubectl argo rollouts`` does.

Rollouts are custom resources: the API server applies JSON merge patches to them (no strategic merge), which
replace lists, so the template is re-written read-modify-write with ``resourceVersion`` as the precondition.
Every write names ``field_manager``, so managedFields (and the history built from them) say it was ticketops.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ticketops.rollout.argo.patches import ABORT_PATCH, pin_patch, promote_patches
from ticketops.rollout.argo.status import RolloutView, read_view
from ticketops.rollout.kubernetes.connection import KubernetesBackendError, api_client_from_settings
from ticketops.settings import ArgoSettings, KubernetesSettings

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "rollouts"
MERGE_PATCH = "application/merge-patch+json"
CONFLICT_RETRIES = 5


class ArgoRollout:
    """One Rollout in one namespace, and the ReplicaSets Argo made for it."""

    def __init__(
        self,
        argo: ArgoSettings | None = None,
        k8s: KubernetesSettings | None = None,
        api_client: Any | None = None,
        field_manager: str | None = None,
    ) -> None:
        from kubernetes import client

        self.argo = argo or ArgoSettings()
        self.k8s = k8s or KubernetesSettings()
        self.api_client = api_client or api_client_from_settings(self.k8s)
        self.field_manager = field_manager or self.argo.field_manager
        self._custom = client.CustomObjectsApi(self.api_client)
        self._apps = client.AppsV1Api(self.api_client)

    @property
    def name(self) -> str:
        return self.argo.rollout

    @property
    def namespace(self) -> str:
        return self.k8s.namespace

    def _opts(self) -> dict[str, Any]:
        return {"_request_timeout": self.k8s.request_timeout_s}

    # --- reading ---------------------------------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        """The Rollout as the API server returned it; KubernetesBackendError when it does not exist."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self._custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, self.name, **self._opts()
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            raise KubernetesBackendError(
                f"Rollout {self.namespace}/{self.name} not found: apply k8s/overlays/argo-rollouts first "
                "(kubectl apply -k k8s/overlays/argo-rollouts)"
            ) from exc

    def replicasets(self, rollout: dict[str, Any]) -> list[dict[str, Any]]:
        """The namespace's ReplicaSets matching the Rollout's selector (ownership is checked by read_view)."""
        labels = ((rollout.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        response = self._apps.list_namespaced_replica_set(
            self.namespace, label_selector=selector or None, _preload_content=False, **self._opts()
        )
        items = json.loads(response.data)["items"]
        return [
            rs
            for rs in items
            if all(((rs.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items())
        ]

    def view(self, rollout: dict[str, Any] | None = None) -> RolloutView:
        rollout = rollout or self.read()
        return read_view(rollout, self.replicasets(rollout), self.k8s.container)

    # --- writing ---------------------------------------------------------------------------------------------

    def _patch(self, body: dict[str, Any], status: bool = False) -> dict[str, Any]:
        send = (
            self._custom.patch_namespaced_custom_object_status
            if status
            else self._custom.patch_namespaced_custom_object
        )
        return send(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            self.name,
            body,
            field_manager=self.field_manager,
            _content_type=MERGE_PATCH,
            **self._opts(),
        )

    def pin(self, version: str, model_uri: str, stable_version: str | None) -> dict[str, Any]:
        """Re-template the Rollout to ``model_uri`` (label, env, stable-version annotation); retried on conflict."""
        from kubernetes.client.exceptions import ApiException

        for attempt in range(CONFLICT_RETRIES):
            rollout = self.read()
            body = pin_patch(
                rollout,
                container=self.k8s.container,
                version=version,
                model_uri=model_uri,
                stable_version=stable_version,
            )
            try:
                return self._patch(body)
            except ApiException as exc:
                if exc.status != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise
                log.info("Rollout %s changed while being re-templated; reading it again", self.name)
        raise AssertionError("unreachable")

    def _patch_status_or_unified(self, status_patch: dict | None, spec_patch: dict | None, unified: dict | None):
        """The plugin's order: status subresource first; a cluster without it (404) gets the unified patch."""
        from kubernetes.client.exceptions import ApiException

        if status_patch is not None:
            try:
                self._patch(status_patch, status=True)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                spec_patch = unified
        if spec_patch is not None:
            self._patch(spec_patch)

    def promote(self, full: bool = False) -> None:
        """``kubectl argo rollouts promote [--full]``: the next step, or every remaining step skipped."""
        spec_patch, status_patch, unified = promote_patches(self.read(), full)
        self._patch_status_or_unified(status_patch, spec_patch, unified)

    def abort(self) -> None:
        """``kubectl argo rollouts abort``: stable takes all traffic back; the template still names the canary."""
        self._patch_status_or_unified(ABORT_PATCH, None, ABORT_PATCH)

    def annotate(self, annotations: dict[str, str]) -> None:
        """Metadata only (no new pods): e.g. the stable-version annotation the AnalysisTemplates read."""
        self._patch({"metadata": {"annotations": annotations}})
