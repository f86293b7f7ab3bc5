"""The business dashboard (stakeholders): volume per intent, automation, the review queue, live accuracy,
drift, the served model and what 1,000 tickets cost, per model version.

Every KPI panel reads a recording rule of monitoring/prometheus/rules/kpi.yml, so the dashboard, alerting and
anyone querying Prometheus share one definition of each number.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from ticketops.monitoring.grafana.common import (
    annotations,
    datasource_variable,
    model_version_variable,
    served_models_table,
)
from ticketops.monitoring.grafana.panels import row, stat_panel, table_panel, thresholds, timeseries_panel

UID = "ticketops-business"
VERSION = 'model_version=~"$model_version"'
HOUR = 3600


def business_dashboard() -> dash.Dashboard:
    board = (
        dash.Dashboard("ticketops: business")
        .uid(UID)
        .description(
            "What the classifier does for the support team: tickets per intent, automation, review queue, "
            "accuracy on agents' labels, drift, and cost per 1,000 tickets, per model version."
        )
        .tags(["ticketops", "business"])
        .timezone("utc")
        .refresh("1m")
        .time("now-24h", "now")
        .editable()
        .with_variable(datasource_variable())
        .with_variable(model_version_variable())
        .annotations(annotations())
        .with_row(row("Volume and automation"))
        .with_panel(
            stat_panel(
                "Tickets per hour",
                "Tickets classified per hour (5-minute rate), all tracks of the selected versions.",
                f"sum(ticketops:tickets:rate5m{{{VERSION}}}) * {HOUR}",
                unit="short",
                width=6,
                decimals=0,
            )
        )
        .with_panel(
            stat_panel(
                "Automation rate",
                "Share of tickets answered without a person (not routed to review), last 15 minutes.",
                f"ticketops:automation_rate:ratio_rate15m{{{VERSION}}}",
                legend="v{{model_version}} {{track}}",
                unit="percentunit",
                steps=thresholds((None, "red"), (0.7, "orange"), (0.85, "green")),
                width=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Tickets per intent (per hour)",
                "Predicted intent of incoming tickets; a new intent the model never saw shows up as others growing.",
                [(f"sum by (label) (ticketops:tickets_by_intent:rate5m{{{VERSION}}}) * {HOUR}", "{{label}}")],
                unit="short",
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Automation rate per version",
                "1 − review rate; the review threshold trades automation against accuracy.",
                [(f"ticketops:automation_rate:ratio_rate15m{{{VERSION}}}", "v{{model_version}} {{track}}")],
                unit="percentunit",
                width=24,
                height=6,
                soft_max=1,
            )
        )
        .with_row(row("Review queue"))
        .with_panel(
            stat_panel(
                "Review backlog",
                "Tickets flagged for review that no agent has labelled yet.",
                "max(ticketops_review_backlog)",
                width=6,
            )
        )
        .with_panel(
            stat_panel(
                "Oldest ticket waiting",
                "How long the oldest ticket in the review queue has waited.",
                "max(ticketops_review_oldest_age_seconds)",
                unit="s",
                steps=thresholds((None, "green"), (4 * HOUR, "orange"), (24 * HOUR, "red")),
                width=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Time from flag to label",
                "How long flagged tickets waited for an agent's label (median and 90th percentile, last hour).",
                [
                    ("ticketops:review_wait_seconds:p50_1h", "median"),
                    ("ticketops:review_wait_seconds:p90_1h", "90th percentile"),
                ],
                unit="s",
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Review backlog over time",
                "It grows when traffic drifts (the model is unsure more often) or agents fall behind.",
                [("max(ticketops_review_backlog)", "backlog")],
                width=24,
                height=6,
            )
        )
        .with_row(row("Quality"))
        .with_panel(
            timeseries_panel(
                "Live accuracy (agents' labels, last hour)",
                "Share of agent-labelled tickets the model got right, per version and track.",
                [(f"ticketops:live_accuracy:ratio_1h{{{VERSION}}}", "v{{model_version}} {{track}}")],
                unit="percentunit",
                width=12,
                soft_max=1,
            )
        )
        .with_panel(
            table_panel(
                "Live accuracy per intent",
                "Per true intent, over the last hour's labels: where the model is weakest.",
                [f"ticketops:live_accuracy_by_intent:ratio_1h{{{VERSION}}}"],
                {"true_label": "Intent", "model_version": "Version", "track": "Track", "Value": "Accuracy"},
                width=12,
                height=8,
                units={"Value": "percentunit"},
            )
        )
        .with_panel(
            table_panel(
                "Drift status per signal",
                "The monitor's latest verdict per signal (1 = drift) and whether the signal had enough data.",
                [
                    'max by (signal) (ticketops_drift_detected{signal!="overall"})',
                    'max by (signal) (ticketops_drift_enough_data{signal!="overall"})',
                ],
                {"signal": "Signal", "Value #A": "Drift", "Value #B": "Enough data"},
                width=12,
                height=8,
            )
        )
        .with_panel(served_models_table(width=12))
        .with_row(row("Cost"))
        .with_panel(
            timeseries_panel(
                "CPU-seconds per 1,000 tickets",
                "The serving worker's own CPU time per 1,000 tickets it classified, stable and canary apart.",
                [(f"ticketops:cpu_seconds_per_1k_tickets:rate5m{{{VERSION}}}", "v{{model_version}} {{track}}")],
                unit="s",
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Cost per 1,000 tickets",
                "CPU-seconds per 1,000 tickets at the replicas' TICKETOPS_CPU_HOUR_PRICE.",
                [(f"ticketops:cost_per_1k_tickets:rate5m{{{VERSION}}}", "v{{model_version}} {{track}} ({{currency}})")],
                unit="short",
                width=12,
            )
        )
    )
    return board
