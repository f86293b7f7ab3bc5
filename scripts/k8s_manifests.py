"""Generated parts of ``k8s/``: the PrometheusRule built from ``monitoring/prometheus/rules/*.yml``, and the
Argo Rollouts overlay's canary strategy and AnalysisTemplates built from params.yaml's ``rollout:`` section.

The alert rules and the rollout steps each have one source of truth (the files the local Prometheus loads and
promtool tests; the params the local controller runs with); the Kubernetes copies are generated from them, and
a unit test fails when they drift apart.

    python scripts/k8s_manifests.py          # rewrite the generated files
    python scripts/k8s_manifests.py --check  # exit 1 if any is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from ticketops.config import RolloutParams, load_params
from ticketops.rollout.argo.templates import analysis_templates, strategy_patch
from ticketops.settings import project_root

RULES_DIR = Path("monitoring/prometheus/rules")
PROMETHEUS_RULE = Path("k8s/base/prometheusrule.yaml")
ARGO_OVERLAY = Path("k8s/overlays/argo-rollouts")
ANALYSIS_TEMPLATES = ARGO_OVERLAY / "analysistemplates.yaml"
ROLLOUT_STRATEGY = ARGO_OVERLAY / "rollout-strategy.yaml"
HEADER = (
    "# GENERATED from monitoring/prometheus/rules/*.yml by `python scripts/k8s_manifests.py`: edit those files,\n"
    "# then regenerate (tests/unit/scripts/test_k8s_manifests.py fails while this copy is out of date).\n"
)
ROLLOUT_HEADER = (
    "# GENERATED from params.yaml (rollout:) by `python scripts/k8s_manifests.py` (src/ticketops/rollout/argo/\n"
    "# templates.py): edit those, then regenerate (tests/unit/scripts/test_k8s_manifests.py fails while this copy\n"
    "# is out of date).\n"
)


def rule_files(rules_dir: Path) -> list[Path]:
    """The Prometheus rule files, in a stable order (file name)."""
    return sorted([*rules_dir.glob("*.yml"), *rules_dir.glob("*.yaml")], key=lambda p: p.name)


def prometheus_rule(rules_dir: Path, name: str = "ticketops") -> dict[str, Any]:
    """A ``monitoring.coreos.com/v1`` PrometheusRule holding every group of every rule file."""
    groups: list[dict[str, Any]] = []
    for path in rule_files(rules_dir):
        content = yaml.safe_load(path.read_text()) or {}
        groups.extend(content.get("groups") or [])
    names = [group.get("name") for group in groups]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"rule group names must be unique across {rules_dir}: {duplicates}")
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"role": "alert-rules"}},
        "spec": {"groups": groups},
    }


def render_prometheus_rule(rules_dir: Path) -> str:
    """The file content of ``k8s/base/prometheusrule.yaml``."""
    body = yaml.safe_dump(prometheus_rule(rules_dir), sort_keys=False, allow_unicode=True, width=120)
    return HEADER + body


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)


def render_analysis_templates(params: RolloutParams) -> str:
    """The file content of the overlay's ``analysistemplates.yaml``: one AnalysisTemplate per check."""
    return ROLLOUT_HEADER + "---\n".join(_dump(template) for template in analysis_templates(params))


def render_rollout_strategy(params: RolloutParams) -> str:
    """The file content of the overlay's ``rollout-strategy.yaml``: the Rollout's canary strategy (a patch)."""
    return ROLLOUT_HEADER + _dump(strategy_patch(params))


def generated(root: Path) -> dict[Path, str]:
    """Every generated file (relative to ``root``) and what it must contain."""
    params = load_params(root / "params.yaml").rollout
    return {
        PROMETHEUS_RULE: render_prometheus_rule(root / RULES_DIR),
        ANALYSIS_TEMPLATES: render_analysis_templates(params),
        ROLLOUT_STRATEGY: render_rollout_strategy(params),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    args = parser.parse_args(argv)
    root = project_root()
    stale = []
    for path, wanted in generated(root).items():
        target = root / path
        current = target.read_text() if target.exists() else None
        if current == wanted:
            continue
        stale.append(path)
        if not args.check:
            target.write_text(wanted)
            print(f"wrote {path}")
    if args.check and stale:
        names = ", ".join(str(p) for p in stale)
        print(f"{names} out of date: run python scripts/k8s_manifests.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
