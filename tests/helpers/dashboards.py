"""Evaluate a generated Grafana dashboard's panels against a real Prometheus, the way Grafana would query them.

Each target's expression is sent with the dashboard's variables substituted (``$model_version`` as its All
value, ``$__rate_interval`` as a window of a few scrapes): time-series panels as range queries over the test's
span, stat and table panels as instant queries. A panel is broken when a target returns no series (or only
NaN), when its query type does not fit the panel, or, for a table, when a column it names (the keys of its
``organize`` transformation: label names, ``Value`` or ``Value #<refId>``) is in no row.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import httpx

VALUE_COLUMN = re.compile(r"^Value(?: #(?P<ref>[A-Z]))?$")


@dataclass(frozen=True)
class Answer:
    """One target's result: the label sets of its series and whether any value is a finite number."""

    labels: list[dict[str, str]]
    finite: bool


def substitute(expr: str, variables: dict[str, str]) -> str:
    for name in sorted(variables, key=len, reverse=True):  # $__rate_interval before a shorter $__rate
        expr = expr.replace(f"${{{name}}}", variables[name]).replace(f"${name}", variables[name])
    return expr


def dashboard_variables(board: dict, rate_interval: str) -> dict[str, str]:
    """Every templating variable at its All value (or current value), plus Grafana's built-in intervals."""
    values = {"__rate_interval": rate_interval, "__interval": rate_interval}
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "datasource":
            continue
        values[variable["name"]] = variable.get("allValue") or variable.get("current", {}).get("value", "")
    return values


class PanelChecker:
    """Range queries span ``start`` until now (a series first seen in the last step still counts), step 1 s."""

    def __init__(self, prometheus_url: str, start: float, step: float = 1.0):
        self.client = httpx.Client(base_url=prometheus_url, timeout=10)
        self.start, self.step = start, step

    def close(self) -> None:
        self.client.close()

    def ask(self, expr: str, instant: bool) -> Answer:
        now = time.time()
        if instant:
            response = self.client.get("/api/v1/query", params={"query": expr, "time": now})
        else:
            params = {"query": expr, "start": self.start, "end": now, "step": self.step}
            response = self.client.get("/api/v1/query_range", params=params)
        body = response.json()
        if body.get("status") != "success":
            raise ValueError(f"{expr}: {body.get('error', response.text)}")
        result = body["data"]["result"]
        values = [r["value"][1] for r in result] if instant else [v for r in result for _, v in r["values"]]
        finite = any(math.isfinite(float(v)) for v in values)
        return Answer([r["metric"] for r in result], finite)

    def problems(self, board: dict, rate_interval: str = "15s") -> list[str]:
        """Everything wrong with the dashboard's panels, one line per problem (empty: every panel shows data)."""
        variables = dashboard_variables(board, rate_interval)
        found: list[str] = []
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            found += [f"{board['title']} / {panel['title']}: {p}" for p in self.panel_problems(panel, variables)]
        return found

    def panel_problems(self, panel: dict, variables: dict[str, str]) -> list[str]:
        targets = panel.get("targets", [])
        if not targets:
            return ["no targets"]
        kind = panel["type"]
        problems: list[str] = []
        answers: dict[str, Answer] = {}
        for target in targets:
            ref, instant = target["refId"], bool(target.get("instant"))
            if kind == "timeseries" and instant:
                problems.append(f"{ref}: a time series panel needs a range query")
            if kind in ("stat", "table") and not instant:
                problems.append(f"{ref}: a {kind} panel needs an instant query")
            if kind == "table" and target.get("format") != "table":
                problems.append(f"{ref}: a table panel needs format=table (else Grafana shows Time/Value rows)")
            try:
                answer = answers[ref] = self.ask(substitute(target["expr"], variables), instant)
            except ValueError as exc:
                problems.append(f"{ref}: query failed: {exc}")
                continue
            if not answer.labels:
                problems.append(f"{ref}: no series for {substitute(target['expr'], variables)}")
            elif not answer.finite:
                problems.append(f"{ref}: only NaN/Inf for {substitute(target['expr'], variables)}")
        if kind == "table":
            problems += self.column_problems(panel, answers)
        return problems

    @staticmethod
    def column_problems(panel: dict, answers: dict[str, Answer]) -> list[str]:
        organize = [t for t in panel.get("transformations", []) if t["id"] == "organize"]
        if not organize or not organize[0]["options"].get("indexByName"):
            return ["a table panel must name its columns (organize transformation, indexByName)"]
        labels = {name for answer in answers.values() for series in answer.labels for name in series}
        problems = []
        for column in organize[0]["options"]["indexByName"]:
            value = VALUE_COLUMN.match(column)
            if value is None:
                if column not in labels:
                    problems.append(f"column {column!r} is in no row (labels: {sorted(labels)})")
            elif value["ref"] is None and len(answers) != 1:
                problems.append(f"column {column!r} is ambiguous with {len(answers)} queries: name it 'Value #<ref>'")
            elif value["ref"] is not None and not answers.get(value["ref"], Answer([], False)).labels:
                problems.append(f"column {column!r}: query {value['ref']} returned nothing")
        return problems
