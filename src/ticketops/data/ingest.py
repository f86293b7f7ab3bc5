"""Read the seed dataset and every feedback batch, and validate them into one dataset.

Every problem names the file and the data row (1-based, header excluded), so a person can fix the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ticketops.fileio import read_csv

COLUMNS = ["text", "label", "origin", "source", "row", "confirmed_by_feedback"]
SEED, FEEDBACK = "seed", "feedback"
FEEDBACK_COLUMNS = ("text", "label")
MAX_REPORTED = 25


@dataclass(frozen=True)
class Problem:
    """One validation failure at one place."""

    source: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source} row {self.row}" if self.row is not None else self.source
        return f"{where}: {self.message}"


class DataValidationError(ValueError):
    """Raised when ingested data breaks a rule; ``problems`` lists every place at fault."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:MAX_REPORTED])
        more = len(self.problems) - MAX_REPORTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.problems)} data problem(s):\n{shown}{tail}")


def read_csv_batch(path: Path, text_column: str, label_column: str, source: str, origin: str) -> pd.DataFrame:
    """Read one CSV into the common columns; a missing column or undecodable file is a validation error.

    ``source`` names the file in messages; ``origin`` (seed or feedback) decides where the split may put its rows.
    """
    try:
        frame = read_csv(path)
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            [Problem(source, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError([Problem(source, None, f"not a readable CSV ({exc})")]) from exc
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        found = ", ".join(frame.columns) or "none"
        raise DataValidationError([Problem(source, None, f"missing column(s) {', '.join(missing)} (found: {found})")])
    return pd.DataFrame(
        {
            "text": frame[text_column],
            "label": frame[label_column],
            "origin": origin,
            "source": source,
            "row": range(1, len(frame) + 1),
        }
    )


def feedback_files(folder: Path) -> list[Path]:
    """Feedback batches in a stable order (by name), so ingest output is deterministic."""
    return sorted(p for p in folder.glob("*.csv") if p.is_file()) if folder.exists() else []


def find_problems(frame: pd.DataFrame, labels: Iterable[str], seed_holdout: Iterable[str] = ()) -> list[Problem]:
    """Every rule broken by the rows: empty text, unknown label, the same text with two labels.

    A seed row may carry a label of ``seed_holdout`` outside the catalogue (held out of training, see split);
    feedback only ever carries catalogue labels.
    """
    known = set(labels)
    seed_known = known | set(seed_holdout)
    problems: list[Problem] = []
    for record in frame.itertuples(index=False):
        if not str(record.text).strip():
            problems.append(Problem(record.source, record.row, "empty or whitespace-only text"))
        if "\x00" in str(record.text):
            problems.append(Problem(record.source, record.row, "text contains a null byte"))
        if record.label not in (seed_known if record.origin == SEED else known):
            problems.append(Problem(record.source, record.row, f"unknown label {record.label!r}"))
    for _, group in frame[frame.duplicated("text", keep=False)].groupby("text", sort=False):
        if group["label"].nunique() > 1:
            first = group.iloc[0]
            for record in group.iloc[1:].itertuples(index=False):
                if record.label != first["label"]:
                    problems.append(
                        Problem(
                            record.source,
                            record.row,
                            f"duplicate text labelled {record.label!r} but {first['label']!r} at "
                            f"{first['source']} row {first['row']}",
                        )
                    )
    return problems


def ingest(
    seed: pd.DataFrame, feedback: Sequence[pd.DataFrame], labels: Sequence[str], seed_holdout: Iterable[str] = ()
) -> pd.DataFrame:
    """Validate seed + feedback together and return one dataset without repeated (text, label) pairs.

    ``seed_holdout``: labels seed rows may carry although the catalogue lacks them (``ingest.seed_outside_catalogue:
    holdout`` with ``split.holdout_labels``): such rows keep their test place and train only once the catalogue
    has the category and feedback confirms them.
    """
    frame = pd.concat([seed, *feedback], ignore_index=True) if feedback else seed.reset_index(drop=True)
    problems = find_problems(frame, labels, seed_holdout)
    if problems:
        raise DataValidationError(problems)
    # A seed ticket an agent labelled again keeps its seed place, but remembers the confirmation (a held-out
    # intent's seed ticket becomes trainable once feedback brings it in: see split.holdout_labels).
    confirmed = frame[frame["origin"] == FEEDBACK].groupby(["text", "label"]).size()
    keys = pd.MultiIndex.from_frame(frame[["text", "label"]])
    frame = frame.assign(confirmed_by_feedback=keys.isin(confirmed.index))
    return frame.drop_duplicates(["text", "label"], keep="first").reset_index(drop=True)[COLUMNS]
