"""The model families behind one interface: ``predict_proba(texts)`` over a fixed label order, ``save(folder)``.

Every file a family writes is data, never code: skops (with a trust list) for the tf-idf vocabulary,
safetensors for weights, an ONNX graph (operators only, no custom ops) for the encoder, JSON for the rest.
``load_classifier`` reads ``model.json`` to pick the family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ticketops.fileio import read_json, write_json
from ticketops.modeling.artifacts import load_skops, save_skops
from ticketops.modeling.encoder import ENCODER_NAME, encode
from ticketops.modeling.encoder_choice import load_model_encoder
from ticketops.modeling.encoder_sources import DEFAULT_ENCODER, EncoderMismatch, encoder_fingerprint, encoder_source
from ticketops.modeling.features import feature_blocks
from ticketops.modeling.linear import UNSEEN_BIAS, LinearHead, softmax
from ticketops.modeling.neighbours import NeighbourVote, mix
from ticketops.modeling.onnx_export import export_encoder

MODEL_FILE = "model.json"
FORMAT_VERSION = 1


class Classifier(ABC):
    """A trained ticket classifier."""

    family: ClassVar[str]

    def __init__(self, labels: Sequence[str]):
        self.labels = list(labels)

    @abstractmethod
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(labels)) probabilities."""

    @abstractmethod
    def _save_parts(self, folder: Path) -> dict[str, Any]:
        """Write the family's files; return what ``model.json`` should record about them."""

    @classmethod
    @abstractmethod
    def _load_parts(cls, folder: Path, spec: dict[str, Any], threads: int, encoder_backend: str) -> Classifier:
        """Rebuild from the files written by ``_save_parts`` (``encoder_backend``: modeling/encoder_choice.py)."""

    def predictable_labels(self) -> list[str]:
        """The labels this model can answer at all: those in its training data (a head gives the rest no chance).

        A model trained before some intents existed still lists them in ``labels`` (one label set for all
        versions); canary analysis must know it cannot predict them."""
        head = getattr(self, "head", None)
        if not isinstance(head, LinearHead):
            return list(self.labels)
        return [label for label, trained in zip(self.labels, head.trained(), strict=True) if trained]

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels[i] for i in proba.argmax(axis=1)]

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        spec = {"family": self.family, "labels": self.labels, "format_version": FORMAT_VERSION}
        spec.update(self._save_parts(folder))
        write_json(folder / MODEL_FILE, spec)


