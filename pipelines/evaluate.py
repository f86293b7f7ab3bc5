"""DVC stage ``evaluate``: metrics, plots, behavioural checks, the review threshold and the model card."""

import argparse
from pathlib import Path

from ticketops.config import load_params
from ticketops.data.catalogue import is_catalogue, load_catalogue
from ticketops.data.labels import load_labels
from ticketops.evaluation.evaluate import cascade_metrics, evaluate_classifier
from ticketops.evaluation.model_card import render_model_card
from ticketops.evaluation.plots import confusion_png, reliability_png
from ticketops.fileio import read_csv, read_json, write_csv, write_json
from ticketops.modeling.classifiers import CascadeClassifier, load_classifier
from ticketops.modeling.encoder_choice import describe_encoder
from ticketops.modeling.predictor import encoder_parts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="the trained model folder")
    parser.add_argument("--train-summary", type=Path, required=True, help="the train stage's summary (JSON)")
    parser.add_argument("--labels", type=Path, required=True, help="the label set (JSON)")
    parser.add_argument("--train", type=Path, required=True, help="train split (CSV): the intents the model knows")
    parser.add_argument("--heldout", type=Path, required=True, help="the train stage's answers on unseen tickets")
    parser.add_argument("--test", type=Path, required=True, help="test split (CSV)")
    parser.add_argument("--min-functionality", type=Path, required=True, help="minimum-functionality tickets (CSV)")
    parser.add_argument("--evaluation-dir", type=Path, required=True, help="output: serving, behaviour, reference")
    parser.add_argument("--metrics", type=Path, required=True, help="output: metrics (JSON)")
    parser.add_argument("--plots-dir", type=Path, required=True, help="output: plot data (CSV) and figures (PNG)")
    parser.add_argument("--model-card", type=Path, required=True, help="output: the model card (Markdown)")
    return parser.parse_args()


def encoder_spec(model_dir: Path, key: str) -> dict | None:
    """``model.json``'s ``key`` record (``encoder``: name, source, SHA-256; ``onnx``: the exported graph) of the
    model, or of a cascade's slow stage."""
    for spec in (model_dir / "model.json", model_dir / CascadeClassifier.SLOW / "model.json"):
        if spec.exists() and key in (record := read_json(spec)):
            return record[key]
    return None


def main() -> None:
    args = parse_args()
    params = load_params()
    p = params.evaluate
    labels = load_labels(args.labels)
    classifier = load_classifier(args.model_dir, threads=params.train.threads)
    heldout, test = read_csv(args.heldout), read_csv(args.test)
    # Minimum functionality covers the intents the model was trained on (a held-out intent is unknown to it
    # by design: split.holdout_labels); the test split still scores every intent.
    trained_labels = set(read_csv(args.train)["label"])
    mft = read_csv(args.min_functionality)
    mft = mft[mft["label"].isin(trained_labels)]
    summary = read_json(args.train_summary)
    result = evaluate_classifier(
        classifier.predict_proba,
        labels,
        heldout,
        test,
        mft,
        precision_target=p.review_precision_target,
        calibration_bins=p.calibration_bins,
        invariance_min_agreement=p.invariance_min_agreement.model_dump(),
        mft_min_accuracy=p.min_functionality_min_accuracy,
        reference_size=p.reference_sample_size,
        seed=params.split.seed,
        reference_labels=trained_labels if summary.get("heldout_mode") == "out_of_fold" else None,
    )
    if isinstance(classifier, CascadeClassifier):
        result.metrics["cascade"] = cascade_metrics(classifier, test["text"].tolist(), test["label"])
    plots: Path = args.plots_dir
    evaluation: Path = args.evaluation_dir
    plots.mkdir(parents=True, exist_ok=True)
    write_json(args.metrics, result.metrics)
    write_csv(plots / "per_class.csv", result.per_class)
    write_csv(plots / "calibration.csv", result.calibration)
    write_csv(plots / "confusion.csv", result.test_predictions[["label", "predicted"]])
    family = summary["family"]
    test_metrics = result.metrics["test"]
    confusion_png(
        test["label"],
        result.test_predictions["predicted"],
        labels,
        plots / "confusion.png",
        f"{family}: test accuracy {test_metrics['accuracy']:.3f}",
    )
    reliability_png(result.calibration, plots / "reliability.png", f"{family}: ECE {test_metrics['ece']:.3f}")
    write_json(
        evaluation / "serving.json",
        {"review_threshold": result.review_threshold, "review_precision_target": p.review_precision_target},
    )
    write_json(evaluation / "behaviour.json", result.behaviour)
    write_csv(evaluation / "reference.csv", result.reference)
    write_csv(evaluation / "test_predictions.csv", result.test_predictions)
    catalogue = load_catalogue(args.labels) if is_catalogue(args.labels) else None
    encoder = next((describe_encoder(part.encoder) for part in encoder_parts(classifier)), None)
    graph = encoder_spec(args.model_dir, "onnx")
    if encoder is not None and graph is not None and "graph_sha256" not in encoder:
        # this machine chose torch bf16 (faster here); the package still carries, and serves, the graph elsewhere
        encoder = {**graph, "backend": f"{encoder['backend']} where faster (as on this machine), else onnxruntime fp32"}
    weights = encoder_spec(args.model_dir, "encoder")
    card = render_model_card(
        family,
        result,
        params,
        labels,
        catalogue,
        read_csv(args.train),
        encoder,
        heldout_source=summary.get("heldout", "validation split"),
        weights=weights,
    )
    args.model_card.write_text(card)
    low, high = test_metrics["accuracy_ci95"]
    print(
        f"evaluate: test accuracy {test_metrics['accuracy']:.4f} (95% CI {low:.4f}-{high:.4f}), "
        f"macro-F1 {test_metrics['macro_f1']:.4f}, "
        f"review threshold {result.review_threshold:.3f} → review rate {test_metrics['review_rate']:.1%} "
        f"at precision {test_metrics['auto_precision']:.4f}; "
        f"behaviour {'passed' if result.behaviour['passed'] else 'FAILED'}"
    )
    if "cascade" in result.metrics:
        c = result.metrics["cascade"]
        print(
            f"evaluate: cascade answers {c['fast_share']:.1%} with tf-idf (accuracy {c['fast_stage_accuracy']:.4f}), "
            f"{c['slow_share']:.1%} with the slow model; cascade {c['cascade_accuracy']:.4f} vs slow alone "
            f"{c['slow_model_accuracy']:.4f}"
        )


if __name__ == "__main__":
    main()
