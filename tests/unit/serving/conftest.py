"""The real service with people (client, agents, admin), shared by the role and review-queue tests."""

from __future__ import annotations

import pytest

from tests.helpers.people import people_setup
from tests.helpers.service import service_client
from tests.helpers.tiny_model import register_tiny_model, tiny_registry


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    """A tiny model as @champion, users with roles, a catalogue and examples: one per test module."""
    root = tmp_path_factory.mktemp("people")
    register_tiny_model(tiny_registry(root / "registry"))
    return people_setup(root / "people")


@pytest.fixture(scope="module")
def client(setup):
    with service_client(setup.env()) as c:
        yield c
