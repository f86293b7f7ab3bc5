"""The tiny fixture model (tf-idf on 108 Banking77 tickets, as tests/helpers/tiny_model.py builds it),
trained once per module, and the tickets it never saw in training."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import pytest

from tests.helpers.tiny_model import build_package
from ticketops.fileio import read_csv
from ticketops.modeling.artifacts import REFERENCE_FILE
from ticketops.modeling.predictor import Predictor


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory: pytest.TempPathFactory):
    return build_package(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def tiny_predictor(tiny_package) -> Predictor:
    return Predictor.from_folder(tiny_package, threads=1)


@pytest.fixture(scope="module")
def predict(tiny_predictor: Predictor) -> Callable[[Sequence[str]], list[str]]:
    return lambda texts: tiny_predictor.score(list(texts)).labels


@pytest.fixture(scope="module")
def unseen(tiny_package) -> pd.DataFrame:
    """The validation split the package keeps as its reference sample: never trained on."""
    return read_csv(tiny_package / REFERENCE_FILE)[["text", "label"]]
