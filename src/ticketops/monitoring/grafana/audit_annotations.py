"""Rollout decisions on the operations dashboard's time axis, read from the audit trail itself.

The audit trail (``audit_events``) lives in the prediction-log database, PostgreSQL in production, not in
Prometheus; Grafana reads it through a PostgreSQL data source (the ``$audit`` variable). Each rollout start,
step, promotion, rollback, pause and abort, and each alias move, becomes an annotation whose text names the
action, the target and the actor, so an SRE sees who or what moved traffic and why it happened there.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.dashboard import DataSourceRef

AUDIT_DATASOURCE_TYPE = "grafana-postgresql-datasource"
AUDIT_DATASOURCE = DataSourceRef(type_val=AUDIT_DATASOURCE_TYPE, uid="${audit}")

# Grafana's SQL annotation contract: a ``time`` column (epoch milliseconds), ``text`` and ``tags``. The macros
# ``$__unixEpochFrom()`` / ``$__unixEpochTo()`` are the dashboard's time range in epoch seconds, as ``at`` is.
AUDIT_ANNOTATION_SQL = """\
SELECT CAST(at * 1000 AS BIGINT) AS time,
       action || ' ' || target || ' by ' || actor AS text,
       actor AS tags
FROM audit_events
WHERE (action LIKE 'rollout.%' OR action LIKE 'alias.%')
  AND at BETWEEN $__unixEpochFrom() AND $__unixEpochTo()
ORDER BY at"""


def audit_datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable("audit").label("Audit trail (prediction-log database)").type(AUDIT_DATASOURCE_TYPE)


class _SqlAnnotationModel(models.AnnotationQuery):
    """Grafana's SQL annotation fields the SDK's generic model lacks (the raw query and its target)."""

    def __init__(self, sql: str):
        super().__init__()
        self.sql = sql

    def to_json(self) -> dict[str, object]:
        target = {"refId": "Anno", "editorMode": "code", "format": "table", "rawQuery": True, "rawSql": self.sql}
        return {**super().to_json(), "rawQuery": self.sql, "target": target}


class SqlAnnotation(dash.AnnotationQuery):
    def __init__(self, sql: str):
        super().__init__()
        self._internal = _SqlAnnotationModel(sql)


def rollout_decisions() -> dash.AnnotationQuery:
    """Every rollout decision and alias move of the audit trail, with its actor."""
    return (
        SqlAnnotation(AUDIT_ANNOTATION_SQL)
        .name("Rollout decisions (audit trail)")
        .datasource(AUDIT_DATASOURCE)
        .enable(True)
        .icon_color("purple")
    )


def substitute_macros(sql: str, start: float, end: float) -> str:
    """The query as Grafana sends it for the range ``start``..``end`` (epoch seconds): what tests run."""
    return sql.replace("$__unixEpochFrom()", repr(float(start))).replace("$__unixEpochTo()", repr(float(end)))
