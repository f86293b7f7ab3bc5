"""Small panel builders shared by both dashboards, so every panel is built (and later checked) the same way.

Conventions the every-panel test relies on (tests/integration/test_dashboards_prometheus.py):
time-series panels use range queries; stat and table panels instant ones; a table's columns are the keys of
its ``organize`` transformation's ``indexByName`` (label names, or ``Value #<refId>`` for a query's value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
REF_IDS = "ABCDEFGH"


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False, as_table: bool = False):
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if as_table:
        q = q.format(PromQueryFormat.TABLE)
    return q


def _legend() -> common_builder.VizLegendOptions:
    return (
        common_builder.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    """Colour steps: ``(None, "green")`` is the base, then ``(value, colour)`` from ``value`` up."""
    return (
        dash.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def timeseries_panel(
    title: str,
    description: str,
    targets: Sequence[tuple[str, str]],
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    soft_max: float | None = None,
) -> timeseries.Panel:
    """One range query per (expr, legend) in ``targets``."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .line_width(2)
        .fill_opacity(10)
        .legend(_legend())
    )
    if soft_max is not None:
        panel = panel.axis_soft_min(0).axis_soft_max(soft_max)
    for ref, (expr, legend) in zip(REF_IDS, targets, strict=False):
        panel = panel.with_target(query(expr, legend, ref))
    return panel


def stat_panel(
    title: str,
    description: str,
    expr: str,
    legend: str = "",
    unit: str = "short",
    width: int = 6,
    height: int = 5,
    steps: dash.ThresholdsConfig | None = None,
    value_texts: Mapping[str, tuple[str, str]] | None = None,
    decimals: int | None = None,
) -> stat.Panel:
    """The latest value (instant query); ``value_texts`` maps a value to (text, colour), e.g. 1 → drift, red."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .color_mode(common.BigValueColorMode.BACKGROUND if steps or value_texts else common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .with_target(query(expr, legend, instant=True))
    )
    if steps is not None:
        panel = panel.thresholds(steps)
    if decimals is not None:
        panel = panel.decimals(decimals)
    if value_texts:
        options = {value: ValueMappingResult(text=text, color=color) for value, (text, color) in value_texts.items()}
        panel = panel.mappings([ValueMap(options=options)])
    return panel


def table_panel(
    title: str,
    description: str,
    exprs: Sequence[str],
    columns: Mapping[str, str],
    width: int = 12,
    height: int = 6,
    units: Mapping[str, str] | None = None,
) -> table.Panel:
    """Instant queries in table format, merged on their common labels, showing ``columns`` ({field: header}).

    Without ``format: table`` + instant, Grafana shows a Prometheus query as Time/Value rows per series.
    Fields not named are hidden; a query's value is the field ``Value #<refId>`` once there are several.
    """
    panel = table.Panel().title(title).description(description).datasource(DATASOURCE).span(width).height(height)
    for ref, expr in zip(REF_IDS, exprs, strict=False):
        panel = panel.with_target(query(expr, ref=ref, instant=True, as_table=True))
    if len(exprs) > 1:
        panel = panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    panel = panel.with_transformation(
        DataTransformerConfig(
            id_val="organize",
            options={
                "excludeByName": {},
                "includeByName": {field: True for field in columns},
                "indexByName": {field: i for i, field in enumerate(columns)},
                "renameByName": dict(columns),
            },
        )
    )
    for field, unit in (units or {}).items():
        panel = panel.override_by_name(field, [DynamicConfigValue(id_val="unit", value=unit)])
    return panel


def row(title: str) -> dash.Row:
    return dash.Row(title)
