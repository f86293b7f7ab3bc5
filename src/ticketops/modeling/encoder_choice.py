"""Which runtime encodes a loaded model's texts: ONNX Runtime when the artifact has a graph, torch otherwise.

``auto`` (the default everywhere: service, ``ticketops predict``, evaluate, monitor) opens the model's ONNX
graph after checking its SHA-256; an artifact trained before graphs were exported has none, and is encoded
with torch (sentence-transformers), with a log line saying so. On a CPU with native bf16, ``auto`` also times
torch in bf16 against ONNX Runtime fp32 on calls of 1 to 16 texts and keeps the faster, or both: small
calls (a lone ticket) to ONNX Runtime, larger ones to bf16, when each wins at its end (modeling/bf16.py).
``onnx`` insists on the graph; ``torch`` ignores it (``TICKETOPS_ENCODER_BACKEND``, for comparisons and as an
escape hatch).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ticketops.modeling.encoder import load_encoder

EncoderBackend = Literal["auto", "onnx", "torch"]
BACKENDS: tuple[str, ...] = ("auto", "onnx", "torch")

logger = logging.getLogger("ticketops.modeling")


class NoGraph(ValueError):
    """``onnx`` was asked for, and the artifact has no exported graph."""


def load_model_encoder(
    folder: Path,
    spec: dict[str, Any],
    torch_path: Callable[[], Path],
    threads: int,
    backend: str = "auto",
):
    """The encoder for the model in ``folder`` (``spec`` is its ``model.json``); ``torch_path`` gives (and checks)
    the sentence-transformers folder, called only when torch is used."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}: one of {', '.join(BACKENDS)}")
    record = spec.get("onnx")
    if backend == "torch":
        return load_encoder(torch_path(), threads=threads)
    if record is None:
        if backend == "onnx":
            raise NoGraph(f"{folder}: this model has no ONNX graph (trained before graphs were exported)")
        logger.warning("%s: no ONNX graph in this artifact (trained before graphs were exported): using torch", folder)
        return load_encoder(torch_path(), threads=threads)
    from ticketops.modeling.bf16 import cpu_bf16_flags
    from ticketops.modeling.onnx_encoder import OnnxEncoder

    encoder = OnnxEncoder.from_record(folder, record, threads=threads)
    flags = cpu_bf16_flags()
    if backend == "auto" and flags:
        return _faster_of_bf16_and_onnx(encoder, torch_path, threads, flags)
    logger.info(
        "%s: encoding with ONNX Runtime fp32 (%d threads, graph sha256 %s…); bf16 not used: %s",
        folder,
        threads,
        record["graph_sha256"][:12],
        "the CPU has no AMX or AVX-512 BF16" if not flags else f"backend {backend!r} asked for",
    )
    return encoder


def _faster_of_bf16_and_onnx(onnx_encoder, torch_path: Callable[[], Path], threads: int, flags: list[str]):
    from ticketops.modeling.bf16 import TorchBf16Encoder, by_call_size
    from ticketops.modeling.encoder_sources import EncoderUnavailable

    try:
        weights = torch_path()
    except EncoderUnavailable as exc:  # an image that carries the graph but not the torch weights
        logger.info("CPU has %s but bf16 needs the torch weights (%s): encoding with ONNX Runtime fp32", flags, exc)
        return onnx_encoder
    torch_bf16 = TorchBf16Encoder(load_encoder(weights, threads=threads))
    chosen, seconds = by_call_size(onnx_encoder, torch_bf16)
    logger.info(
        "CPU has %s: calibration seconds per call size %s; encoding with %s",
        "+".join(flags),
        {size: {name: round(s, 4) for name, s in row.items()} for size, row in seconds.items()},
        chosen.backend,
    )
    return chosen


def describe_encoder(encoder) -> dict[str, Any]:
    """What runs the encoder (the model card, benchmark and logs say it)."""
    describe = getattr(encoder, "describe", None)
    return describe() if callable(describe) else {"backend": "torch fp32 (sentence-transformers)"}
