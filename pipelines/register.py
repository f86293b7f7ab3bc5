"""DVC stage ``register``: log the run to MLflow, register a version with lineage, apply the promotion gate."""

import argparse
from pathlib import Path

from ticketops.config import load_params
from ticketops.fileio import read_csv, read_json, write_json
from ticketops.registry.register import register_candidate, registration_summary
from ticketops.registry.store import client


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="the trained model folder")
    parser.add_argument("--evaluation-dir", type=Path, required=True, help="the evaluate stage's serving files")
    parser.add_argument("--metrics", type=Path, required=True, help="the evaluate stage's metrics (JSON)")
    parser.add_argument("--test", type=Path, required=True, help="test split (CSV): the champion is re-scored on it")
    parser.add_argument("--dataset", type=Path, required=True, help="the ingested dataset (its DVC md5 is lineage)")
    parser.add_argument("--plots-dir", type=Path, required=True, help="plots logged with the run")
    parser.add_argument("--model-card", type=Path, required=True, help="the model card logged with the run")
    parser.add_argument("--out", type=Path, required=True, help="output: what was registered (JSON)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    params = load_params()
    result = register_candidate(
        client(),
        params,
        model_dir=args.model_dir,
        evaluation_dir=args.evaluation_dir,
        metrics=read_json(args.metrics),
        test=read_csv(args.test),
        dataset_path=args.dataset,
        plots_dir=args.plots_dir,
        model_card=args.model_card,
    )
    write_json(args.out, registration_summary(result))
    name = params.registration.model_name
    moved = ", ".join(f"@{a}" for a in result.aliases) or "no alias moved"
    print(
        f"register: {name} v{result.version} ({moved}); "
        f"gate {'passed' if result.gate.passed else 'failed'}: {result.gate.reason}"
    )


if __name__ == "__main__":
    main()
