"""Authenticity before any load: packages are signed at registration and verified with the deployment's public
key; an ungated version is refused unless an admin forces it; a review threshold must lie in (0, 1)."""

from __future__ import annotations

import pytest

from tests.helpers.tiny_model import register_tiny_model, tiny_registry
from ticketops.modeling.predictor import Predictor
from ticketops.registry.loading import open_model
from ticketops.registry.signing import SignatureInvalid, create_keypair
from ticketops.registry.store import GateNotPassed, client


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One store (migrations cost seconds): v1 signed by the deployment, v2 by an attacker who has registry
    write access (rewritten serving.json, consistent manifest and tag), v3 unsigned, v4 signed but ungated."""
    import os

    import ticketops.registry.signing as signing

    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("signing")
    keys = root / "keys"
    create_keypair(keys / "deploy.pem", keys / "deploy.pub")
    create_keypair(keys / "attacker.pem", keys / "attacker.pub")
    try:
        registry = tiny_registry(root / "registry")
        os.environ["TICKETOPS_SIGNING_KEY"] = str(keys / "deploy.pem")
        os.environ["TICKETOPS_MODEL_PUBLIC_KEY"] = str(keys / "deploy.pub")
        good = register_tiny_model(registry, alias=None)
        os.environ["TICKETOPS_SIGNING_KEY"] = str(keys / "attacker.pem")
        forged = register_tiny_model(registry, alias=None, review_threshold=0.05)
        os.environ["TICKETOPS_SIGNING_KEY"] = str(keys / "deploy.pem")
        real_sign = signing.sign_package
        signing.sign_package = lambda folder, key: None  # a registration that skips signing
        try:
            unsigned = register_tiny_model(registry, alias=None)
        finally:
            signing.sign_package = real_sign
        ungated = register_tiny_model(registry, alias=None, gate_passed=False)
        yield {"good": good, "forged": forged, "unsigned": unsigned, "ungated": ungated, "env": dict(os.environ)}
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def uri(versions, monkeypatch):
    for key, value in versions["env"].items():
        monkeypatch.setenv(key, value)
    return lambda kind: f"models:/ticket-classifier/{versions[kind]}"


def test_a_package_signed_by_the_deployment_key_loads(uri) -> None:
    with open_model(uri("good")) as model:
        assert (model.folder / "model.sig").is_file()
        assert model.predictor.score(["card lost"]).labels


def test_a_package_with_a_valid_manifest_but_another_key_is_refused(uri) -> None:
    """The attack: registry write access, a rewritten serving.json, a matching manifest and artifact_sha256 tag."""
    with pytest.raises(SignatureInvalid, match="does not verify"), open_model(uri("forged")):
        pass


def test_an_unsigned_package_is_refused(uri) -> None:
    with pytest.raises(SignatureInvalid, match="not signed"), open_model(uri("unsigned")):
        pass


def test_an_ungated_version_is_refused_unless_an_admin_forces_it(uri, versions) -> None:
    with pytest.raises(GateNotPassed), open_model(uri("ungated")):
        pass
    with open_model(uri("ungated"), forced_versions=frozenset({versions["ungated"]})) as model:
        assert model.forced and model.version == versions["ungated"]
    assert client().get_model_version("ticket-classifier", versions["ungated"]).tags["gate_passed"] == "false"


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.1, 1.5])
def test_a_review_threshold_outside_zero_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match=r"review_threshold must be in \(0, 1\)"):
        Predictor(classifier=None, review_threshold=threshold)


def test_a_review_threshold_inside_zero_one_is_accepted() -> None:
    assert Predictor(classifier=None, review_threshold=0.35).review_threshold == 0.35
