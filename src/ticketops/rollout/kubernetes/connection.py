"""How the Kubernetes backend reaches the cluster (a kubeconfig or the pod's service account), and its error."""

from __future__ import annotations

import os
from typing import Any

from ticketops.rollout.backend import BackendError
from ticketops.settings import KubernetesSettings


class KubernetesBackendError(BackendError):
    """The cluster is not in a state the backend can act on (missing objects, a rollout that did not finish)."""


def api_client_from_settings(settings: KubernetesSettings) -> Any:
    """An ``ApiClient`` for the configured cluster: a kubeconfig file/context, or the pod's service account
    (``in_cluster``, or automatically inside a pod when there is no kubeconfig)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    def in_cluster() -> Any:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)

    if settings.in_cluster:
        return in_cluster()
    # $KUBECONFIG is read here, not when the kubernetes package was imported (it may be set after that).
    config_file = settings.kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        return config.new_client_from_config(config_file=config_file, context=settings.context)
    except ConfigException as exc:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not config_file:
            return in_cluster()
        raise KubernetesBackendError(
            f"no usable kubeconfig ({exc}): set KUBECONFIG or TICKETOPS_K8S_KUBECONFIG "
            "(and TICKETOPS_K8S_CONTEXT), or TICKETOPS_K8S_IN_CLUSTER=true inside the cluster"
        ) from exc
