"""Grafana dashboards as code (grafana-foundation-sdk): operations for SREs, business for stakeholders.

``scripts/grafana_dashboards.py`` writes them to monitoring/grafana/*.json; a unit test checks the committed
files are what this code generates, and an integration test evaluates every panel against a real Prometheus.
"""
