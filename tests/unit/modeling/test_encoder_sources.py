"""Encoders from PyPI: pieces of a split zip are joined, checked against their SHA-256 and unpacked once; a
missing part or a wrong checksum is a clear error; embedding files remember their encoder."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ticketops.modeling import encoder_sources
from ticketops.modeling.embedding_cache import EmbeddingCache
from ticketops.modeling.encoder_sources import MPNET, EncoderUnavailable, encoder_source


def split_zip(tmp_path: Path, pieces: int = 5) -> tuple[list[Path], str]:
    """A zip holding ``all-mpnet-base-v2/model.safetensors`` cut into ``pieces`` files, and its SHA-256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{MPNET}/model.safetensors", b"weights" * 1000)
        archive.writestr(f"{MPNET}/desktop.ini", b"[junk]")
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    paths = []
    for i in range(pieces):
        path = tmp_path / "parts" / f"{MPNET}.zip.{i + 1:03d}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths, hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    paths, sha = split_zip(tmp_path)
    by_name = dict(zip(encoder_sources.MPNET_PARTS, paths, strict=True))
    monkeypatch.setattr(encoder_sources, "_part_file", lambda name: by_name[name])
    monkeypatch.setattr(encoder_sources, "MPNET_ZIP_SHA256", sha)
    monkeypatch.setenv("TICKETOPS_ENCODER_CACHE", str(tmp_path / "cache"))
    return paths


def test_the_parts_are_joined_checked_and_unpacked_once(fake_parts, tmp_path):
    folder = encoder_source(MPNET).path()
    assert folder.parent.parent == tmp_path / "cache"
    assert (folder / "model.safetensors").read_bytes() == b"weights" * 1000
    assert not list(folder.rglob("desktop.ini"))
    for part in fake_parts:
        part.unlink()  # a second call reads nothing but the unpacked folder
    assert encoder_source(MPNET).path() == folder
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no staging left behind


def test_a_joined_zip_with_another_checksum_is_refused(fake_parts, monkeypatch):
    monkeypatch.setattr(encoder_sources, "MPNET_ZIP_SHA256", "0" * 64)
    with pytest.raises(EncoderUnavailable, match="reinstall the part packages"):
        encoder_source(MPNET).path()


def test_a_missing_part_package_names_the_install_step(monkeypatch, tmp_path):
    monkeypatch.setenv("TICKETOPS_ENCODER_CACHE", str(tmp_path / "empty"))

    def missing(name):
        raise encoder_sources.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(encoder_sources.metadata, "distribution", missing)
    with pytest.raises(EncoderUnavailable, match=r"requirements/encoders\.txt"):
        encoder_source(MPNET).path()


def test_an_unknown_encoder_lists_the_known_ones():
    with pytest.raises(ValueError, match="all-MiniLM-L6-v2, all-mpnet-base-v2"):
        encoder_source("bert-large")


def test_an_embedding_file_keeps_its_encoder_and_another_encoder_starts_afresh(tmp_path):
    cache = EmbeddingCache(encoder=MPNET)
    assert cache.fill(["a", "b"], lambda texts: np.ones((len(texts), 768), dtype=np.float32)) == 2
    path = tmp_path / "embeddings.safetensors"
    cache.save(path)
    again = EmbeddingCache.load(path)
    assert again.encoder == MPNET and len(again) == 2 and again.lookup(["a"]).shape == (1, 768)
    assert len(EmbeddingCache.load(path, encoder=MPNET)) == 2
    other = EmbeddingCache.load(path, encoder="all-MiniLM-L6-v2")
    assert other.encoder == "all-MiniLM-L6-v2" and len(other) == 0 and other.missing(["a"]) == ["a"]
