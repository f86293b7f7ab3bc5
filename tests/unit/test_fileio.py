"""fileio.atomic_write: regular files are replaced atomically, nothing else is ever renamed over."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pandas as pd
import pytest

from ticketops.fileio import UnsafeOutput, atomic_write, write_csv

FRAME = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})


def test_a_regular_file_is_replaced_whole_and_a_failed_write_keeps_the_old_one(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind
    write_csv(target, FRAME)
    assert target.read_text() == "text,label\na,x\nb,y\n"


@pytest.fixture
def null_device(tmp_path) -> Path:
    """A private character device like /dev/null (1, 3), so a regression never replaces the machine's own."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return node


def test_a_device_is_written_through_and_stays_a_device(null_device):
    before = os.stat(null_device)
    write_csv(null_device, FRAME)
    after = os.stat(null_device)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_csv(fifo, FRAME)
    reader.join(timeout=10)
    assert received == [b"text,label\na,x\nb,y\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dash_means_standard_output(capfdbinary):
    write_csv("-", FRAME)
    assert capfdbinary.readouterr().out == b"text,label\na,x\nb,y\n"


def test_a_directory_is_refused(tmp_path):
    folder = tmp_path / "results"
    (folder / "keep").mkdir(parents=True)
    with pytest.raises(UnsafeOutput, match="directory"):
        write_csv(folder, FRAME)
    assert (folder / "keep").is_dir()


def test_a_symlink_to_a_regular_file_elsewhere_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = elsewhere / "precious.csv"
    precious.write_text("precious\n")
    link = tmp_path / "out.csv"
    link.symlink_to(precious)
    with pytest.raises(UnsafeOutput, match="symbolic link"):
        write_csv(link, FRAME)
    assert link.is_symlink()
    assert precious.read_text() == "precious\n"


def test_a_symlink_to_a_device_is_written_through(tmp_path, null_device):
    link = tmp_path / "sink"
    link.symlink_to(null_device)
    write_csv(link, FRAME)
    assert link.is_symlink()
    assert stat.S_ISCHR(os.stat(null_device).st_mode)
