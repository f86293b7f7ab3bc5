"""bf16 where the CPU has it: ONNX Runtime's CPU provider has no general bf16 path, torch does (autocast).

On a CPU with AMX or AVX-512 BF16, torch in bf16 may beat ONNX Runtime in fp32; which one wins depends on the
CPU, so the loader times both on a few tickets and keeps the faster (``fastest``). On a CPU without either
(AVX2-only machines such as the AMD EPYC this project is measured on) bf16 would be emulated and slower:
ONNX Runtime fp32 is used and the log says why.
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


def fastest(
    encoders: Sequence[TextEncoder], texts: Sequence[str] = CALIBRATION_TEXTS, batch_size: int = 16, rounds: int = 3
) -> tuple[TextEncoder, dict[str, float]]:
    """The encoder with the shortest best-of-``rounds`` time on ``texts``, and every encoder's seconds."""
    seconds: dict[str, float] = {}
    for encoder in encoders:
        encoder.encode(list(texts[:2]), batch_size)  # first call: allocations, kernel selection
        runs = []
        for _ in range(rounds):
            started = time.perf_counter()
            encoder.encode(list(texts), batch_size)
            runs.append(time.perf_counter() - started)
        seconds[encoder.backend] = min(runs)
    best = min(encoders, key=lambda e: seconds[e.backend])
    return best, seconds
