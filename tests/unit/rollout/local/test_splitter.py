"""The local splitter: exact weighted routing, the split kept on disk, the admin API (admin role, its own
loopback port, only the stack's replicas as upstreams), forwarding, and the retry on stable when the canary
cannot be reached. Upstreams are tiny aiohttp apps on loopback."""

from __future__ import annotations

import socket

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from ticketops.rollout.local.splitter import (
    Router,
    Split,
    UpstreamRefused,
    build_apps,
    load_split,
    save_split,
    splitter_authorizer,
)

# The splitter keeps its client session under a string key; aiohttp recommends AppKey (a style warning).
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")

# --- routing -------------------------------------------------------------------------------------


def picks(split: Split, n: int) -> list[str]:
    router = Router(split)
    return [router.pick()[0] for _ in range(n)]


@pytest.mark.parametrize("weight", [0, 1, 10, 33, 50, 99, 100])
def test_the_canary_gets_exactly_its_weight_of_every_hundred_requests(weight):
    tracks = picks(Split(stable="http://s", canary="http://c", weight=weight), 300)
    for start in range(0, 300, 100):
        assert tracks[start : start + 100].count("canary") == weight


def test_canary_requests_are_spread_out_not_bunched():
    tracks = picks(Split(stable="http://s", canary="http://c", weight=10), 100)
    positions = [i for i, track in enumerate(tracks) if track == "canary"]
    assert positions == list(range(9, 100, 10))


def test_pick_returns_the_upstream_urls():
    router = Router(Split(stable="http://s", canary="http://c", weight=50))
    assert [router.pick() for _ in range(2)] == [("stable", "http://s"), ("canary", "http://c")]


def test_no_canary_means_stable_whatever_the_weight():
    assert set(picks(Split(stable="http://s", canary=None, weight=100), 20)) == {"stable"}


@pytest.mark.parametrize("weight", [-1, 101])
def test_a_weight_outside_0_to_100_is_refused(weight):
    with pytest.raises(ValidationError):
        Split(stable="http://s", canary="http://c", weight=weight)


def test_split_round_trips_through_its_file(tmp_path):
    path = tmp_path / "split.json"
    save_split(path, Split(stable="http://s", canary="http://c", weight=20))
    assert load_split(path) == Split(stable="http://s", canary="http://c", weight=20)
    save_split(path, Split(stable="http://c"))
    assert load_split(path) == Split(stable="http://c", canary=None, weight=0)
    assert [p.name for p in tmp_path.iterdir()] == ["split.json"]  # no temporary file left behind


# --- the app ---------------------------------------------------------------------------------------


