"""The model card: what the model is for, how it was measured, where it fails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ticketops.config import Params
from ticketops.data.catalogue import Catalogue
from ticketops.evaluation.evaluate import Evaluation


def new_categories_table(catalogue: Catalogue | None, train: pd.DataFrame) -> str:
    """The categories an admin added to the catalogue, with how many training tickets each had."""
    added = catalogue.added() if catalogue is not None else []
    if not added:
        return "None: every category is one of the seed intents."
    counts = train["label"].value_counts()
    rows = "\n".join(
        f"| {c.name} | {c.description} | {c.added_by} | {c.added_at} | {int(counts.get(c.name, 0))} |" for c in added
    )
    header = "| category | description | added by | added at | training tickets |\n| --- | --- | --- | --- | --- |"
    return f"{header}\n{rows}"


def encoder_section(encoder: dict[str, Any] | None) -> str:
    """What encodes the tickets at serving time, and the SHA-256 its graph is checked against at load."""
    if encoder is None:
        return "None: tf-idf features only."
    if "graph_sha256" not in encoder:
        return f"{encoder['backend']}; no ONNX graph in use."
    return (
        f"{encoder['backend']}. Graph `{encoder['graph']}`, SHA-256 `{encoder['graph_sha256']}`, "
        f"opset {encoder['opset']}, {encoder['exporter']}; tokenizer `{encoder['tokenizer']}`, SHA-256 "
        f"`{encoder['tokenizer_sha256']}`; at most {encoder['max_length']} tokens. Both files are in the checksum "
        "manifest and the signed package, and loading refuses a graph whose SHA-256 differs from this one."
    )


def weights_section(weights: dict[str, Any] | None) -> str:
    """Which pretrained encoder the model was built on, where its weights came from, and their SHA-256."""
    if not weights:
        return "None: tf-idf features only."
    return (
        f"`{weights['name']}`, from {weights['source']}; `model.safetensors` SHA-256 `{weights['sha256']}` "
        "(checked against the installed weights whenever torch loads them)."
    )


def render_model_card(
    family: str,
    result: Evaluation,
    params: Params,
    labels: Sequence[str] = (),
    catalogue: Catalogue | None = None,
    train: pd.DataFrame | None = None,
    encoder: dict[str, Any] | None = None,
    heldout_source: str = "validation split",
    weights: dict[str, Any] | None = None,
) -> str:
    test, val, behaviour = result.metrics["test"], result.metrics["heldout"], result.metrics["behaviour"]
    low, high = test["accuracy_ci95"]
    worst = result.per_class.sort_values("f1").head(5)
    worst_rows = "\n".join(
        f"| {r.label} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} | {r.support} |" for r in worst.itertuples()
    )
    invariance = "\n".join(
        f"| {name.removeprefix('invariance_')} | {value:.3f} |"
        for name, value in behaviour.items()
        if name.startswith("invariance_")
    )
    target = params.evaluate.review_precision_target
    version = f" (label catalogue version {catalogue.version})" if catalogue is not None else ""
    new = new_categories_table(catalogue, train if train is not None else pd.DataFrame({"label": []}))
    return f"""# Model card: ticket-classifier ({family})

**Task.** Route online-banking support tickets to one of {len(labels) or 77} categories{version}: Banking77's intents
and those an admin added (`ticketops labels add`). Tickets whose confidence is
below the review threshold are flagged `needs_review` and go to a person.

**Data.** Banking77 training split (CC BY 4.0, PolyAI) plus agent-labelled feedback batches under
`data/feedback/`. Test tickets are a fixed, stratified {params.split.test_fraction:.0%} of the seed data, the same on
every data version, so versions are compared on the same tickets.

**Model family.** `{family}` (see `params.yaml`, section `train`).

**Pretrained encoder.** {weights_section(weights)}

**Sentence encoder at serving time.** {encoder_section(encoder)}

## Test split ({test["n"]} tickets)

| metric | value |
| --- | --- |
| accuracy | {test["accuracy"]:.4f} (95% interval {low:.4f}–{high:.4f}) |
| macro-F1 | {test["macro_f1"]:.4f} |
| expected calibration error | {test["ece"]:.4f} |
| review threshold (chosen on held-out answers) | {result.review_threshold:.4f} |
| review rate | {test["review_rate"]:.2%} |
| precision of tickets not sent to review | {test["auto_precision"]:.4f} (target {target}) |

Held-out answers ({heldout_source}, {val["n"]:,} tickets, each answered by a model that never saw it):
accuracy {val["accuracy"]:.4f}, review rate {val["review_rate"]:.2%}. They chose the review threshold.
The drift reference ({len(result.reference):,} tickets) is {result.reference_source}.

## Behaviour (CheckList style)

| invariance to | prediction unchanged |
| --- | --- |
{invariance}

Minimum-functionality tickets right: {behaviour["min_functionality_accuracy"]:.3f}.
Checks passed: {behaviour["passed"]}.

## Weakest intents (test F1)

| intent | precision | recall | F1 | support |
| --- | --- | --- | --- | --- |
{worst_rows}

## New categories

{new}

## Limits

English only; tickets outside the catalogue get one of its labels anyway (watch the review rate and the drift
monitor); accuracy is measured on tickets written like the Banking77 queries, not on long e-mails.
Plots: `models/plots/confusion.png`, `models/plots/reliability.png`.
"""
