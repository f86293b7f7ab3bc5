"""Ingest validation: every bad row is named by file and row; good data comes through deduplicated."""

from pathlib import Path

import pandas as pd
import pytest

from ticketops.data.ingest import FEEDBACK, SEED, DataValidationError, feedback_files, ingest, read_csv_batch

LABELS = ["card_arrival", "change_pin"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def seed(tmp_path: Path) -> pd.DataFrame:
    f = write(tmp_path / "seed.csv", "text,category\nWhere is my card?,card_arrival\nChange my PIN,change_pin\n")
    return read_csv_batch(f, "text", "category", "seed.csv", SEED)


def feedback(tmp_path: Path, body: str, name: str = "batch-1.csv") -> pd.DataFrame:
    return read_csv_batch(write(tmp_path / name, body), "text", "label", name, FEEDBACK)


def test_clean_data_is_merged_and_exact_duplicates_dropped(tmp_path):
    batch = feedback(tmp_path, "text,label\nMy card never came,card_arrival\nWhere is my card?,card_arrival\n")
    dataset = ingest(seed(tmp_path), [batch], LABELS)
    assert dataset["text"].tolist() == ["Where is my card?", "Change my PIN", "My card never came"]
    assert dataset["origin"].tolist() == [SEED, SEED, FEEDBACK]


def test_missing_column_names_the_file(tmp_path):
    with pytest.raises(DataValidationError, match=r"batch-1\.csv: missing column\(s\) label"):
        feedback(tmp_path, "text,category\nhello,card_arrival\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text,label\n   ,card_arrival\n", r"batch-1\.csv row 1: empty or whitespace-only text"),
        ("text,label\nok,card_arrival\nWhere is it,not_a_label\n", r"batch-1\.csv row 2: unknown label 'not_a_label'"),
        ("text,label\n,change_pin\n", r"batch-1\.csv row 1: empty"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path, body, message):
    with pytest.raises(DataValidationError, match=message):
        ingest(seed(tmp_path), [feedback(tmp_path, body)], LABELS)


def test_conflicting_duplicate_names_both_places(tmp_path):
    batch = feedback(tmp_path, "text,label\nWhere is my card?,change_pin\n")
    with pytest.raises(DataValidationError) as info:
        ingest(seed(tmp_path), [batch], LABELS)
    assert "batch-1.csv row 1: duplicate text labelled 'change_pin' but 'card_arrival' at seed.csv row 1" in str(
        info.value
    )


def test_every_problem_is_reported_at_once(tmp_path):
    batch = feedback(tmp_path, "text,label\n,card_arrival\nx,nope\n")
    with pytest.raises(DataValidationError) as info:
        ingest(seed(tmp_path), [batch], LABELS)
    assert len(info.value.problems) == 2


def test_invalid_utf8_is_a_validation_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\n\xff\xfe,card_arrival\n")
    with pytest.raises(DataValidationError, match="not valid UTF-8"):
        read_csv_batch(path, "text", "label", "bad.csv", FEEDBACK)


def test_feedback_files_are_sorted_and_only_csv(tmp_path):
    for name in ("b.csv", "a.csv", "README.md"):
        (tmp_path / name).write_text("text,label\n")
    assert [p.name for p in feedback_files(tmp_path)] == ["a.csv", "b.csv"]
    assert feedback_files(tmp_path / "missing") == []


def test_seed_ticket_labelled_again_by_an_agent_is_marked_confirmed(tmp_path):
    batch = feedback(tmp_path, "text,label\nWhere is my card?,card_arrival\n")
    dataset = ingest(seed(tmp_path), [batch], LABELS)
    assert dataset["confirmed_by_feedback"].tolist() == [True, False]
    assert dataset["origin"].tolist() == [SEED, SEED]


def test_seed_rows_outside_the_catalogue_may_be_held_out_and_feedback_teaches_a_new_category():
    seed = pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "label": ["card_arrival", "virtual_card", "other_new"],
            "origin": SEED,
            "source": "seed.csv",
            "row": [1, 2, 3],
        }
    )
    with pytest.raises(DataValidationError, match="unknown label 'virtual_card'"):
        ingest(seed, [], ["card_arrival"])
    with pytest.raises(DataValidationError, match="unknown label 'other_new'"):  # only the labels listed
        ingest(seed, [], ["card_arrival"], seed_holdout=["virtual_card"])
    held = ingest(seed.head(2), [], ["card_arrival"], seed_holdout=["virtual_card"])
    assert held["label"].tolist() == ["card_arrival", "virtual_card"]
    feedback = pd.DataFrame(
        {"text": ["d"], "label": ["virtual_card"], "origin": FEEDBACK, "source": "batch.csv", "row": [1]}
    )
    with pytest.raises(DataValidationError, match="unknown label 'virtual_card'"):  # feedback: catalogue only
        ingest(seed.head(2), [feedback], ["card_arrival"], seed_holdout=["virtual_card"])
    dataset = ingest(seed.head(2), [feedback], ["card_arrival", "virtual_card"])  # once an admin added it
    assert dict(zip(dataset["text"], dataset["label"], strict=True)) == {
        "a": "card_arrival",
        "b": "virtual_card",
        "d": "virtual_card",
    }
