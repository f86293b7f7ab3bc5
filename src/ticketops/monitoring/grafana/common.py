"""What both dashboards share: the data-source variable, the model-version variable, the served-model table and
the annotations that put alerts, rollout steps and version changes on every time axis.

Both dashboards mark what Prometheus sees: the splitter's canary weight changing (every rollout step, promotion
and rollback) and a (track, version) pair appearing; the operations dashboard adds the rollout decisions of the
audit trail itself, with their actors (audit_annotations.py).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.dashboard import VariableOption, VariableRefresh, VariableSort

from ticketops.monitoring.grafana.panels import DATASOURCE, table_panel

ALL = ".*"


def datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus")


def model_version_variable() -> dash.QueryVariable:
    """``$model_version``: every version a replica serves or served in the time range; All means any."""
    return (
        dash.QueryVariable("model_version")
        .label("Model version")
        .datasource(DATASOURCE)
        .query({"query": "label_values(ticketops_model_info, model_version)", "refId": "model_version"})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.NUMERICAL_DESC)
        .multi(True)
        .include_all(True)
        .all_value(ALL)
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


class _PrometheusAnnotationModel(models.AnnotationQuery):
    """Grafana's Prometheus annotation fields the SDK's generic model lacks (title template, step)."""

    def __init__(self, title_format: str, step: str):
        super().__init__()
        self.title_format = title_format
        self.step = step

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "titleFormat": self.title_format, "step": self.step}


class PrometheusAnnotation(dash.AnnotationQuery):
    def __init__(self, title_format: str, step: str = "15s"):
        super().__init__()
        self._internal = _PrometheusAnnotationModel(title_format, step)


def annotations() -> list[dash.AnnotationQuery]:
    """Drift alerts, rollout steps (canary weight changes) and new versions on a track, on every time axis."""
    marks = (
        ("Drift alerts", 'ALERTS{alertname="TicketopsDriftDetected", alertstate="firing"}', "red", "drift: {{signal}}"),
        ("Canary weight changes", "changes(ticketops_splitter_canary_weight[1m]) > 0", "orange", "rollout step"),
        (
            "Model version starts",
            "max by (track, model_version) (ticketops_model_info)"
            " unless max by (track, model_version) (ticketops_model_info offset 1m)",
            "blue",
            "v{{model_version}} on {{track}}",
        ),
    )
    return [
        PrometheusAnnotation(title).name(name).datasource(DATASOURCE).enable(True).icon_color(colour).expr(expr)
        for name, expr, colour, title in marks
    ]


def served_models_table(width: int = 12) -> table.Panel:
    """One row per track: the version, its training data hash, family and when the track started it.

    No alias column: rollouts start replicas on a version URI (``models:/NAME/N``), so a replica's alias label
    is empty; which version is champion is the stable track's.
    """
    return table_panel(
        "Served model version",
        "What each track serves now (ticketops_model_info) and since when (the earliest replica start).",
        [
            "max by (track, model_version, family, data_md5) (ticketops_model_info)",
            "ticketops:model_serving_since:timestamp_seconds * 1000",
        ],
        {
            "track": "Track",
            "model_version": "Version",
            "data_md5": "Data hash",
            "family": "Family",
            "Value #B": "Serving since",
        },
        width=width,
        units={"Value #B": "dateTimeAsIso"},
    )
