"""DVC stage ``evaluate``: metrics, plots, behavioural checks, the review threshold and the model card."""

from pathlib import Path

from ticketops.config import load_params
from ticketops.data.catalogue import is_catalogue, load_catalogue
from ticketops.data.labels import load_labels
from ticketops.evaluation.evaluate import cascade_metrics, evaluate_classifier
from ticketops.evaluation.model_card import render_model_card
from ticketops.evaluation.plots import confusion_png, reliability_png
from ticketops.fileio import read_csv, read_json, write_csv, write_json
from ticketops.modeling.classifiers import CascadeClassifier, load_classifier

MODEL_DIR = Path("models/model")
EVAL_DIR = Path("models/evaluation")
PLOTS = Path("models/plots")


def main() -> None:
    params = load_params()
    p = params.evaluate
    labels = load_labels(params.ingest.labels_path)
    classifier = load_classifier(MODEL_DIR, threads=params.train.threads)
    validation, test = read_csv("data/splits/validation.csv"), read_csv("data/splits/test.csv")
    # Minimum functionality covers the intents the model was trained on (a held-out intent is unknown to it
    # by design: split.holdout_labels); the test split still scores every intent.
    trained_labels = set(read_csv("data/splits/train.csv")["label"])
    mft = read_csv(p.min_functionality_path)
    mft = mft[mft["label"].isin(trained_labels)]
    result = evaluate_classifier(
        classifier.predict_proba,
        labels,
        validation,
        test,
        mft,
        precision_target=p.review_precision_target,
        calibration_bins=p.calibration_bins,
        invariance_min_agreement=p.invariance_min_agreement.model_dump(),
        mft_min_accuracy=p.min_functionality_min_accuracy,
        reference_size=p.reference_sample_size,
        seed=params.split.seed,
    )
    if isinstance(classifier, CascadeClassifier):
        result.metrics["cascade"] = cascade_metrics(classifier, test["text"].tolist(), test["label"])
    PLOTS.mkdir(parents=True, exist_ok=True)
    write_json("models/metrics.json", result.metrics)
    write_csv(PLOTS / "per_class.csv", result.per_class)
    write_csv(PLOTS / "calibration.csv", result.calibration)
    write_csv(PLOTS / "confusion.csv", result.test_predictions[["label", "predicted"]])
    family = read_json("models/train.json")["family"]
    test_metrics = result.metrics["test"]
    confusion_png(
        test["label"],
        result.test_predictions["predicted"],
        labels,
        PLOTS / "confusion.png",
        f"{family}: test accuracy {test_metrics['accuracy']:.3f}",
    )
    reliability_png(result.calibration, PLOTS / "reliability.png", f"{family}: ECE {test_metrics['ece']:.3f}")
    write_json(
        EVAL_DIR / "serving.json",
        {"review_threshold": result.review_threshold, "review_precision_target": p.review_precision_target},
    )
    write_json(EVAL_DIR / "behaviour.json", result.behaviour)
    write_csv(EVAL_DIR / "reference.csv", result.reference)
    write_csv(EVAL_DIR / "test_predictions.csv", result.test_predictions)
    catalogue = load_catalogue(Path(params.ingest.labels_path)) if is_catalogue(params.ingest.labels_path) else None
    card = render_model_card(family, result, params, labels, catalogue, read_csv("data/splits/train.csv"))
    Path("models/MODEL_CARD.md").write_text(card)
    print(
        f"evaluate: test accuracy {test_metrics['accuracy']:.4f}, macro-F1 {test_metrics['macro_f1']:.4f}, "
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
