"""OnnxEncoder: the exported encoder graph run by ONNX Runtime, on the threads the caller owns.

Texts are tokenized with the tokenizer saved beside the graph (the Rust ``tokenizers`` library: no torch,
no transformers), sorted by token length, padded per mini-batch to that batch's longest text, encoded, and
put back in the caller's order. One ``InferenceSession`` per model: ``intra_op_num_threads`` is the service's
thread count (``TICKETOPS_THREADS``), ``inter_op_num_threads`` 1 (a BERT graph is one chain of operators).
Before a graph is opened its SHA-256 and the tokenizer's must match what ``model.json`` recorded at export.
Idle intra-op threads do not spin (benchmarks/encoder.py measures what that costs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketops.modeling.artifacts import ChecksumMismatch, sha256_file
from ticketops.modeling.encoder import EMBEDDING_DIM, TextEncoder
from ticketops.modeling.onnx_export import INPUT_NAMES


class GraphMismatch(ChecksumMismatch):
    """The ONNX graph (or its tokenizer) is not the file exported when the model was trained."""


def verify_graph(folder: Path, record: dict[str, Any]) -> tuple[Path, Path]:
    """The graph and tokenizer paths, after checking each against its recorded SHA-256 (GraphMismatch if not)."""
    paths = []
    for part in ("graph", "tokenizer"):
        path = Path(folder) / record[part]
        if not path.is_file():
            raise GraphMismatch(f"{path}: missing (model.json records an ONNX {part} here)")
        expected, actual = record[f"{part}_sha256"], sha256_file(path)
        if actual != expected:
            raise GraphMismatch(
                f"{path}: sha256 {actual[:12]}… but model.json records {expected[:12]}… for the ONNX {part} "
                "exported at train time: refusing to load it"
            )
        paths.append(path)
    return paths[0], paths[1]


class OnnxEncoder(TextEncoder):
    """Unit-length float32 sentence embeddings from an exported graph (transformer, mean pooling, L2 norm)."""

    backend = "onnx"

    def __init__(
        self,
        graph: Path,
        tokenizer: Path,
        max_length: int,
        threads: int = 2,
        dimension: int = EMBEDDING_DIM,
        record: dict[str, Any] | None = None,
        spin: bool = False,
    ):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the session's threads are the ones we own
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()  # padding is per mini-batch, below
        self.tokenizer.enable_truncation(max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning (as OMP_WAIT_POLICY=PASSIVE does for torch): they would
        # otherwise burn the cores the event loop, the log writer and a CPU quota need between model calls.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.output = self.session.get_outputs()[0].name
        self.dimension = dimension
        self.max_length = max_length
        self.threads = max(1, threads)
        self.record = dict(record or {})

    @classmethod
    def from_record(cls, folder: Path, record: dict[str, Any], threads: int = 2) -> OnnxEncoder:
        """The encoder a model folder's ``model.json`` describes, once both files match their SHA-256."""
        graph, tokenizer = verify_graph(folder, record)
        dimension = int(record.get("dimension", EMBEDDING_DIM))
        return cls(graph, tokenizer, int(record["max_length"]), threads, dimension, record)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, [CLS] … [SEP], truncated to ``max_length`` (as sentence-transformers tokenizes)."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch([text.strip() for text in texts])]

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), max(1, batch_size)):
            rows = order[start : start + batch_size]
            width = int(lengths[rows].max())
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : lengths[i]] = ids[i]
                mask[r, : lengths[i]] = 1
            feeds = dict(zip(INPUT_NAMES, (input_ids, mask), strict=True))
            out[rows] = self.session.run([self.output], feeds)[0]
        return out

    def describe(self) -> dict[str, Any]:
        """What the model card and the logs say about this encoder."""
        return {"backend": "onnxruntime fp32", "threads": self.threads, **self.record}
