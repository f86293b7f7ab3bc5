"""Kubernetes with Argo Rollouts: Argo moves traffic; ticketops pins versions, judges (analysis service) and
records (the reconciler makes the registry follow what the cluster serves)."""
