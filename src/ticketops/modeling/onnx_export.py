"""The sentence encoder as one ONNX graph, exported at train time: transformer, mean pooling, L2 normalisation.

Why one graph with the pooling inside: the service then makes one ONNX Runtime call per mini-batch and gets
unit-length rows back, with no torch in the request path. The graph has dynamic batch and sequence axes, so
each length-sorted mini-batch is padded only to its own longest text.

Exporter: torch's TorchScript-based one (``dynamo=False``; the dynamo exporter needs ``onnxscript``, which
the project does not carry). Attention is traced in its eager form (MatMul, Softmax), the pattern ONNX
Runtime's graph optimiser knows; the model's own attention setting is restored afterwards. Nothing is
downloaded: the weights are the ones in memory, the tokenizer is saved beside the graph.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ticketops.modeling.artifacts import sha256_file
from ticketops.modeling.encoder import TextEncoder, embedding_dimension

GRAPH_DIR = "onnx"
GRAPH_FILE = f"{GRAPH_DIR}/encoder.onnx"
TOKENIZER_FILE = f"{GRAPH_DIR}/tokenizer.json"
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "embeddings"
_TRACE_TEXTS = ("a short ticket", "my card has still not arrived after two weeks, what should I do now?")

# Graphs this process already exported, by cache key (the pretrained encoder's weights never change between two
# hybrid models trained in one process: the tests and a cascade's stages reuse the first export).
_exported: dict[str, Path] = {}
_memo_dir: Path | None = None


def _pooled(bert):
    """``bert`` followed by attention-masked mean pooling and L2 normalisation (what sentence-transformers does)."""
    import torch

    class MeanPooledUnitRows(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return MeanPooledUnitRows(bert)


def _trace(model, graph: Path) -> None:
    import torch

    bert = model[0].auto_model
    sample = model.tokenizer(list(_TRACE_TEXTS), padding=True, return_tensors="pt")
    attention, training = bert.config._attn_implementation, bert.training
    bert.set_attn_implementation("eager")
    bert.eval()
    dynamic = {"batch": 0, "sequence": 1}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice and tracer notes on shapes
            torch.onnx.export(
                _pooled(bert),
                (sample["input_ids"], sample["attention_mask"]),
                str(graph),
                dynamo=False,
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes={
                    **{name: {i: axis for axis, i in dynamic.items()} for name in INPUT_NAMES},
                    OUTPUT_NAME: {0: "batch"},
                },
                opset_version=OPSET,
                do_constant_folding=True,
            )
    finally:
        bert.set_attn_implementation(attention)
        bert.train(training)


def _remember(key: str, graph: Path) -> None:
    global _memo_dir
    if _memo_dir is None:
        _memo_dir = Path(tempfile.mkdtemp(prefix="ticketops-onnx-"))
        atexit.register(shutil.rmtree, _memo_dir, True)
    kept = _memo_dir / f"{len(_exported)}.onnx"
    shutil.copyfile(graph, kept)
    _exported[key] = kept


def export_encoder(model, folder: Path, cache_key: str | None = None) -> dict[str, Any]:
    """Write ``folder/onnx/encoder.onnx`` and the tokenizer beside it; return what ``model.json`` records.

    ``model`` is a SentenceTransformer; ``cache_key`` (the weights' SHA-256) lets one process export a given
    encoder once. The record carries both files' SHA-256: loading refuses a graph that does not match.
    """
    if isinstance(model, TextEncoder):
        raise TypeError(f"cannot export a {type(model).__name__}: re-save a model loaded with encoder_backend='torch'")
    import torch

    folder = Path(folder)
    (folder / GRAPH_DIR).mkdir(parents=True, exist_ok=True)
    graph, tokenizer = folder / GRAPH_FILE, folder / TOKENIZER_FILE
    max_length = int(model.max_seq_length)
    key = f"{cache_key}:{max_length}:{torch.__version__}" if cache_key else None
    if key is not None and key in _exported and _exported[key].is_file():
        shutil.copyfile(_exported[key], graph)
    else:
        _trace(model, graph)
        if key is not None:
            _remember(key, graph)
    model.tokenizer.backend_tokenizer.save(str(tokenizer))
    return {
        "graph": GRAPH_FILE,
        "graph_sha256": sha256_file(graph),
        "tokenizer": TOKENIZER_FILE,
        "tokenizer_sha256": sha256_file(tokenizer),
        "max_length": max_length,
        "dimension": embedding_dimension(model),
        "inputs": list(INPUT_NAMES),
        "output": OUTPUT_NAME,
        "opset": OPSET,
        "exporter": f"torch.onnx TorchScript exporter, torch {torch.__version__}",
    }
