"""bf16 where the CPU has it: ONNX Runtime's CPU provider has no general bf16 path, torch does (autocast).

On a CPU with AMX or AVX-512 BF16, torch in bf16 may beat ONNX Runtime in fp32; which one wins depends on the
CPU and on the size of the call, so the loader times both on calls of 1 to 16 tickets (``by_call_size``) and
keeps the faster, or each where it wins (``SizeRoutedEncoder``). On a CPU without either (AVX2-only machines)
bf16 would be emulated and slower: ONNX Runtime fp32 is used and the log says why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ticketops.modeling.encoder import TextEncoder, embedding_dimension

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 matrix or vector instructions
CALIBRATION_TEXTS = (
    "card?",
    "I still have not received my new card, when will it arrive?",
    "Why was I charged a fee for a transfer to my own account in another country last week?",
    "hi, I made a payment with my card at a shop abroad yesterday and the exchange rate you applied is much "
    "worse than the one I saw on the day, can you explain how the rate is chosen and refund the difference?",
) * 4


def cpu_bf16_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The native bf16 instruction sets this CPU reports (empty: none, or no /proc/cpuinfo)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [flag for flag in BF16_FLAGS if flag in flags]


def torch_cpu_capability() -> str:
    """What torch's CPU kernels were dispatched for (``AVX2``, ``AVX512``, …): reported beside the flags."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


class TorchBf16Encoder(TextEncoder):
    """A SentenceTransformer run under bf16 autocast; rows are returned in float32, renormalised."""

    backend = "torch-bf16"

    def __init__(self, model, progress: bool = False):
        self.model = model
        self.dimension = embedding_dimension(model)
        self.progress = progress  # a progress bar on long runs (the embed stage)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            vectors = self.model.encode(
                list(texts), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=self.progress
            )
        vectors = torch.nn.functional.normalize(vectors.float(), p=2.0, dim=1)
        return vectors.numpy().astype(np.float32, copy=False)

    def describe(self) -> dict[str, str]:
        return {"backend": self.backend}


def best_time(encoder: TextEncoder, texts: Sequence[str], batch_size: int, rounds: int) -> float:
    """Best-of-``rounds`` seconds of one ``encode`` call (the minimum: the least disturbed by other processes)."""
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        encoder.encode(list(texts), batch_size)
        runs.append(time.perf_counter() - started)
    return min(runs)


class SizeRoutedEncoder(TextEncoder):
    """Calls of up to ``cutoff`` texts to ``small``, larger calls to ``large`` (same model, two runtimes).

    On this project's AMD EPYC (AVX-512 BF16, no AMX) ONNX Runtime fp32 encodes one ticket in ~22 ms and torch
    bf16 in ~36 ms, while on batches of 8-16 bf16 is ~1.5x faster: one runtime is wrong for either the lone
    ticket of a quiet service or the batches of a busy one. Their vectors agree to a cosine of >= 0.9999, so
    only near ties can change label with the runtime a ticket met. Both runtimes' weights stay in memory (~0.9 GB
    for mpnet); ``TICKETOPS_ENCODER_BACKEND=onnx`` keeps one where memory is short.
    """

    def __init__(self, small: TextEncoder, large: TextEncoder, cutoff: int):
        if small.dimension != large.dimension:
            raise ValueError(f"{small.backend} gives {small.dimension}-d vectors, {large.backend} {large.dimension}-d")
        self.small, self.large, self.cutoff = small, large, cutoff
        self.dimension = small.dimension
        self.backend = f"{small.backend} (<= {cutoff} texts) + {large.backend}"

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return (self.small if len(texts) <= self.cutoff else self.large).encode(texts, batch_size)

    def describe(self) -> dict:
        small = getattr(self.small, "describe", dict)()
        return {**small, "backend": self.backend, "cutoff_texts": self.cutoff}


CALL_SIZES = (1, 2, 4, 8, 16)  # texts per encoder call at which the two runtimes are timed


def by_call_size(
    onnx: TextEncoder, bf16: TextEncoder, sizes: Sequence[int] = CALL_SIZES, rounds: int = 3
) -> tuple[TextEncoder, dict[int, dict[str, float]]]:
    """ONNX Runtime, torch bf16, or each for the call sizes it is faster at (small calls to ONNX), from timings
    of both on calls of ``sizes`` texts; and those timings (size -> backend -> best seconds)."""
    texts = CALIBRATION_TEXTS[1:] + CALIBRATION_TEXTS[:1]  # a single call gets a typical ticket, not "card?"
    for encoder in (onnx, bf16):
        encoder.encode(list(texts[:2]), 16)  # first call: allocations, kernel selection
    seconds = {
        size: {e.backend: best_time(e, texts[:size], 16, rounds) for e in (onnx, bf16)} for size in sorted(sizes)
    }
    sizes = sorted(sizes)
    onnx_faster = [seconds[size][onnx.backend] <= seconds[size][bf16.backend] for size in sizes]
    if onnx_faster[-1]:  # bf16 does not pay even on the largest call
        return onnx, seconds
    cutoff = 0
    for size, faster in zip(sizes, onnx_faster, strict=True):
        if not faster:
            break
        cutoff = size
    return (SizeRoutedEncoder(onnx, bf16, cutoff) if cutoff else bf16), seconds
