"""The Evidently UI workspace: one project for the classifier, its dashboard panels, and every window's snapshot.

The monitor adds each window's snapshot here; ``ticketops dashboard`` serves the workspace to people. Panels
read metric values from the snapshots, so they need no extra storage and no extra computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROJECT_DESCRIPTION = (
    "Support-ticket classifier in production: every monitor window compared with the champion's reference sample."
)
# Panel titles are what the browser test looks for.
PANEL_TITLES = (
    "Ticket volume by predicted category",
    "Drift score per signal: distances and AUCs (higher = more drift)",
    "Drift score per signal: p-values (lower = more drift)",
    "Review rate",
    "Live accuracy (feedback-labelled tickets)",
    "Served model version (tickets per version)",
    "Tickets per window",
)
_DRIFT_COLUMNS = {"text": "text", "prediction": "predicted", "confidence": "confidence", "review_rate": "review"}


def _panels() -> list[Any]:
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import bar_plot_panel, counter_panel, line_plot_panel, text_panel

    def drift(signal: str) -> PanelMetric:
        return PanelMetric(
            legend=signal, metric="evidently:metric_v2:ValueDrift", metric_labels={"column": _DRIFT_COLUMNS[signal]}
        )

    volume, scores, pvalues, review, accuracy, versions, tickets = PANEL_TITLES
    return [
        text_panel(title="Ticket classifier: production drift", description=PROJECT_DESCRIPTION),
        counter_panel(
            title=tickets,
            size="half",
            values=[PanelMetric(legend="tickets", metric="evidently:metric_v2:RowCount")],
            aggregation="last",
        ),
        bar_plot_panel(
            title=versions,
            size="half",
            stacked=True,
            values=[
                PanelMetric(
                    legend="v{{label}}",
                    metric="evidently:metric_v2:UniqueValueCount",
                    metric_labels={"column": "model_version", "value_type": "count"},
                )
            ],
        ),
        bar_plot_panel(
            title=volume,
            stacked=True,
            values=[
                PanelMetric(
                    legend="{{label}}",
                    metric="evidently:metric_v2:UniqueValueCount",
                    metric_labels={"column": "predicted", "value_type": "count"},
                )
            ],
        ),
        line_plot_panel(
            title=scores,
            size="half",
            values=[
                drift("text"),
                PanelMetric(legend="embedding (MMD²)", metric="evidently:metric_v2:EmbeddingMMDDrift"),
            ],
        ),
        line_plot_panel(
            title=pvalues,
            size="half",
            values=[drift("prediction"), drift("confidence"), drift("review_rate")],
        ),
        line_plot_panel(
            title=review,
            size="half",
            values=[
                PanelMetric(
                    legend="share of tickets sent to review",
                    metric="evidently:metric_v2:CategoryCount",
                    metric_labels={"column": "review", "value_type": "share"},
                )
            ],
        ),
        line_plot_panel(
            title=accuracy,
            size="half",
            values=[
                PanelMetric(
                    legend="accuracy", metric="evidently:metric_v2:MeanValue", metric_labels={"column": "correct"}
                )
            ],
        ),
    ]


def open_workspace(path: Path):
    """The local workspace at ``path`` (created if missing)."""
    from evidently.ui.workspace import Workspace

    path.mkdir(parents=True, exist_ok=True)
    return Workspace(str(path))


def ensure_project(workspace, name: str):
    """The classifier's project, created with its dashboard the first time."""
    for project in workspace.search_project(name):
        return project
    project = workspace.create_project(name, description=PROJECT_DESCRIPTION)
    for panel in _panels():
        project.dashboard.add_panel(panel)
    return project


def add_window(workspace, project, snapshot: Any, name: str) -> str:
    """Store one window's snapshot in the project; returns the snapshot id."""
    return str(workspace.add_run(project.id, snapshot, name=name).id)
