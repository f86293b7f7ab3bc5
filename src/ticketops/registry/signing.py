"""Authenticity of registered packages: OpenSSF model-signing, key-based and offline.

Why: the registry's ``artifact_sha256`` tag proves integrity, not origin. Anyone with registry write access
could upload a package with a rewritten ``serving.json`` (review threshold 0.0) and a matching manifest and
tag. Every package is signed at registration with the registering side's private key (elliptic curve,
P-256); every load verifies the signature with the deployment's public key before any file is deserialised.
No Sigstore, no network: the key pair is the deployment's trust root.

The signature (a Sigstore-format bundle) lives in the package as ``model.sig``; it is outside the checksum
manifest (written after it) and outside what it signs.
"""

from __future__ import annotations

import os
from pathlib import Path

from ticketops.modeling.artifacts import SIGNATURE_FILE


class SignatureInvalid(ValueError):
    """A package's signature is missing, malformed, from another key, or does not match its files."""


def create_keypair(private_key: Path, public_key: Path) -> None:
    """A new P-256 key pair: the private key readable by its owner only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private_key.parent.mkdir(parents=True, exist_ok=True)
    public_key.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(private_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_key.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _hashing(folder: Path):
    """Every file of the package but the signature (paths relative to the package: it moves when downloaded)."""
    from model_signing import hashing

    return hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE])


def sign_package(folder: Path, private_key: Path) -> Path:
    """Sign every file of ``folder`` (its checksum manifest and serving.json included); returns the signature."""
    from model_signing import signing

    folder = Path(folder)
    signature = folder / SIGNATURE_FILE
    signing.Config().use_elliptic_key_signer(private_key=private_key).set_hashing_config(_hashing(folder)).sign(
        folder, signature
    )
    return signature


def verify_signature(folder: Path, public_key: Path) -> None:
    """SignatureInvalid unless ``folder``'s files are exactly what the holder of ``public_key``'s private key signed."""
    from model_signing import verifying

    folder = Path(folder)
    signature = folder / SIGNATURE_FILE
    if not signature.is_file():
        raise SignatureInvalid(f"{folder.name}: no {SIGNATURE_FILE}: the package was not signed at registration")
    if not Path(public_key).is_file():
        raise SignatureInvalid(f"public key {public_key} does not exist (TICKETOPS_MODEL_PUBLIC_KEY)")
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=public_key).set_hashing_config(_hashing(folder)).verify(
            folder, signature
        )
    except Exception as exc:  # model-signing raises ValueError and library-specific errors alike
        raise SignatureInvalid(f"{folder.name}: signature does not verify ({type(exc).__name__}: {exc})") from exc
