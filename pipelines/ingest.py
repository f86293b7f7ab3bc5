"""DVC stage ``ingest``: the seed dataset and every feedback batch → one validated dataset.

On bad data it exits non-zero with every problem (file and row) and leaves the previous output untouched
(the output is written atomically and marked ``persist`` in dvc.yaml, so DVC does not delete it first).
Paths come from the command line (dvc.yaml); the seed's column names from params.yaml, section ``ingest``.
"""

import argparse
import sys
from pathlib import Path

from ticketops.config import load_params
from ticketops.data.ingest import FEEDBACK, SEED, DataValidationError, feedback_files, ingest, read_csv_batch
from ticketops.data.labels import load_labels
from ticketops.fileio import write_csv


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, required=True, help="seed tickets (CSV)")
    parser.add_argument("--labels", type=Path, required=True, help="the label set (JSON)")
    parser.add_argument("--feedback", type=Path, required=True, help="folder of feedback batches (batch-*.csv)")
    parser.add_argument("--out", type=Path, required=True, help="the validated dataset (CSV)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    p = load_params().ingest
    try:
        labels = load_labels(args.labels)
        seed = read_csv_batch(args.seed, p.seed_text_column, p.seed_label_column, args.seed.as_posix(), SEED)
        batches = [read_csv_batch(f, "text", "label", f.as_posix(), FEEDBACK) for f in feedback_files(args.feedback)]
        dataset = ingest(seed, batches, labels)
    except DataValidationError as exc:
        print(f"ingest failed; previous outputs are kept.\n{exc}", file=sys.stderr)
        return 1
    write_csv(args.out, dataset)
    print(
        f"ingest: {len(seed)} seed rows + {sum(len(b) for b in batches)} feedback rows from {len(batches)} batch(es) "
        f"→ {len(dataset)} tickets, {dataset['label'].nunique()} labels → {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
