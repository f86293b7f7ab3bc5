"""DVC stage ``register``: log the run to MLflow, register a version with lineage, apply the promotion gate."""

from pathlib import Path

from ticketops.config import load_params
from ticketops.fileio import read_csv, read_json, write_json
from ticketops.registry.audit import record_registration
from ticketops.registry.register import register_candidate, registration_summary
from ticketops.registry.store import client


def main() -> None:
    params = load_params()
    result = register_candidate(
        client(),
        params,
        model_dir=Path("models/model"),
        evaluation_dir=Path("models/evaluation"),
        metrics=read_json("models/metrics.json"),
        test=read_csv("data/splits/test.csv"),
        dataset_path=Path(params.ingest.output),
        plots_dir=Path("models/plots"),
        model_card=Path("models/MODEL_CARD.md"),
    )
    summary = registration_summary(result)
    write_json("models/registration.json", summary)
    name = params.registration.model_name
    record_registration(summary, name)
    moved = ", ".join(f"@{a}" for a in result.aliases) or "no alias moved"
    print(
        f"register: {name} v{result.version} ({moved}); "
        f"gate {'passed' if result.gate.passed else 'failed'}: {result.gate.reason}"
    )


if __name__ == "__main__":
    main()
