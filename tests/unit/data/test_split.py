"""Split: stratified, reproducible, and the test tickets stay put when feedback arrives."""

import pandas as pd

from ticketops.data.ingest import FEEDBACK, SEED
from ticketops.data.split import split_frame


def frame_from(tickets: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"text": tickets["text"], "label": tickets["category"], "origin": SEED, "source": "seed"})


def test_every_label_in_every_split_with_the_asked_share(tiny_tickets):
    parts = split_frame(frame_from(tiny_tickets), seed=1, test_fraction=0.2, validation_fraction=0.2)
    for part in parts.values():
        assert part["label"].value_counts().min() >= 5
    assert sum(len(p) for p in parts.values()) == len(tiny_tickets)
    assert abs(len(parts["test"]) / len(tiny_tickets) - 0.2) < 0.02


def test_same_seed_same_split_other_seed_other_split(tiny_tickets):
    frame = frame_from(tiny_tickets)
    a = split_frame(frame, 1, 0.2, 0.2)["test"]["text"].tolist()
    assert a == split_frame(frame, 1, 0.2, 0.2)["test"]["text"].tolist()
    assert a != split_frame(frame, 2, 0.2, 0.2)["test"]["text"].tolist()


def test_feedback_never_moves_or_joins_the_test_split(tiny_tickets):
    frame = frame_from(tiny_tickets)
    before = set(split_frame(frame, 1, 0.2, 0.2)["test"]["text"])
    more = pd.DataFrame(
        {"text": [f"new ticket {i}" for i in range(60)], "label": "card_arrival", "origin": FEEDBACK, "source": "b.csv"}
    )
    parts = split_frame(pd.concat([frame, more], ignore_index=True), 1, 0.2, 0.2)
    assert set(parts["test"]["text"]) == before
    new_in = {name: part["text"].str.startswith("new ticket").sum() for name, part in parts.items()}
    assert new_in["test"] == 0 and new_in["train"] > new_in["validation"] > 0


def test_holdout_labels_stay_in_test_only(tiny_tickets):
    frame = frame_from(tiny_tickets)
    plain = split_frame(frame, 1, 0.2, 0.2)
    held = split_frame(frame, 1, 0.2, 0.2, holdout_labels=("change_pin",))
    assert set(held["test"]["text"]) == set(plain["test"]["text"])
    assert "change_pin" not in set(held["train"]["label"]) | set(held["validation"]["label"])
    more = pd.DataFrame(
        {"text": ["please change my pin now"], "label": "change_pin", "origin": FEEDBACK, "source": "b.csv"}
    )
    with_feedback = split_frame(
        pd.concat([frame, more], ignore_index=True), 1, 0.2, 0.2, holdout_labels=("change_pin",)
    )
    assert "please change my pin now" in set(with_feedback["train"]["text"]) | set(with_feedback["validation"]["text"])


def test_feedback_confirmed_holdout_tickets_become_trainable(tiny_tickets):
    frame = frame_from(tiny_tickets).assign(confirmed_by_feedback="False")
    held = split_frame(frame, 1, 0.2, 0.2, holdout_labels=("change_pin",))
    pin_test = set(held["test"]["text"][held["test"]["label"] == "change_pin"])
    pin_other = frame[(frame["label"] == "change_pin") & ~frame["text"].isin(pin_test)]["text"].iloc[0]
    frame.loc[frame["text"] == pin_other, "confirmed_by_feedback"] = "True"
    after = split_frame(frame, 1, 0.2, 0.2, holdout_labels=("change_pin",))
    trained = set(after["train"]["text"]) | set(after["validation"]["text"])
    assert pin_other in trained
    assert set(after["test"]["text"]) == set(held["test"]["text"])
