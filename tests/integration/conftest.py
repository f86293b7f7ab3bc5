"""Fixtures shared by the integration tests: one real PostgreSQL server per test session."""

from __future__ import annotations

import pytest

from tests.helpers.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.remove()
