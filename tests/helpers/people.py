"""Users with roles, a label catalogue and labelled examples for a service under test (tests of issue 13)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.helpers.tiny_model import tiny_frame, tiny_labels
from ticketops.data.catalogue import save_catalogue, seed_catalogue
from ticketops.fileio import write_csv
from ticketops.serving.auth import token_sha256

USERS = {  # name: (role, token)
    "crm-backend": ("client", "tok-client-5b1e"),
    "agent-1": ("agent", "tok-agent1-77aa"),
    "agent-2": ("agent", "tok-agent2-90cd"),
    "ops-admin": ("admin", "tok-admin-c3f0"),
}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {USERS[name][1]}"}


def write_users(path: Path, users: dict[str, tuple[str, str]] | None = None) -> Path:
    entries = [
        {"name": name, "role": role, "token_sha256": token_sha256(token)}
        for name, (role, token) in (users or USERS).items()
    ]
    path.write_text(yaml.safe_dump({"users": entries}))
    return path


@dataclass(frozen=True)
class PeopleSetup:
    users_file: Path
    catalogue: Path
    examples: Path
    log_db: Path

    def env(self) -> dict[str, str]:
        return {
            "TICKETOPS_MODEL_URI": "models:/ticket-classifier@champion",
            "TICKETOPS_AUTH_FILE": str(self.users_file),
            "TICKETOPS_CATALOGUE_PATH": str(self.catalogue),
            "TICKETOPS_REVIEW_EXAMPLES_PATH": str(self.examples),
            "TICKETOPS_PREDICTION_LOG_URL": f"sqlite:///{self.log_db}",
        }


def people_setup(folder: Path) -> PeopleSetup:
    """A users file (client, two agents, admin), a catalogue of the tiny labels, the tiny tickets as examples."""
    folder.mkdir(parents=True, exist_ok=True)
    catalogue = folder / "catalogue.json"
    save_catalogue(catalogue, seed_catalogue(tiny_labels()))
    examples = folder / "train.csv"
    write_csv(examples, tiny_frame()[["text", "label"]])
    return PeopleSetup(write_users(folder / "users.yaml"), catalogue, examples, folder / "predictions.db")
