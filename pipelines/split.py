"""DVC stage ``split``: stratified train / validation / test; test keeps the same seed tickets on every data version."""

import argparse
from pathlib import Path

from ticketops.config import load_params
from ticketops.data.split import label_counts, split_frame
from ticketops.fileio import read_csv, write_csv, write_json


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="the ingested dataset (CSV)")
    parser.add_argument("--train", type=Path, required=True, help="output: train split (CSV)")
    parser.add_argument("--validation", type=Path, required=True, help="output: validation split (CSV)")
    parser.add_argument("--test", type=Path, required=True, help="output: test split (CSV)")
    parser.add_argument("--summary", type=Path, required=True, help="output: rows and labels per split (JSON)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    p = load_params().split
    dataset = read_csv(args.dataset)
    parts = split_frame(dataset, p.seed, p.test_fraction, p.validation_fraction, p.holdout_labels)
    outputs = {"train": args.train, "validation": args.validation, "test": args.test}
    for name, part in parts.items():
        write_csv(outputs[name], part[["text", "label", "origin", "source"]])
    counts = label_counts(parts)
    summary = {name: {"rows": len(part), "labels": int((counts[name] > 0).sum())} for name, part in parts.items()}
    write_json(args.summary, summary)
    print("split: " + ", ".join(f"{n} {s['rows']} rows / {s['labels']} labels" for n, s in summary.items()))


if __name__ == "__main__":
    main()
