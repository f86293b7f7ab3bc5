"""MLflow ``python_function`` loader for a registered ticketops model (the ``loader_module`` workflow).

Using a loader module instead of a pickled PythonModel means the registered artifact holds only data
files; the code that reads them is this installed package. ``mlflow.pyfunc.load_model`` calls
``_load_pyfunc(path)`` with the folder that ``registry.log_model_version`` stored.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class _PyfuncTicketModel:
    def __init__(self, folder: Path):
        from ticketops.modeling.predictor import Predictor

        self._predictor = Predictor.from_folder(folder)

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        texts = model_input["text"].astype(str).tolist()
        return self._predictor.predict_frame(texts)


def _load_pyfunc(path: str) -> _PyfuncTicketModel:
    return _PyfuncTicketModel(Path(path))
