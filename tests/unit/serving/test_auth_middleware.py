"""The same roles guard an aiohttp service (the splitter's admin API and the retrain webhook will use it)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.helpers.people import USERS, write_users
from ticketops.serving.auth import ADMINS, PUBLIC, Authorizer, UserDirectory
from ticketops.serving.auth_middleware import aiohttp_middleware


@pytest.mark.asyncio
async def test_aiohttp_routes_get_401_403_and_the_caller(tmp_path) -> None:
    authorizer = Authorizer(
        UserDirectory(write_users(tmp_path / "users.yaml")), {"/-/split": ADMINS, "/-/healthz": PUBLIC}
    )

    async def split(request: web.Request) -> web.Response:
        return web.json_response({"by": request["user"].name})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[aiohttp_middleware(authorizer)])
    app.router.add_put("/-/split", split)
    app.router.add_get("/-/healthz", healthz)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/-/healthz")).status == 200
        anonymous = await client.put("/-/split")
        assert anonymous.status == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        agent = await client.put("/-/split", headers={"Authorization": f"Bearer {USERS['agent-1'][1]}"})
        assert agent.status == 403 and (await agent.json())["error"] == "forbidden"
        admin = await client.put("/-/split", headers={"Authorization": f"Bearer {USERS['ops-admin'][1]}"})
        assert admin.status == 200 and (await admin.json()) == {"by": "ops-admin"}
