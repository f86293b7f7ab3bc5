"""Ticket ids as stored: the caller's id when it is a safe opaque token, otherwise a keyed hash of it.

Why: clients send whatever they use as a ticket id, sometimes an e-mail address, a phone or an account
number. An id is stored as sent only when it matches ``SAFE_ID`` and the redaction finds nothing in it;
otherwise ``h_`` + HMAC-SHA256 under the deployment's key (first 32 hex digits). The mapping is
deterministic, so ``/feedback`` with the same id finds the row; UUIDs are kept as sent, and a stored hashed id
sent back (from the review queue) maps to itself. The response always echoes the id as the caller sent it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import uuid
from pathlib import Path

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
HASHED_ID = re.compile(r"^h_[0-9a-f]{32}$")
# UUIDs (hex or canonical) are opaque by construction, though their hex often holds six digits in a row
UUID_ID = re.compile(
    r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)


def new_ticket_id() -> str:
    """An id for a ticket sent without one: 122 random bits (unguessable, so no one labels a ticket they were not
    shown) in a form ``IdHasher.stored`` always keeps as sent, so the review queue shows the id the client got."""
    return uuid.uuid4().hex


class IdHasher:
    """``stored(id)``: the id to keep in the prediction log for a caller's ``id``."""

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("the id hash key must have at least 16 bytes")
        self._key = key

    def stored(self, ticket_id: str) -> str:
        from ticketops.serving.redaction import redact

        if HASHED_ID.fullmatch(ticket_id) or UUID_ID.fullmatch(ticket_id):
            return ticket_id
        if SAFE_ID.fullmatch(ticket_id) and redact(ticket_id) == ticket_id:
            return ticket_id
        digest = hmac.new(self._key, ticket_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"h_{digest[:32]}"


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``, created (32 random bytes, mode 0600) when missing: one key per deployment."""
    path = Path(path)
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex())
        return key
    except FileExistsError:  # another replica created it first
        return bytes.fromhex(path.read_text().strip())


def deployment_key(key_hex, key_file: Path | None) -> bytes:
    """The deployment's id-hash key: ``TICKETOPS_ID_HASH_KEY`` (hex) or the key file, created on first use."""
    if key_hex is not None:
        return bytes.fromhex(key_hex.get_secret_value())
    from ticketops.settings import project_root

    return load_or_create_key(key_file or project_root() / ".ticketops" / "id-hash.key")
