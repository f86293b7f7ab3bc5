"""The operations dashboard (SREs): traffic, errors, latency, canary weight, replicas, CPU and the drift monitor.

Raw service metrics with ``$__rate_interval``: an SRE reads them live and zooms in, where recording rules'
fixed windows would smooth away what just happened.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from ticketops.monitoring.grafana.audit_annotations import audit_datasource_variable, rollout_decisions
from ticketops.monitoring.grafana.common import annotations, datasource_variable, served_models_table
from ticketops.monitoring.grafana.panels import row, stat_panel, thresholds, timeseries_panel

UID = "ticketops-operations"
ROUTES = 'route=~"/classify|/feedback"'


def _rate(selector: str, by: str = "track") -> str:
    return f"sum by ({by}) (rate(ticketops_requests_total{{{selector}}}[$__rate_interval]))"


def _latency(quantile: float) -> str:
    return (
        f"histogram_quantile({quantile}, sum by (le, track) "
        '(rate(ticketops_request_latency_seconds_bucket{route="/classify"}[$__rate_interval])))'
    )


def operations_dashboard() -> dash.Dashboard:
    errors = _rate(f'{ROUTES}, status=~"5.."')
    # No 5xx series exists until the first error: "or 0 * all requests" shows a real 0 rather than no data.
    error_ratio = f"({errors} or 0 * {_rate(ROUTES)}) / {_rate(ROUTES)}"
    board = (
        dash.Dashboard("ticketops: operations")
        .uid(UID)
        .description("Serving and rollout health for SREs: traffic, errors, latency, canary weight, drift monitor.")
        .tags(["ticketops", "sre"])
        .timezone("utc")
        .refresh("30s")
        .time("now-6h", "now")
        .editable()
        .with_variable(datasource_variable())
        .with_variable(audit_datasource_variable())
        .annotations([*annotations(), rollout_decisions()])
        .with_row(row("Traffic"))
        .with_panel(
            timeseries_panel(
                "Requests per second",
                "/classify and /feedback requests per second, per track (every status).",
                [(_rate(ROUTES), "{{track}}")],
                unit="reqps",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "5xx error ratio",
                "Share of /classify and /feedback requests answered with a 5xx (TicketopsErrorRateHigh: 5%).",
                [(error_ratio, "{{track}}")],
                unit="percentunit",
                width=8,
                soft_max=0.1,
            )
        )
        .with_panel(
            timeseries_panel(
                "/classify latency",
                "p50 and p99 from the first byte in to the last byte out (TicketopsLatencyHigh: p99 above 1 s).",
                [(_latency(0.5), "p50 {{track}}"), (_latency(0.99), "p99 {{track}}")],
                unit="s",
                width=8,
            )
        )
        .with_row(row("Rollout"))
        .with_panel(
            timeseries_panel(
                "Canary weight",
                "Percent of traffic the local splitter sends to the canary; steps, promotion (back to 0 with a "
                "new stable) and rollback show as annotations too.",
                [("max(ticketops_splitter_canary_weight)", "canary weight")],
                unit="percent",
                width=8,
                soft_max=100,
            )
        )
        .with_panel(
            timeseries_panel(
                "Tickets classified per track and version",
                "Tickets per second each track classifies, by the model version it serves.",
                [
                    (
                        "sum by (track, model_version) (rate(ticketops_predictions_total[$__rate_interval]))",
                        "v{{model_version}} {{track}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
        .with_panel(
            stat_panel(
                "Ready replicas",
                "Replicas whose model is verified, loaded and warm, per track.",
                "sum by (track) (ticketops_ready)",
                legend="{{track}}",
                width=8,
                height=8,
            )
        )
        .with_panel(served_models_table(width=12))
        .with_panel(
            timeseries_panel(
                "CPU cores used per replica",
                "The serving worker's own CPU time per second (ticketops_process_cpu_seconds_total): the process "
                "that runs the model.",
                [
                    (
                        "sum by (track, instance) (rate(ticketops_process_cpu_seconds_total[$__rate_interval]))",
                        "{{track}} {{instance}}",
                    )
                ],
                unit="short",
                width=12,
                height=6,
            )
        )
        .with_row(row("Drift monitor"))
        .with_panel(
            stat_panel(
                "Drift verdict (latest window)",
                "The monitor's verdict over all signals: drift in any of them means retraining is triggered.",
                'max(ticketops_drift_detected{signal="overall"})',
                value_texts={"0": ("no drift", "green"), "1": ("drift", "red")},
                width=6,
            )
        )
        .with_panel(
            stat_panel(
                "Seconds since the last verdict",
                "TicketopsMonitorStale fires above 900 s.",
                "time() - max(ticketops_monitor_last_success_timestamp_seconds)",
                unit="s",
                steps=thresholds((None, "green"), (600, "orange"), (900, "red")),
                width=6,
            )
        )
        .with_panel(
            stat_panel(
                "Tickets in the latest window",
                "Tickets the latest drift check judged (its window).",
                "max(ticketops_drift_window_size)",
                legend="tickets",
                width=6,
            )
        )
        .with_panel(
            stat_panel(
                "Prediction-log rows dropped (1h)",
                "Rows the service could not store (queue full or write error); drift checks miss them.",
                "sum(increase(ticketops_prediction_log_dropped_total[1h]))",
                steps=thresholds((None, "green"), (1, "red")),
                width=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Drift score per signal: distances and AUCs (higher = drift)",
                "Dashed: the threshold each score is judged against.",
                [
                    ('ticketops_drift_score{signal=~"text|embedding|live_accuracy"}', "{{signal}}"),
                    ('ticketops_drift_threshold{signal=~"text|embedding|live_accuracy"}', "{{signal}} threshold"),
                ],
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Drift score per signal: p-values (lower = drift)",
                "Dashed: the significance level each p-value is judged against.",
                [
                    ('ticketops_drift_score{signal=~"prediction|confidence|review_rate"}', "{{signal}}"),
                    (
                        'ticketops_drift_threshold{signal=~"prediction|confidence|review_rate"}',
                        "{{signal}} threshold",
                    ),
                ],
                width=12,
            )
        )
    )
    return board
