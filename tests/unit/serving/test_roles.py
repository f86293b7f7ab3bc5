"""Roles on the real service: client/agent/admin x every route, 401 vs 403, users file reloads, bind refusal.

The expected matrix below is written out by hand (not read from ROUTE_POLICY), and every route the ASGI app
exposes must appear in it: a new route without a decision here fails the test.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from starlette.routing import Mount
from typer.testing import CliRunner

from tests.helpers.people import USERS, bearer, write_users
from ticketops.cli import app as cli_app
from ticketops.serving.auth import AuthConfigError, UserDirectory, check_bind, token_sha256

EVERYONE = {"client", "agent", "admin"}
AGENTS = {"agent", "admin"}
ADMIN = {"admin"}
PUBLIC = None
MATRIX: dict[tuple[str, str], set[str] | None] = {
    ("POST", "/classify"): EVERYONE,
    ("POST", "/feedback"): AGENTS,
    ("GET", "/review"): AGENTS,
    ("GET", "/adjudication"): ADMIN,
    ("GET", "/audit"): ADMIN,
    ("GET", "/labels"): AGENTS,
    ("POST", "/labels"): ADMIN,
    ("GET", "/whoami"): EVERYONE,
    ("GET", "/ui"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/livez"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/"): EVERYONE,
    ("GET", "/docs.json"): EVERYONE,
    ("GET", "/schema.json"): EVERYONE,
    ("GET", "/static_content"): EVERYONE,
}
ROLE_USER = {"client": "crm-backend", "agent": "agent-1", "admin": "ops-admin"}


def exposed(app) -> set[tuple[str, str]]:
    """Every (method, path) the ASGI app answers, mounted apps included (HEAD aside)."""
    found: set[tuple[str, str]] = set()

    def add(path: str, route) -> None:
        for method in getattr(route, "methods", None) or {"GET"}:
            if method != "HEAD":
                found.add((method, path))

    for route in app.routes:
        sub = getattr(getattr(route, "app", None), "routes", None)
        if isinstance(route, Mount) and sub is not None:
            for inner in sub:
                add(route.path + inner.path, inner)
        else:
            add(route.path, route)
    return found


def test_every_role_against_every_route(client) -> None:
    routes = exposed(client.app)
    assert routes == set(MATRIX), (
        f"routes without a decision: {sorted(routes - set(MATRIX))}; gone: {sorted(set(MATRIX) - routes)}"
    )
    for (method, path), allowed in MATRIX.items():
        url = "/static_content/index.html" if path == "/static_content" else path
        anonymous = client.request(method, url)
        unknown = client.request(method, url, headers={"Authorization": "Bearer not-a-user"})
        if allowed is PUBLIC:
            assert anonymous.status_code not in (401, 403), (method, path)
            continue
        for response in (anonymous, unknown):
            assert response.status_code == 401, (method, path)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        for role, name in ROLE_USER.items():
            response = client.request(method, url, headers=bearer(name))
            if role in allowed:
                assert response.status_code not in (401, 403), (method, path, role, response.text)
            else:
                assert response.status_code == 403, (method, path, role)
                assert response.json()["error"] == "forbidden"


def test_the_token_must_match_exactly(client) -> None:
    token = USERS["agent-1"][1]
    for header in (token, f"Basic {token}", f"Bearer {token}x", f"Bearer {token[:-1]}", "Bearer ", "Bearer"):
        assert client.get("/whoami", headers={"Authorization": header}).status_code == 401, header
    assert client.get("/whoami", headers=bearer("agent-1")).json()["name"] == "agent-1"


def test_the_users_file_reloads_when_it_changes(client, setup) -> None:
    new = {**USERS, "agent-3": ("agent", "tok-agent3-1234")}
    del new["agent-2"]
    try:
        write_users(setup.users_file, new)
        stamp = time.time() + 5
        os.utime(setup.users_file, (stamp, stamp))
        deadline = time.monotonic() + 10
        while client.get("/whoami", headers={"Authorization": "Bearer tok-agent3-1234"}).status_code != 200:
            assert time.monotonic() < deadline, "the new user was never accepted"
            time.sleep(0.2)
        assert client.get("/whoami", headers=bearer("agent-2")).status_code == 401  # removed: refused at once
        setup.users_file.write_text("users: [ {name: broken")  # a broken edit keeps the users that were loaded
        stamp += 5
        os.utime(setup.users_file, (stamp, stamp))
        time.sleep(1.2)
        assert client.get("/whoami", headers={"Authorization": "Bearer tok-agent3-1234"}).status_code == 200
    finally:
        write_users(setup.users_file)
        stamp = time.time() + 20
        os.utime(setup.users_file, (stamp, stamp))
        time.sleep(1.2)
    assert client.get("/whoami", headers=bearer("agent-2")).status_code == 200


def test_sighup_reloads_the_users_file(tmp_path: Path) -> None:
    path = write_users(tmp_path / "users.yaml", {"a": ("agent", "tok-a")})
    directory = UserDirectory(path)
    previous = signal.getsignal(signal.SIGHUP)
    try:
        assert directory.install_sighup()
        mtime = path.stat().st_mtime
        write_users(path, {"a": ("agent", "tok-a"), "b": ("admin", "tok-b")})
        os.utime(path, (mtime, mtime))  # same mtime: only the signal can make it reload
        directory._checked = time.monotonic()
        assert directory.authenticate(b"Bearer tok-b") is None
        os.kill(os.getpid(), signal.SIGHUP)
        user = directory.authenticate(b"Bearer tok-b")
        assert user is not None and user.name == "b" and user.role == "admin"
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_the_api_token_alone_is_an_admin_named_admin() -> None:
    from pydantic import SecretStr

    directory = UserDirectory(admin_token=SecretStr("s3cret"))
    user = directory.authenticate("Bearer s3cret")
    assert user is not None and (user.name, user.role) == ("admin", "admin")
    assert user.token_sha256 == token_sha256("s3cret")


def test_without_credentials_only_loopback_is_allowed(tmp_path: Path) -> None:
    open_directory = UserDirectory()
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(host, open_directory)
    for host in ("0.0.0.0", "::", "10.1.2.3", "example.org"):
        with pytest.raises(AuthConfigError, match="refusing to listen"):
            check_bind(host, open_directory)
    check_bind("0.0.0.0", UserDirectory(write_users(tmp_path / "u.yaml")))


def test_serve_refuses_a_public_address_without_credentials_and_a_broken_users_file(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TICKETOPS_API_TOKEN", raising=False)
    monkeypatch.delenv("TICKETOPS_AUTH_FILE", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "refusing to listen on 0.0.0.0" in result.output
    broken = tmp_path / "users.yaml"
    broken.write_text(f"users: [{{name: x, role: superuser, token_sha256: '{'0' * 64}'}}]")
    monkeypatch.setenv("TICKETOPS_AUTH_FILE", str(broken))
    result = CliRunner().invoke(cli_app, ["serve", "--host", "127.0.0.1"])
    assert result.exit_code == 2 and "users.0.role" in result.output
