"""Kubernetes with Argo Rollouts: Argo moves traffic; ticketops pins versions, judges and records."""