def upstream_app(name: str) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == "/teapot":
            return web.json_response({"name": name}, status=418, headers={"X-Upstream": name})
        return web.json_response(
            {
                "name": name,
                "method": request.method,
                "path_qs": request.path_qs,
                "body": body.decode(),
                "custom": request.headers.get("X-Custom"),
            },
            headers={"X-Upstream": name},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest_asyncio.fixture
async def upstreams():
    servers = {name: TestServer(upstream_app(name), host="127.0.0.1") for name in ("stable", "canary")}
    for server in servers.values():
        await server.start_server()
    yield {name: str(server.make_url("")).rstrip("/") for name, server in servers.items()}
    for server in servers.values():
        await server.close()


TOKEN = "splitter-admin-token-5b1e"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


class Splitter:
    """A running splitter (public and admin app) and their test clients; ``start(split)`` writes the split file
    first. ``allowed`` are the stack's replicas: the upstreams a split may name."""

    def __init__(self, path, allowed: set[str]):
        self.path = path
        self.allowed = allowed
        self.token_file = path.parent / "splitter.token"
        self.token_file.write_text(TOKEN)
        self.clients: list[TestClient] = []
        self.admin: TestClient | None = None

    async def start(self, split: Split | None = None) -> TestClient:
        if split is not None:
            self.allowed |= {url for url in (split.stable, split.canary) if url}
            save_split(self.path, split)
        public, admin = build_apps(self.path, splitter_authorizer(self.token_file), lambda: set(self.allowed))
        client = TestClient(TestServer(public, host="127.0.0.1"))
        self.admin = TestClient(TestServer(admin, host="127.0.0.1"))
        for c in (client, self.admin):
            await c.start_server()
            self.clients.append(c)
        return client


@pytest_asyncio.fixture
async def splitter(tmp_path, upstreams):
    holder = Splitter(tmp_path / "split.json", set(upstreams.values()))
    yield holder
    for client in holder.clients:
        await client.close()


async def metric_values(client: TestClient) -> dict[tuple[str, tuple], float]:
    text = await (await client.get("/-/metrics")).text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.asyncio
async def test_get_split_and_healthz(splitter, upstreams):
    await splitter.start(Split(stable=upstreams["stable"], canary=upstreams["canary"], weight=30))
    assert await (await splitter.admin.get("/-/split", headers=ADMIN)).json() == {
        "stable": upstreams["stable"],
        "canary": upstreams["canary"],
        "weight": 30,
        "mirror": False,
        "max_in_flight": 8,
    }
    assert await (await splitter.admin.get("/-/healthz")).json() == {"status": "ok"}
    assert (await metric_values(splitter.admin))[("ticketops_splitter_canary_weight", ())] == 30


@pytest.mark.asyncio
async def test_forwarding_follows_the_weight_and_marks_the_track(splitter, upstreams):
    client = await splitter.start(Split(stable=upstreams["stable"], canary=upstreams["canary"], weight=25))
    tracks = []
    for _ in range(8):
        response = await client.post("/classify", json={"tickets": []})
        body = await response.json()
        assert response.status == 200
        assert response.headers["X-Ticketops-Track"] == body["name"] == response.headers["X-Upstream"]
        tracks.append(body["name"])
    assert tracks == ["stable", "stable", "stable", "canary"] * 2
    values = await metric_values(splitter.admin)
    assert values[("ticketops_splitter_requests_total", (("status", "200"), ("track", "stable")))] == 6
    assert values[("ticketops_splitter_requests_total", (("status", "200"), ("track", "canary")))] == 2


@pytest.mark.asyncio
async def test_method_path_query_body_headers_and_status_pass_through(splitter, upstreams):
    client = await splitter.start(Split(stable=upstreams["stable"]))
    response = await client.put("/feedback/x?a=1&b=two", data=b"raw body", headers={"X-Custom": "kept"})
    assert await response.json() == {
        "name": "stable",
        "method": "PUT",
        "path_qs": "/feedback/x?a=1&b=two",
        "body": "raw body",
        "custom": "kept",
    }
    teapot = await client.get("/teapot")
    assert teapot.status == 418 and teapot.headers["X-Ticketops-Track"] == "stable"
    values = await metric_values(splitter.admin)
    assert values[("ticketops_splitter_requests_total", (("status", "418"), ("track", "stable")))] == 1


@pytest.mark.asyncio
async def test_put_split_changes_routing_and_survives_a_restart(splitter, upstreams):
    client = await splitter.start(Split(stable=upstreams["stable"]))
    assert (await (await client.get("/x")).json())["name"] == "stable"
    new = {
        "stable": upstreams["stable"],
        "canary": upstreams["canary"],
        "weight": 100,
        "mirror": False,
        "max_in_flight": 8,
    }
    response = await splitter.admin.put("/-/split", json=new, headers=ADMIN)
    assert response.status == 200 and await response.json() == new
    assert (await (await client.get("/x")).json())["name"] == "canary"
    assert (await metric_values(splitter.admin))[("ticketops_splitter_canary_weight", ())] == 100
    assert load_split(splitter.path) == Split(**new)

    restarted = await splitter.start()  # reads the same file
    assert await (await splitter.admin.get("/-/split", headers=ADMIN)).json() == new
    assert (await (await restarted.get("/x")).json())["name"] == "canary"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [b'{"stable": "http://s", "weight": 150}', b'{"weight": 10}', b"not json", b'["http://s"]'],
)
async def test_a_bad_split_is_refused_and_changes_nothing(splitter, upstreams, payload):
    before = Split(stable=upstreams["stable"], canary=upstreams["canary"], weight=10)
    await splitter.start(before)
    file_before = splitter.path.read_text()
    response = await splitter.admin.put("/-/split", data=payload, headers={**ADMIN, "Content-Type": "application/json"})
    assert response.status == 400
    assert "error" in await response.json()
    assert await (await splitter.admin.get("/-/split", headers=ADMIN)).json() == before.model_dump()
    assert splitter.path.read_text() == file_before
    assert (await metric_values(splitter.admin))[("ticketops_splitter_canary_weight", ())] == 10


