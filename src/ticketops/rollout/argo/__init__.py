"""Canaries on Kubernetes driven by Argo Rollouts, judged by ticketops: manifests, analysis, reconciling."""
