"""DVC stage ``ingest``: the seed dataset and every feedback batch → one validated dataset.

On bad data it exits non-zero with every problem (file and row) and leaves the previous output untouched
(the output is written atomically and marked ``persist`` in dvc.yaml, so DVC does not delete it first).
"""

import sys
from pathlib import Path

from ticketops.config import load_params
from ticketops.data.ingest import (
    FEEDBACK,
    SEED,
    DataValidationError,
    drop_uncatalogued,
    feedback_files,
    ingest,
    read_csv_batch,
)
from ticketops.data.labels import load_labels
from ticketops.fileio import write_csv


def main() -> int:
    p = load_params().ingest
    try:
        labels = load_labels(p.labels_path)
        seed = read_csv_batch(Path(p.seed_path), p.seed_text_column, p.seed_label_column, p.seed_path, SEED)
        if p.seed_outside_catalogue == "drop":
            seed, dropped = drop_uncatalogued(seed, labels)
            for label, count in sorted(dropped.items()):
                print(f"ingest: {count} seed rows of {label!r} left out (not in the label catalogue)")
        batches = [
            read_csv_batch(f, "text", "label", f.as_posix(), FEEDBACK) for f in feedback_files(Path(p.feedback_dir))
        ]
        dataset = ingest(seed, batches, labels)
    except DataValidationError as exc:
        print(f"ingest failed; previous outputs are kept.\n{exc}", file=sys.stderr)
        return 1
    write_csv(p.output, dataset)
    print(
        f"ingest: {len(seed)} seed rows + {sum(len(b) for b in batches)} feedback rows from {len(batches)} batch(es) "
        f"→ {len(dataset)} tickets, {dataset['label'].nunique()} labels → {p.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
