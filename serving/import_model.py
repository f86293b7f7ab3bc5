"""Import a registered model into the BentoML model store; with ``--build``, also build a Bento that packs it.

    .venv/bin/python serving/import_model.py [--model-uri models:/ticket-classifier@champion] [--build]

Prints the BentoML model tag (``ticket-classifier:v<version>-<digest>``), and with ``--build`` the Bento's tag.
The files are verified against the registry's digest on the way in and again every time the Bento starts.

``serving/bentofile.yaml`` (``make bento``) is the cluster's service image and carries no model: every pod names
the registry version it serves. ``--build`` is for one machine without a registry at serving time: the same
bentofile, plus the imported model and ``TICKETOPS_MODEL_URI=bento:<tag>`` (one definition of the Bento).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ticketops.registry.bento import BENTO_SCHEME, import_from_registry
from ticketops.settings import DEFAULT_MODEL_URI

BENTOFILE = Path(__file__).with_name("bentofile.yaml")
MODEL_URI_ENV = "TICKETOPS_MODEL_URI"


def build_with_model(tag: str, bentofile: Path = BENTOFILE, build_ctx: Path | None = None) -> str:
    """``bentoml build`` of ``bentofile`` with the model ``tag`` packed in and selected; returns the Bento's tag."""
    import tempfile

    import bentoml
    import yaml

    config = yaml.safe_load(bentofile.read_text())
    envs = [env for env in config.get("envs", []) if env["name"] != MODEL_URI_ENV]
    config["envs"] = [*envs, {"name": MODEL_URI_ENV, "value": f"{BENTO_SCHEME}{tag}"}]
    config["models"] = [tag]
    context = build_ctx or bentofile.resolve().parent.parent  # the repository root: the bentofile's includes
    with tempfile.TemporaryDirectory(prefix="ticketops-bentofile-") as tmp:
        packed = Path(tmp) / "bentofile.yaml"
        packed.write_text(yaml.safe_dump(config, sort_keys=False))
        bento = bentoml.bentos.build_bentofile(str(packed), build_ctx=str(context))
    return str(bento.tag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=DEFAULT_MODEL_URI, help="registry URI (default: the champion)")
    parser.add_argument("--build", action="store_true", help="also build a Bento with this model packed in")
    args = parser.parse_args()
    tag = import_from_registry(args.model_uri)
    print(tag)
    if args.build:
        print(build_with_model(tag))


if __name__ == "__main__":
    main()
