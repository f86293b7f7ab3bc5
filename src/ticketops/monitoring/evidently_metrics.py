"""An Evidently metric for embedding drift that runs Evidently's own MMD method without the t-SNE picture.

Evidently's ``EmbeddingsDrift`` computes the drift score in well under a second but then fits a t-SNE map of
up to 2,500 points for its plot: about 8 s per 1,000-ticket window on two cores, alone more than a window's
whole time budget. This metric calls the same ``MMDDriftMethod`` and shows the score as a counter, so it lands
in snapshots, HTML reports and UI dashboards like any other Evidently metric.

A process that loads snapshots holding this metric (the Evidently UI) must import this module first
(``ticketops dashboard`` does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from evidently.core.metric_types import SingleValue, SingleValueCalculation, SingleValueMetric
from evidently.legacy.metrics.data_drift.embedding_drift_methods import MMDDriftMethod
from evidently.legacy.renderers.html_widgets import CounterData, counter

if TYPE_CHECKING:
    from evidently.core.datasets import Dataset
    from evidently.core.report import Context


class EmbeddingMMDDrift(SingleValueMetric):
    """MMD² between the reference's and the current window's embeddings (value), drift above ``threshold``."""

    embeddings_name: str
    threshold: float


class EmbeddingMMDDriftCalculation(SingleValueCalculation[EmbeddingMMDDrift]):
    def calculate(self, context: Context, current_data: Dataset, reference_data: Dataset | None) -> SingleValue:
        if reference_data is None:
            raise ValueError("embedding drift needs reference data")
        columns = (current_data.data_definition.embeddings or {}).get(self.metric.embeddings_name)
        if not columns:
            raise ValueError(f"no embeddings named {self.metric.embeddings_name!r} in the data definition")
        # Rows without a vector (outside the embedded sample) do not take part.
        current = pd.DataFrame(current_data.as_dataframe()[columns].to_numpy()).dropna().reset_index(drop=True)
        reference = pd.DataFrame(reference_data.as_dataframe()[columns].to_numpy()).dropna().reset_index(drop=True)
        score, drifted, _ = MMDDriftMethod(threshold=self.metric.threshold)(current, reference)
        result = self.result(float(score))
        verdict = "detected" if drifted else "not detected"
        result.widget = [
            counter(
                title=self.display_name(),
                counters=[
                    CounterData(
                        f"Drift {verdict}: MMD² {float(score):.6f} (threshold {self.metric.threshold:.6f}; "
                        f"{len(current)} current, {len(reference)} reference rows)",
                        "Embedding drift",
                    )
                ],
            )
        ]
        return result

    def display_name(self) -> str:
        return f"Embedding drift (MMD): {self.metric.embeddings_name}"