@pytest.mark.asyncio
async def test_an_unreachable_canary_is_retried_on_stable(splitter, upstreams):
    client = await splitter.start(Split(stable=upstreams["stable"], canary=closed_port_url(), weight=100))
    for _ in range(3):
        response = await client.post("/classify", data=b"{}")
        assert response.status == 200
        assert response.headers["X-Ticketops-Track"] == "stable"
        assert (await response.json())["name"] == "stable"
    values = await metric_values(splitter.admin)
    assert values[("ticketops_splitter_retries_total", ())] == 3
    assert values[("ticketops_splitter_failed_total", ())] == 0
    assert values[("ticketops_splitter_requests_total", (("status", "200"), ("track", "stable")))] == 3


@pytest.mark.asyncio
async def test_an_unreachable_stable_is_a_502_counted_as_failed(splitter):
    client = await splitter.start(Split(stable=closed_port_url()))
    response = await client.get("/classify")
    assert response.status == 502
    assert await response.json() == {"error": "no upstream could answer"}
    values = await metric_values(splitter.admin)
    assert values[("ticketops_splitter_failed_total", ())] == 1
    assert values[("ticketops_splitter_retries_total", ())] == 0  # stable is never retried on itself


@pytest.mark.asyncio
async def test_both_unreachable_retries_once_then_fails(splitter):
    client = await splitter.start(Split(stable=closed_port_url(), canary=closed_port_url(), weight=100))
    assert (await client.get("/classify")).status == 502
    values = await metric_values(splitter.admin)
    assert values[("ticketops_splitter_retries_total", ())] == 1
    assert values[("ticketops_splitter_failed_total", ())] == 1


# --- the admin API's trust boundary ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_admin_routes_are_not_on_the_public_port(splitter, upstreams):
    client = await splitter.start(Split(stable=upstreams["stable"]))
    for method in ("GET", "PUT"):
        for path in ("/-/split", "/-/metrics", "/-/healthz"):
            response = await client.request(method, path, json={"stable": "http://evil.example"}, headers=ADMIN)
            assert response.status == 404, (method, path)
            assert "X-Upstream" not in response.headers  # answered by the splitter, never forwarded
    assert load_split(splitter.path) == Split(stable=upstreams["stable"])


@pytest.mark.asyncio
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
async def test_changing_or_reading_the_split_needs_the_admin_token(splitter, upstreams, headers):
    await splitter.start(Split(stable=upstreams["stable"]))
    new = {"stable": upstreams["stable"], "canary": upstreams["canary"], "weight": 100}
    assert (await splitter.admin.put("/-/split", json=new, headers=headers)).status == 401
    assert (await splitter.admin.get("/-/split", headers=headers)).status == 401
    assert load_split(splitter.path) == Split(stable=upstreams["stable"])
    assert (await splitter.admin.get("/-/healthz")).status == 200  # probes and metrics stay open (loopback)


@pytest.mark.asyncio
@pytest.mark.parametrize("field", ["stable", "canary"])
async def test_an_upstream_that_is_not_a_stack_replica_is_refused(splitter, upstreams, field):
    client = await splitter.start(Split(stable=upstreams["stable"]))
    evil = {"stable": upstreams["stable"], "canary": upstreams["canary"], "weight": 50, field: "http://10.9.9.9:80"}
    response = await splitter.admin.put("/-/split", json=evil, headers=ADMIN)
    assert response.status == 422
    assert load_split(splitter.path) == Split(stable=upstreams["stable"])
    assert (await (await client.get("/x")).json())["name"] == "stable"


@pytest.mark.asyncio
async def test_a_split_file_naming_a_foreign_upstream_is_refused_at_start(splitter, upstreams):
    save_split(splitter.path, Split(stable="http://attacker.example:8080"))
    with pytest.raises(UpstreamRefused):
        await splitter.start()


@pytest.mark.asyncio
async def test_a_split_that_is_not_json_gets_415(splitter, upstreams):
    await splitter.start(Split(stable=upstreams["stable"]))
    response = await splitter.admin.put(
        "/-/split", data=b"stable=http://x", headers={**ADMIN, "Content-Type": "text/plain"}
    )
    assert response.status == 415
