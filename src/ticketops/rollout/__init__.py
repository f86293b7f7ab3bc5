"""Canary rollouts: the controller, PromQL analysis, and backends (local processes, Kubernetes)."""
