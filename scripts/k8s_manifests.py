"""Generated parts of ``k8s/``: the PrometheusRule built from ``monitoring/prometheus/rules/*.yml``.

The alert rules have one source of truth (the files the local Prometheus loads and promtool tests); the
Kubernetes copy is generated from them, and a unit test fails when the two drift apart.

    python scripts/k8s_manifests.py          # rewrite k8s/base/prometheusrule.yaml
    python scripts/k8s_manifests.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from ticketops.settings import project_root

RULES_DIR = Path("monitoring/prometheus/rules")
PROMETHEUS_RULE = Path("k8s/base/prometheusrule.yaml")
HEADER = (
    "# GENERATED from monitoring/prometheus/rules/*.yml by `python scripts/k8s_manifests.py`: edit those files,\n"
    "# then regenerate (tests/unit/scripts/test_k8s_manifests.py fails while this copy is out of date).\n"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the file is up to date")
    args = parser.parse_args(argv)
    root = project_root()
    wanted = render_prometheus_rule(root / RULES_DIR)
    target = root / PROMETHEUS_RULE
    current = target.read_text() if target.exists() else None
    if args.check:
        if current != wanted:
            print(f"{PROMETHEUS_RULE} is out of date: run python scripts/k8s_manifests.py", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        target.write_text(wanted)
        print(f"wrote {PROMETHEUS_RULE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