class TfidfClassifier(Classifier):
    """Word + character n-gram tf-idf with a softmax linear head: fast, no encoder."""

    family = "tfidf"

    def __init__(self, labels: Sequence[str], vectorizer, head: LinearHead):
        super().__init__(labels)
        self.vectorizer = vectorizer
        self.head = head

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.vectorizer.transform(list(texts))

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return self.head.logits(self.features(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.head.predict_proba(self.features(texts))

    def _save_parts(self, folder: Path) -> dict[str, Any]:
        save_skops(self.vectorizer, folder / "tfidf.skops")
        self.head.save(folder / "head.safetensors")
        return {}

    @classmethod
    def _load_parts(cls, folder: Path, spec: dict[str, Any], threads: int, encoder_backend: str) -> TfidfClassifier:
        return cls(spec["labels"], load_skops(folder / "tfidf.skops"), LinearHead.load(folder / "head.safetensors"))


class EncoderClassifier(Classifier):
    """A linear head over ``[tf-idf, weight * sentence embedding]``; the tf-idf part is optional.

    ``hybrid`` uses a pretrained encoder shipped on PyPI (``encoder_name``: MiniLM or mpnet, see
    encoder_sources.py; its SHA-256 is recorded and checked at load); ``finetune`` stores its own fine-tuned
    encoder beside the head. Both export the encoder to ``onnx/`` at save time (modeling/onnx_export.py), which
    loading prefers (encoder_choice.py). With a ``vote`` (modeling/neighbours.py), the head's logits are mixed
    with a nearest-neighbour vote over the training tickets' embeddings, and ``temperature`` (fitted on held-out
    answers) scales the mix; without one, a temperature is folded into the head's weights.
    """

    family = "hybrid"

    def __init__(
        self,
        labels: Sequence[str],
        head: LinearHead,
        encoder,
        embedding_weight: float,
        vectorizer=None,
        encoder_batch_size: int = 64,
        encoder_name: str = DEFAULT_ENCODER,
        vote: NeighbourVote | None = None,
        vote_weight: float = 0.0,
        temperature: float = 1.0,
    ):
        super().__init__(labels)
        self.encoder_name = encoder_name
        self.vote = vote
        self.vote_weight = vote_weight
        self.temperature = temperature
        self.head = head
        self.encoder = encoder
        self.embedding_weight = embedding_weight
        self.vectorizer = vectorizer
        self.encoder_batch_size = encoder_batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return encode(self.encoder, texts, batch_size=self.encoder_batch_size)

    def logits(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """The head's logits; ``embeddings`` of ``texts`` if already known (training), else encoded here."""
        embeddings = self.embed(texts) if embeddings is None else embeddings
        logits = self.head.logits_of_blocks(feature_blocks(self.vectorizer, texts, embeddings, self.embedding_weight))
        if self.vote is not None:
            logits = mix(logits, self.vote.scores(embeddings), self.vote_weight, self.head.trained(), UNSEEN_BIAS)
        return logits * self.temperature if self.temperature != 1.0 else logits

    def calibrate(self, temperature: float) -> None:
        """Scale this model's logits by ``temperature`` from now on (held-out answers chose it)."""
        if self.vote is not None:
            self.temperature *= temperature
        else:
            self.head = self.head.scaled(temperature)

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        return softmax(self.logits(texts, embeddings))

    def _save_encoder(self, folder: Path) -> dict[str, Any]:
        source = encoder_source(self.encoder_name)
        sha256 = encoder_fingerprint(source.path())
        return {
            "encoder": {"name": source.name, "source": source.source, "sha256": sha256},
            "onnx": export_encoder(self.encoder, folder, cache_key=sha256),  # the graph serving runs
        }

    def _save_parts(self, folder: Path) -> dict[str, Any]:
        if self.vectorizer is not None:
            save_skops(self.vectorizer, folder / "tfidf.skops")
        self.head.save(folder / "head.safetensors")
        parts: dict[str, Any] = {"embedding_weight": self.embedding_weight, "uses_tfidf": self.vectorizer is not None}
        if self.vote is not None:
            parts.update(neighbours=self.vote.save_record(folder, self.vote_weight), temperature=self.temperature)
        return {**parts, **self._save_encoder(folder)}

    @classmethod
    def _encoder_path(cls, folder: Path, spec: dict[str, Any]) -> Path:
        source = encoder_source(spec["encoder"]["name"])
        path = source.path()
        if encoder_fingerprint(path) != spec["encoder"]["sha256"]:
            raise EncoderMismatch(
                f"installed {source.name} at {path} differs from the one this model was trained with "
                f"(sha256 {spec['encoder']['sha256'][:12]}…): install the matching {source.source}"
            )
        return path

    @classmethod
    def _load_parts(cls, folder: Path, spec: dict[str, Any], threads: int, encoder_backend: str) -> EncoderClassifier:
        encoder = load_model_encoder(folder, spec, lambda: cls._encoder_path(folder, spec), threads, encoder_backend)
        vectorizer = load_skops(folder / "tfidf.skops") if spec.get("uses_tfidf") else None
        record = spec.get("neighbours")
        vote = NeighbourVote.from_record(folder, record, len(spec["labels"])) if record else None
        return cls(
            spec["labels"],
            LinearHead.load(folder / "head.safetensors"),
            encoder,
            spec["embedding_weight"],
            vectorizer,
            encoder_name=spec["encoder"]["name"],
            vote=vote,
            vote_weight=record["weight"] if record else 0.0,
            temperature=float(spec.get("temperature", 1.0)),
        )


class FinetunedClassifier(EncoderClassifier):
    """Like ``hybrid``, over MiniLM whose top layers were fine-tuned on the tickets (weights in ``encoder/``)."""

    family = "finetune"

    def _save_encoder(self, folder: Path) -> dict[str, Any]:
        self.encoder.save(str(folder / "encoder"), safe_serialization=True)
        return {
            "encoder": {
                "name": f"{ENCODER_NAME}-finetuned",
                "source": "encoder/",
                "sha256": encoder_fingerprint(folder / "encoder"),
            },
            "onnx": export_encoder(self.encoder, folder),
        }

    @classmethod
    def _encoder_path(cls, folder: Path, spec: dict[str, Any]) -> Path:
        return folder / "encoder"


class CascadeClassifier(Classifier):
    """Fast tf-idf stage first; only tickets it is unsure of (confidence < ``threshold``) go to the slow
    stage (hybrid or fine-tuned). One model version: one folder, one checksum list, one lineage."""

    family = "cascade"
    FAST, SLOW = "fast", "slow"

    def __init__(self, labels: Sequence[str], fast: TfidfClassifier, slow: EncoderClassifier, threshold: float):
        super().__init__(labels)
        if list(fast.labels) != list(slow.labels) or list(fast.labels) != list(labels):
            raise ValueError("cascade stages must share one label order")
        self.fast = fast
        self.slow = slow
        self.threshold = threshold

    def route(self, fast_proba: np.ndarray) -> np.ndarray:
        """True where the fast stage's answer stands."""
        return fast_proba.max(axis=1) >= self.threshold

    def predict_proba_with_stage(
        self, texts: Sequence[str], slow_proba: Callable[[list[str]], np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and, per ticket, whether the fast stage answered it. ``slow_proba`` runs the slow stage
        on the unsure tickets (default: one call of ``slow.predict_proba``; ``ticketops predict`` batches it)."""
        proba = self.fast.predict_proba(texts)
        answered = self.route(proba)
        unsure = np.flatnonzero(~answered)
        if len(unsure):
            proba[unsure] = (slow_proba or self.slow.predict_proba)([texts[i] for i in unsure])
        return proba, answered

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba_with_stage(texts)[0]

    def predictable_labels(self) -> list[str]:
        either = set(self.fast.predictable_labels()) | set(self.slow.predictable_labels())
        return [label for label in self.labels if label in either]

    def _save_parts(self, folder: Path) -> dict[str, Any]:
        self.fast.save(folder / self.FAST)
        self.slow.save(folder / self.SLOW)
        return {"threshold": self.threshold, "stages": {self.FAST: self.fast.family, self.SLOW: self.slow.family}}

    @classmethod
    def _load_parts(cls, folder: Path, spec: dict[str, Any], threads: int, encoder_backend: str) -> CascadeClassifier:
        fast = load_classifier(folder / cls.FAST, threads, encoder_backend)
        slow = load_classifier(folder / cls.SLOW, threads, encoder_backend)
        if not isinstance(fast, TfidfClassifier) or not isinstance(slow, EncoderClassifier):
            raise ValueError(f"{folder}: a cascade needs a tfidf fast stage and an encoder slow stage")
        return cls(spec["labels"], fast, slow, float(spec["threshold"]))


FAMILIES: dict[str, type[Classifier]] = {
    c.family: c for c in (TfidfClassifier, EncoderClassifier, FinetunedClassifier, CascadeClassifier)
}


def load_classifier(folder: Path, threads: int = 2, encoder_backend: str = "auto") -> Classifier:
    """Rebuild the classifier saved in ``folder`` (the package's checksums are the caller's job, before this;
    an ONNX graph is checked against ``model.json`` here)."""
    folder = Path(folder)
    spec = read_json(folder / MODEL_FILE)
    if spec.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{folder}: unsupported model format {spec.get('format_version')!r}")
    try:
        family = FAMILIES[spec["family"]]
    except KeyError:
        raise ValueError(f"{folder}: unknown model family {spec.get('family')!r}") from None
    return family._load_parts(folder, spec, threads, encoder_backend)
