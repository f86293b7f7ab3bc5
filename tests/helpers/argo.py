"""How Argo Rollouts turns a Rollout's analysis and its AnalysisTemplates into the metrics an AnalysisRun runs,
re-stated from its source (utils/analysis/factory.go, utils/analysis/helpers.go, utils/template/template.go)
so the tests can check that every argument resolves without a cluster.

* a Rollout argument's ``fieldRef`` under ``metadata`` is Kubernetes' field path (``metadata.labels['k']``);
  any other path is split at ``.``, ``[`` and ``]`` and must end on a scalar;
* the templates' args are merged (one name, one value), the Rollout's args fill the declared ones only, and
  an argument left without a value fails the run;
* ``{{args.NAME}}`` is replaced in the whole metric; a placeholder with no argument fails the run.
"""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_METADATA = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]|metadata\.(name|namespace|uid)")


class ArgoError(ValueError):
    """What the Argo controller would refuse: the AnalysisRun would not start."""


def field_value(rollout: dict[str, Any], path: str) -> str:
    """A Rollout argument's ``valueFrom.fieldRef`` value, as Argo computes it."""
    if path.startswith("metadata"):
        match = _METADATA.fullmatch(path)
        if match is None:
            raise ArgoError(f"unsupported metadata field path {path!r}")
        if match.group(3):
            return str(rollout["metadata"].get(match.group(3), ""))
        return str((rollout["metadata"].get(match.group(1)) or {}).get(match.group(2), ""))
    node: Any = rollout
    for section in re.split(r"[.\[\]]+", path):
        if not section:
            continue
        if isinstance(node, list):
            if not section.isdigit() or int(section) >= len(node):
                raise ArgoError(f"invalid index {section!r} in {path!r}")
            node = node[int(section)]
        elif isinstance(node, dict):
            node = node.get(section)
        else:
            raise ArgoError(f"invalid path {path!r} in rollout")
    if node is None or isinstance(node, (dict, list)):
        raise ArgoError(f"path {path!r} in rollout must end in a primitive value, got {node!r}")
    return str(node).lower() if isinstance(node, bool) else str(node)


def rollout_args(analysis: dict[str, Any], rollout: dict[str, Any], pod_hash: str = "5d8f7c9b4") -> dict[str, str]:
    """The values a Rollout's ``analysis`` (a step's or the background one) supplies."""
    values = {}
    for arg in analysis.get("args") or []:
        source = arg.get("valueFrom")
        if source is None:
            values[arg["name"]] = str(arg.get("value", ""))
        elif "podTemplateHashValue" in source:
            values[arg["name"]] = pod_hash
        else:
            values[arg["name"]] = field_value(rollout, source["fieldRef"]["fieldPath"])
    return values


def resolved_metrics(
    analysis: dict[str, Any], rollout: dict[str, Any], templates: dict[str, dict[str, Any]], secret: str = "s3cret"
) -> list[dict[str, Any]]:
    """Every metric of the AnalysisRun the Rollout's ``analysis`` would create, with its arguments resolved."""
    declared: dict[str, dict[str, Any]] = {}
    metrics: list[dict[str, Any]] = []
    for ref in analysis["templates"]:
        name = ref["templateName"]
        if name not in templates:
            raise ArgoError(f"AnalysisTemplate {name!r} not found")
        for arg in templates[name]["spec"].get("args") or []:
            previous = declared.get(arg["name"])
            if previous and "value" in previous and "value" in arg and previous["value"] != arg["value"]:
                raise ArgoError(f"argument {arg['name']!r} specified multiple times with different values")
            if previous is None or "value" not in previous:
                declared[arg["name"]] = arg
        metrics += templates[name]["spec"]["metrics"]
    names = [m["name"] for m in metrics]
    if len(set(names)) != len(names):
        raise ArgoError(f"duplicate metric names {names}")
    supplied = rollout_args(analysis, rollout)
    values = {}
    for name, arg in declared.items():
        if name in supplied:
            values[name] = supplied[name]
        elif "value" in arg:
            values[name] = str(arg["value"])
        elif "secretKeyRef" in (arg.get("valueFrom") or {}):
            values[name] = secret
        else:
            raise ArgoError(f'argument "{name}" was not supplied')
    return [_substitute(metric, values) for metric in metrics]


def _substitute(metric: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    def one(match: re.Match[str]) -> str:
        tag = match.group(1)
        if not tag.startswith("args.") or tag.removeprefix("args.") not in values:
            raise ArgoError(f"failed to resolve {{{{{tag}}}}}")
        return json.dumps(values[tag.removeprefix("args.")])[1:-1]

    return json.loads(PLACEHOLDER.sub(one, json.dumps(metric)))


def inline_template_errors(template: dict[str, Any]) -> list[str]:
    """Argo's check of a template used in an analysis step (validation_references.go): resolved with its own
    defaults (a placeholder for the rest), no metric may run indefinitely."""
    values = {a["name"]: str(a["value"]) if "value" in a else "dummy-value" for a in template["spec"].get("args") or []}
    errors = []
    for metric in template["spec"]["metrics"]:
        resolved = _substitute(metric, values)
        if _int(resolved.get("count")) == 0 and resolved.get("interval"):
            errors.append(f"{template['metadata']['name']}: metric {metric['name']} runs indefinitely")
    return errors


def _int(value: Any) -> int:
    """An int-or-string as Argo reads it (a string that is not a number counts as 0)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def metric_errors(metric: dict[str, Any]) -> list[str]:
    """Argo's ValidateMetric rules on one resolved metric."""
    count, failures = _int(metric.get("count")), _int(metric.get("failureLimit", 0))
    successes, inconclusive = _int(metric.get("consecutiveSuccessLimit")), _int(metric.get("inconclusiveLimit"))
    errors = []
    if successes == 0 and failures == -1:
        errors.append("failureLimit and consecutiveSuccessLimit cannot both be disabled")
    if count > 0 and failures >= 0 and count < failures + successes:
        errors.append(f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit")
    if count > 0 and count < inconclusive:
        errors.append("count must be >= inconclusiveLimit")
    if count > 1 and not metric.get("interval"):
        errors.append("interval must be specified when count > 1")
    if len(metric.get("provider") or {}) != 1:
        errors.append("exactly one provider")
    return errors
