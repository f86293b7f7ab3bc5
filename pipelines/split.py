"""DVC stage ``split``: stratified train / validation / test; test keeps the same seed tickets on every data version."""

from pathlib import Path

from ticketops.config import load_params
from ticketops.data.split import label_counts, split_frame
from ticketops.fileio import read_csv, write_csv, write_json

OUT = Path("data/splits")


def main() -> None:
    params = load_params()
    p = params.split
    dataset = read_csv(params.ingest.output)
    parts = split_frame(dataset, p.seed, p.test_fraction, p.validation_fraction, p.holdout_labels)
    for name, part in parts.items():
        write_csv(OUT / f"{name}.csv", part[["text", "label", "origin", "source"]])
    counts = label_counts(parts)
    summary = {name: {"rows": len(part), "labels": int((counts[name] > 0).sum())} for name, part in parts.items()}
    write_json(OUT / "summary.json", summary)
    print("split: " + ", ".join(f"{n} {s['rows']} rows / {s['labels']} labels" for n, s in summary.items()))


if __name__ == "__main__":
    main()
