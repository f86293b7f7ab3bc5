"""Run the real BentoML service in-process (BentoML's ASGI app + Starlette's TestClient) on a tiny registered model."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from starlette.testclient import TestClient

TOKEN = "test-token-3f9c1e7a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` for the block (service settings are re-read), then restore the previous environment."""
    from ticketops.settings import service_settings

    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    service_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        service_settings.cache_clear()


def wait_ready(client: TestClient, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"service not ready after {timeout:.0f}s")


@contextmanager
def service_client(env: Mapping[str, str], ready: bool = True) -> Iterator[TestClient]:
    """The service's full ASGI app (BentoML routes, mounted contract app, middlewares, lifespan hooks)."""
    from serving.service import TicketClassifier

    with environment(env), TestClient(TicketClassifier.to_asgi(), raise_server_exceptions=False) as client:
        if ready:
            wait_ready(client)
        yield client


def runtime():
    """The runtime of the service instance the current client runs."""
    import bentoml

    return bentoml.get_current_service().runtime


@contextmanager
def live_service(env: Mapping[str, str], timeout: float = 90.0) -> Iterator[str]:
    """The service's ASGI app on a free loopback port (uvicorn in a thread), for real HTTP clients; yields its URL."""
    import threading

    import httpx
    import uvicorn

    from ticketops.processes import free_port

    with environment(env):
        from serving.service import TicketClassifier

        port = free_port()
        config = uvicorn.Config(
            TicketClassifier.to_asgi(), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="live-service", daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                server.should_exit = True
                raise AssertionError(f"service not ready after {timeout:.0f}s")
            time.sleep(0.2)
        try:
            yield url
        finally:
            server.should_exit = True
            thread.join(30)
