"""Import a registered model into the BentoML model store so ``bentoml build`` packs it into the Bento.

    .venv/bin/python serving/import_model.py [--model-uri models:/ticket-classifier@champion]

Prints the BentoML tag (``ticket-classifier:v<version>-<digest>``). The files are verified against the
registry's digest on the way in and again every time the Bento starts.
"""

from __future__ import annotations

import argparse

from ticketops.registry.bento import import_from_registry
from ticketops.settings import DEFAULT_MODEL_URI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=DEFAULT_MODEL_URI, help="registry URI (default: the champion)")
    args = parser.parse_args()
    print(import_from_registry(args.model_uri))


if __name__ == "__main__":
    main()
