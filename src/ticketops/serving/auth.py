"""Users, roles and the route table: who may call what, for every HTTP service of ticketops.

Users come from the YAML file named by ``TICKETOPS_AUTH_FILE`` (names, roles and SHA-256s of tokens, never
tokens), reloaded when its mtime changes or on SIGHUP; ``TICKETOPS_API_TOKEN`` alone is one ``admin`` user
called ``admin``. A route table (the classifier's is ``serving/access.py``) gives every route an explicit
decision: public, or the roles allowed. Decisions are made by
``Authorizer.decide`` so an aiohttp or Starlette service (splitter, retrain webhook) uses the same code:
a missing or unknown token is 401, a known token whose role lacks the route is 403.

Tokens are compared in constant time over their SHA-256 against every user (no early exit), so neither the
content nor the length of a token, nor which user matched, leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

logger = logging.getLogger("ticketops.serving")

Role = Literal["client", "agent", "admin"]
ROLES: tuple[Role, ...] = ("client", "agent", "admin")
PUBLIC: frozenset[Role] = frozenset()  # no token needed
ANY_USER: frozenset[Role] = frozenset(ROLES)
AGENTS: frozenset[Role] = frozenset({"agent", "admin"})
ADMINS: frozenset[Role] = frozenset({"admin"})
RELOAD_CHECK_S = 1.0  # how often a request may stat the users file


class AuthConfigError(ValueError):
    """The users file or the environment does not describe a usable set of users."""


class User(BaseModel):
    """One caller: a name (the audit trail's actor) and a role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    role: Role
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)


class UsersFile(BaseModel):
    """The ``TICKETOPS_AUTH_FILE`` document."""

    model_config = ConfigDict(extra="forbid")

    users: list[User]

    @model_validator(mode="after")
    def _distinct(self) -> UsersFile:
        names = [u.name for u in self.users]
        digests = [u.token_sha256 for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError("user names must be distinct")
        if len(set(digests)) != len(digests):
            raise ValueError("two users share a token")
        return self


def token_sha256(token: str) -> str:
    """What a users file stores for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def load_users(path: Path) -> list[User]:
    """The users of a YAML users file; AuthConfigError names what is wrong (never a token)."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return UsersFile.model_validate(document).users
    except OSError as exc:
        raise AuthConfigError(f"{path}: cannot read the users file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise AuthConfigError(f"{path}: not valid YAML") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise AuthConfigError(f"{path}: {problems}") from exc


def bearer_token(header: bytes | str | None) -> bytes:
    """The token of an ``Authorization: Bearer <token>`` header (empty when absent or another scheme)."""
    if header is None:
        return b""
    raw = header.encode() if isinstance(header, str) else header
    scheme, _, value = raw.strip().partition(b" ")
    return value.strip() if scheme.lower() == b"bearer" else b""


class UserDirectory:
    """The users a service knows, kept current with the users file (mtime checked at most once a second)."""

    def __init__(self, path: Path | None = None, admin_token: SecretStr | None = None):
        self.path = Path(path) if path else None
        token = admin_token.get_secret_value() if admin_token is not None else ""
        self._token_admin = User(name="admin", role="admin", token_sha256=token_sha256(token)) if token else None
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._checked = 0.0
        self._users: list[User] = []
        if self.path is not None:
            self.reload(strict=True)
        elif self._token_admin is not None:
            self._users = [self._token_admin]

    @property
    def configured(self) -> bool:
        """Whether any credential is required (a users file or an API token)."""
        return self.path is not None or self._token_admin is not None

    @property
    def users(self) -> list[User]:
        self._maybe_reload()
        return list(self._users)

    def reload(self, strict: bool = False) -> None:
        """Read the file again; a broken file keeps the previous users (logged), unless ``strict`` (at start)."""
        assert self.path is not None
        try:
            mtime = self.path.stat().st_mtime
            users = load_users(self.path)
        except (OSError, AuthConfigError) as exc:
            if strict:
                raise exc if isinstance(exc, AuthConfigError) else AuthConfigError(f"{self.path}: {exc}") from exc
            logger.error("users file not reloaded, keeping %d user(s): %s", len(self._users), exc)
            return
        with self._lock:
            self._users, self._mtime = users, mtime
        logger.info("users file %s: %d user(s)", self.path, len(users))

    def _maybe_reload(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._checked < RELOAD_CHECK_S:
            return
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return
        if mtime != self._mtime:
            self.reload()

    def install_sighup(self) -> bool:
        """Reload on SIGHUP too (only possible from the main thread); True when installed."""
        if self.path is None or threading.current_thread() is not threading.main_thread():
            return False
        previous = signal.getsignal(signal.SIGHUP)

        def handler(signum, frame) -> None:
            self.reload()
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGHUP, handler)
        return True

    def authenticate(self, header: bytes | str | None) -> User | None:
        """The user whose token the header carries, or None; compares against every user in constant time."""
        presented = bearer_token(header)
        digest = hashlib.sha256(presented).hexdigest().encode()
        found: User | None = None
        for user in self.users:
            if hmac.compare_digest(digest, user.token_sha256.encode()) and presented:
                found = user
        return found


ANONYMOUS = User(name="local", role="admin", token_sha256="0" * 64)  # no credentials configured (loopback only)


@dataclass(frozen=True)
class Decision:
    """The outcome for one request: ``status`` 200 (go on), 401 or 403; ``user`` is who called."""

    status: int
    user: User | None
    message: str = ""


class Authorizer:
    """Decides a request from its method, path and Authorization header against a route table."""

    def __init__(self, directory: UserDirectory, policy: Mapping[str, frozenset[Role]]):
        self.directory = directory
        self.policy = policy

    def allowed(self, method: str, path: str) -> frozenset[Role]:
        """The roles a route admits (``PUBLIC`` for none needed); a route nobody listed needs any signed-in user."""
        rule = self.policy.get(f"{method.upper()} {path}")
        if rule is None:
            rule = self.policy.get(path)
        return ANY_USER if rule is None else rule

    def decide(self, method: str, path: str, header: bytes | str | None) -> Decision:
        roles = self.allowed(method, path)
        if not self.directory.configured:
            return Decision(200, ANONYMOUS)
        user = self.directory.authenticate(header) if roles is not PUBLIC or header else None
        if roles == PUBLIC:
            return Decision(200, user)
        if user is None:
            return Decision(401, None, "missing or unknown bearer token")
        if user.role not in roles:
            return Decision(403, user, f"role {user.role!r} may not call {method.upper()} {path}")
        return Decision(200, user)


LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, directory: UserDirectory) -> None:
    """Refuse (AuthConfigError) to listen beyond loopback when no credential is configured."""
    if not directory.configured and not is_loopback(host):
        raise AuthConfigError(
            f"refusing to listen on {host}: set TICKETOPS_AUTH_FILE or TICKETOPS_API_TOKEN, or bind 127.0.0.1"
        )


def directory_from_settings(settings) -> UserDirectory:
    """The users of a service configured by ``TICKETOPS_AUTH_FILE`` / ``TICKETOPS_API_TOKEN``."""
    return UserDirectory(settings.auth_file, settings.api_token)
