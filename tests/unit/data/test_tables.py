"""Tables in chunks: CSV and Parquet read a slice at a time, written as they come, atomically."""

from __future__ import annotations

import pandas as pd
import pytest

from ticketops.data.tables import iter_table, table_columns, table_format, table_rows, write_table


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"t{i}" for i in range(n)], "text": [f"ticket {i}" * (i % 3 + 1) for i in range(n)]})


def test_format_follows_the_suffix(tmp_path) -> None:
    assert table_format(tmp_path / "a.parquet") == table_format(tmp_path / "a.PQ") == "parquet"
    assert table_format(tmp_path / "a.csv") == table_format("-") == "csv"


@pytest.mark.parametrize("name", ["in.csv", "in.parquet"])
def test_chunks_of_the_asked_size_cover_the_table_in_order(tmp_path, name) -> None:
    path = tmp_path / name
    write_table(path, [frame(10)])
    chunks = list(iter_table(path, chunk_rows=4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame(10))
    assert table_columns(path) == ["id", "text"]
    assert table_rows(path) == (10 if name.endswith(".parquet") else None)


@pytest.mark.parametrize("name", ["in.csv", "in.parquet"])
def test_an_empty_table_gives_one_empty_chunk_with_its_columns(tmp_path, name) -> None:
    path = tmp_path / name
    write_table(path, [frame(0)])
    (chunk,) = list(iter_table(path, chunk_rows=4))
    assert list(chunk.columns) == ["id", "text"] and len(chunk) == 0


def test_csv_cells_stay_text_and_parquet_keeps_types(tmp_path) -> None:
    typed = pd.DataFrame({"n": [1, 2], "text": ["a", ""]})
    write_table(tmp_path / "t.csv", [typed])
    write_table(tmp_path / "t.parquet", [typed])
    (csv,) = iter_table(tmp_path / "t.csv", 10)
    (parquet,) = iter_table(tmp_path / "t.parquet", 10)
    assert csv["n"].tolist() == ["1", "2"] and csv["text"].tolist() == ["a", ""]
    assert parquet["n"].tolist() == [1, 2]


@pytest.mark.parametrize("name", ["out.csv", "out.parquet"])
def test_a_failed_stream_leaves_the_previous_output(tmp_path, name) -> None:
    path = tmp_path / name
    write_table(path, [frame(3)])
    before = path.read_bytes()

    def broken():
        yield frame(2)
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError):
        write_table(path, broken())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left
