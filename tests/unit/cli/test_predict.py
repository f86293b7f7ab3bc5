"""``ticketops predict`` on a local package: CSV and Parquet in and out, streamed in chunks, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.helpers.tiny_model import build_package, tiny_frame
from ticketops.cli import app
from ticketops.data.tables import write_table


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> str:
    return str(build_package(tmp_path_factory.mktemp("tiny")))


@pytest.fixture
def tickets() -> pd.DataFrame:
    frame = tiny_frame()
    return pd.DataFrame({"ticket": [f"t{i}" for i in range(len(frame))], "text": frame["text"]})


def run(*args: str):
    # wide enough for any tmp path: rich wraps at the terminal width, mid-word in a long path (xdist's are longer)
    return CliRunner().invoke(app, ["predict", *args], env={"COLUMNS": "1000"})


def said(result) -> str:
    """The command's output as one line (rich wraps long lines at the terminal width)."""
    return " ".join(result.output.split())


@pytest.mark.parametrize(("src", "dst"), [("in.csv", "out.csv"), ("in.parquet", "out.parquet"), ("in.csv", "o.pq")])
def test_chunked_prediction_keeps_rows_order_and_columns(tmp_path, package, tickets, src, dst) -> None:
    write_table(tmp_path / src, [tickets])
    whole = run("-i", str(tmp_path / src), "-o", str(tmp_path / "whole.csv"), "--model-uri", package, "--no-progress")
    assert whole.exit_code == 0, whole.output
    chunked = run(
        "-i", str(tmp_path / src), "-o", str(tmp_path / dst), "--model-uri", package, "--chunk-rows", "7",
        "--batch-size", "5", "--threads", "1",
    )  # fmt: skip
    assert chunked.exit_code == 0, chunked.output
    assert f"{len(tickets)} tickets → {tmp_path / dst}" in said(chunked)
    expected = pd.read_csv(tmp_path / "whole.csv", dtype={"ticket": str})
    got = pd.read_parquet(tmp_path / dst) if dst.endswith(("parquet", "pq")) else pd.read_csv(tmp_path / dst)
    assert list(got.columns) == ["ticket", "text", "label", "confidence", "needs_review"]
    assert got["ticket"].tolist() == tickets["ticket"].tolist()
    assert got["label"].tolist() == expected["label"].tolist()
    pd.testing.assert_series_equal(got["confidence"], expected["confidence"], check_dtype=False)


def test_an_empty_ticket_goes_to_review(tmp_path, package) -> None:
    pd.DataFrame({"id": ["a", "b"], "text": ["my card has not arrived yet", "  "]}).to_csv(
        tmp_path / "in.csv", index=False
    )
    result = run("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--model-uri", package)
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert bool(out["needs_review"].iloc[1]) is True and out["label"].tolist()[1] == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("ticket,body\n1,hello\n", "has no `text` column (found: ticket, body)"),
        ("text,label\nhello,x\n", "already has column(s) label"),
    ],
)
def test_bad_input_fails_with_a_message_and_writes_nothing(tmp_path, package, body, message) -> None:
    (tmp_path / "in.csv").write_text(body)
    result = run("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--model-uri", package)
    assert result.exit_code == 2
    assert message in said(result)
    assert not (tmp_path / "out.csv").exists()


def test_a_file_broken_halfway_writes_nothing(tmp_path, package) -> None:
    rows = "".join(f"ticket {i}\n" for i in range(30))
    (tmp_path / "in.csv").write_bytes(b"text\n" + rows.encode() + b"\xff\xfe broken\n")
    result = run("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--model-uri", package,
                 "--chunk-rows", "10")  # fmt: skip
    assert result.exit_code == 2 and "cannot read" in said(result)
    assert not (tmp_path / "out.csv").exists()


def test_missing_input_and_missing_model(tmp_path, tickets) -> None:
    assert "does not exist" in said(run("-i", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")))
    write_table(tmp_path / "in.csv", [tickets])
    missing = run("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--model-uri", str(tmp_path / "m"))
    assert missing.exit_code == 2 and "does not exist" in said(missing)


def test_a_registered_version_that_did_not_pass_the_gate_is_refused_cleanly(tmp_path, tickets, monkeypatch) -> None:
    from tests.helpers.tiny_model import register_tiny_model, tiny_registry

    registry = tiny_registry(tmp_path / "registry")
    for key, value in registry.env.items():
        monkeypatch.setenv(key, value)
    version = register_tiny_model(registry, alias=None, gate_passed=False)
    write_table(tmp_path / "in.csv", [tickets])
    result = run("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--model-uri",
                 f"models:/ticket-classifier/{version}", "--no-progress")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "did not pass the promotion gate" in said(result) and not (tmp_path / "out.csv").exists()
