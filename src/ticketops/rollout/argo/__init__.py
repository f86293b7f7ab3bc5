"""The Argo Rollouts backend: Argo moves traffic; ticketops judges (analysis service) and records (reconciler)."""
