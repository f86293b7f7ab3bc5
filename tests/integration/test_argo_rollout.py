"""Kubernetes with Argo Rollouts, over HTTP against the emulated API server (managedFields, resourceVersion and the
status subresource included) with a real MLflow registry; the test plays Argo's controller and its kubectl plugin.

`ticketops rollout start --backend argo` pins @challenger's version in the Rollout (never an alias) and refuses
an ungated one; whatever then moves the Rollout (Argo's steps, or an SRE's `kubectl argo rollouts promote --full /
abort / undo` or `kubectl edit`), one reconciliation moves the aliases and writes history and audit with the
actor Kubernetes reports; a second one writes nothing.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time

import pytest
import yaml
from kubernetes import client
from typer.testing import CliRunner

from tests.helpers.argo_rollouts import GROUP, PLURAL, VERSION, KubectlArgoRollouts
from tests.helpers.k8s_fields import FieldTrackingApiServer
from tests.integration.argo_setup import (
    MODEL_NAME,
    NAME,
    NS,
    aliases,
    apply_rollout,
    backend,
    make_registry,
    reconciler,
    reset_registry,
    rollout,
    settings,
)
from ticketops.audit import AuditTrail
from ticketops.cli import app, common
from ticketops.rollout.argo.history import registry_history
from ticketops.rollout.argo.rollout_object import ArgoRollout
from ticketops.rollout.argo.status import TEMPLATE, newest_owner

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def module_registry(tmp_path_factory):
    saved = dict(os.environ)  # tiny_registry points os.environ at the throw-away store
    try:
        make_registry(tmp_path_factory.mktemp("registry"))
        yield {key: os.environ[key] for key in ("MLFLOW_TRACKING_URI", "TICKETOPS_ARTIFACT_ROOT", "HF_HUB_OFFLINE")}
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def registry(module_registry, monkeypatch, tmp_path):
    """Champion v1, challenger v2, no rollout tags; this test's own audit database."""
    for key, value in module_registry.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TICKETOPS_PREDICTION_LOG_URL", f"sqlite:///{tmp_path / 'audit.db'}")
    return reset_registry()


@pytest.fixture
def trail(tmp_path):
    return AuditTrail(f"sqlite:///{tmp_path / 'audit.db'}")


@pytest.fixture
def server():
    with FieldTrackingApiServer() as api:
        yield api


@pytest.fixture
def argo(server):
    return apply_rollout(server)


@pytest.fixture
def plugin(server):
    return KubectlArgoRollouts(server, NS, NAME)


@pytest.fixture
def cli(server, registry, tmp_path, monkeypatch):
    """`ticketops ...` in this process, its kubeconfig naming the emulated API server."""
    kubeconfig = tmp_path / "kubeconfig"
    cluster = {"name": "emulated", "cluster": {"server": server.url}}
    context = {"name": "emulated", "context": {"cluster": "emulated", "user": "sre", "namespace": NS}}
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [cluster], "contexts": [context]}
    config |= {"users": [{"name": "sre", "user": {}}], "current-context": "emulated"}
    kubeconfig.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("TICKETOPS_K8S_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("TICKETOPS_K8S_NAMESPACE", NS)
    monkeypatch.setenv("TICKETOPS_ARGO_ROLLOUT", NAME)

    def run(*args: str):
        return CliRunner().invoke(app, ["rollout", *args])

    return run


def last_json(output: str):
    return json.loads([line for line in output.splitlines() if line.startswith(("{", "["))][-1])


def wait_for(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def serving_container(obj) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][0]


# --- ticketops rollout --backend argo ------------------------------------------------------------------------


def test_start_pins_the_challengers_version_and_refuses_an_ungated_one(server, registry, argo, cli):
    before = rollout(server)
    registry.set_registered_model_alias(MODEL_NAME, "challenger", "3")  # did not pass the gate
    refused = cli("start", "--backend", "argo")
    assert refused.exit_code == 2 and "did not pass the promotion gate" in refused.output
    assert rollout(server)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # untouched

    registry.set_registered_model_alias(MODEL_NAME, "challenger", "2")
    result = cli("start", "--backend", "argo", "--json")
    assert result.exit_code == 0, result.output
    started = last_json(result.stdout)
    pinned = rollout(server)
    template = pinned["spec"]["template"]
    assert template["metadata"]["labels"]["model-version"] == "2"
    expected_env = [dict(e) for e in before["spec"]["template"]["spec"]["containers"][0]["env"]]
    expected_env[0]["value"] = f"models:/{MODEL_NAME}/2"  # only the model changes; secrets and order stay
    assert serving_container(pinned)["env"] == expected_env
    assert template["spec"]["containers"][1] == before["spec"]["template"]["spec"]["containers"][1]
    assert pinned["metadata"]["annotations"]["ticketops.io/stable-version"] == "1"
    assert not re.search(r"models:/[^\"]*@", json.dumps(template))  # a version, never an alias
    assert newest_owner(pinned["metadata"]["managedFields"], TEMPLATE) == "ticketops"
    assert aliases(registry) == {"champion": "1", "challenger": "2"}  # the registry moves when the cluster does
    assert (started["event"], started["canary_version"], started["actor"]) == ("started", "2", "k8s:ticketops")

    argo.sync()
    again = cli("start", "--backend", "argo")
    assert again.exit_code == 2 and "runs canary v2" in again.output
    status = cli("status", "--backend", "argo", "--json")
    state = last_json(status.stdout)
    assert (state["rollout_id"], state["canary_version"], state["phase"]) == (started["rollout_id"], "2", "running")


def test_start_wait_follows_argo_and_ends_with_the_local_backends_json(server, registry, argo, cli):
    outcome = {}
    waiting = threading.Thread(
        target=lambda: outcome.update(
            result=cli("start", "--backend", "argo", "--wait", "--json", "--interval", "0.05")
        )
    )
    waiting.start()
    try:
        wait_for(lambda: rollout(server)["spec"]["template"]["metadata"]["labels"]["model-version"] == "2")
        argo.sync()
        for _step in ("setWeight 10", "pause 60s", "setWeight 50"):  # each seen by the waiting command
            count = len(registry_history(registry, MODEL_NAME))
            argo.step()
            wait_for(lambda count=count: len(registry_history(registry, MODEL_NAME)) > count)
        argo.step()
        argo.step()  # past the last step: v2 is stable
    finally:
        waiting.join(30)
    result = outcome["result"]
    assert result.exit_code == 0, result.output
    report = last_json(result.stdout)
    assert (report["result"], report["stable_version"], report["canary_version"]) == ("promoted", "1", "2")
    assert [s["weight"] for s in report["steps"]] == [0, 10, 50]
    assert aliases(registry) == {"champion": "2", "challenger": None}


def test_cli_promote_and_abort_patch_the_rollout_as_the_plugin_does(server, registry, argo, cli, trail, monkeypatch):
    backend(server, registry, trail).start()
    argo.sync()
    argo.step()
    argo.step()  # paused at `pause: 60s`
    assert cli("promote", "--backend", "argo").exit_code == 0  # kubectl argo rollouts promote: the next step
    assert rollout(server)["status"].get("pauseConditions") is None
    argo.sync()
    assert rollout(server)["status"]["currentStepIndex"] == 3
    full = cli("promote", "--backend", "argo", "--full")
    assert full.exit_code == 0 and "promote_requested (k8s:ticketops)" in full.output
    assert rollout(server)["status"]["promoteFull"] is True
    aborted = cli("abort", "--backend", "argo")  # before Argo acted on the full promotion
    assert aborted.exit_code == 0 and "rolled_back (k8s:ticketops)" in aborted.output
    live = rollout(server)
    assert live["status"]["abort"] is True
    assert newest_owner(live["metadata"]["managedFields"], ("status", "abort")) == "ticketops"
    assert aliases(registry) == {"champion": "1", "challenger": None}
    history = cli("history", "--backend", "argo", "--json")
    events = last_json(history.stdout)
    assert [(e["event"], e["actor"]) for e in events] == [
        ("started", "k8s:ticketops"),
        ("step", "k8s:rollouts-controller"),
        ("paused", "k8s:rollouts-controller"),
        ("step", "k8s:rollouts-controller"),
        ("promote_requested", "k8s:ticketops"),
        ("rolled_back", "k8s:ticketops"),
    ]
    assert set(events[0]) == {
        "time",
        "rollout_id",
        "event",
        "stable_version",
        "canary_version",
        "step",
        "weight",
        "verdict",
        "reason",
        "measured",
        "actor",
    }
    monkeypatch.setattr(common.console, "_width", 400)  # the whole table on one line per event
    table = cli("history", "--backend", "argo")
    assert table.exit_code == 0 and "rolled_back" in table.output and "k8s:ticketops" in table.output


def test_pinning_retries_on_a_conflict_and_keeps_the_concurrent_change(server, registry, argo):
    """Read-modify-write with resourceVersion: a hand edit between ticketops' read and its patch is not lost."""
    editor = client.CustomObjectsApi(server.api_client())

    class Racing(ArgoRollout):
        reads = 0

        def read(self):
            live = super().read()
            Racing.reads += 1
            if Racing.reads == 1:  # someone changes the Rollout right after ticketops read it
                shipper = live["spec"]["template"]["spec"]["containers"][1]
                edited = [serving_container(live), {**shipper, "env": [{"name": "LEVEL", "value": "debug"}]}]
                patch = {"spec": {"template": {"spec": {"containers": edited}}}}
                editor.patch_namespaced_custom_object(
                    GROUP, VERSION, NS, PLURAL, NAME, patch, field_manager="kubectl-edit"
                )
            return live

    argo_settings, k8s = settings()
    Racing(argo_settings, k8s, server.api_client()).pin("2", f"models:/{MODEL_NAME}/2", "1")
    containers = rollout(server)["spec"]["template"]["spec"]["containers"]
    assert Racing.reads == 2  # refused with 409 once, read again
    assert containers[0]["env"][0]["value"] == f"models:/{MODEL_NAME}/2"
    assert containers[1]["env"] == [{"name": "LEVEL", "value": "debug"}]


# --- the registry follows the cluster -------------------------------------------------------------------------


def kinds(events) -> list[tuple[str, str]]:
    return [(e.event, e.actor) for e in events]


def audit_actions(trail) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in reversed(trail.events(limit=0))]


def started(server, registry, trail, argo):
    """`ticketops rollout start --backend argo`, then Argo takes the new template up: canary v2 at 0%."""
    event = backend(server, registry, trail).start()
    argo.sync()
    assert reconciler(server, registry, trail).run_once() == []  # the CLI recorded the start already
    return event


def test_steps_passing_promote_and_a_second_run_writes_nothing(server, registry, trail, argo):
    start = started(server, registry, trail, argo)
    argo.step()  # setWeight 10
    assert kinds(reconciler(server, registry, trail).run_once()) == [("step", "k8s:rollouts-controller")]
    argo.step()  # pause 60s
    (paused,) = reconciler(server, registry, trail).run_once()
    assert paused.event == "paused" and paused.weight == 10
    argo.step()  # setWeight 50
    assert kinds(reconciler(server, registry, trail).run_once()) == [("step", "k8s:rollouts-controller")]
    argo.step()  # pause
    argo.step()  # past the last step: Argo makes the canary stable
    events = reconciler(server, registry, trail).run_once()  # within one interval: the pause was not seen
    assert kinds(events) == [("promoted", "k8s:rollouts-controller")]
    assert aliases(registry) == {"champion": "2", "challenger": None}
    assert registry.get_model_version(MODEL_NAME, "2").tags["rollout_result"] == "promoted"
    assert rollout(server)["metadata"]["annotations"]["ticketops.io/stable-version"] == "2"
    assert reconciler(server, registry, trail).run_once() == []  # idempotent
    history = registry_history(registry, MODEL_NAME)
    assert [e.event for e in history] == ["started", "step", "paused", "step", "promoted"]
    assert {e.rollout_id for e in history} == {start.rollout_id}
    assert [(e.weight) for e in history] == [0, 10, 10, 50, 100]
    assert ("k8s:rollouts-controller", "alias.moved", f"{MODEL_NAME}@champion") in audit_actions(trail)


def test_abort_by_hand_clears_the_challenger_with_the_plugin_as_actor(server, registry, trail, argo, plugin):
    started(server, registry, trail, argo)
    argo.step()
    reconciler(server, registry, trail).run_once()
    plugin.abort()  # kubectl argo rollouts abort ticketops
    argo.sync()
    (event,) = reconciler(server, registry, trail).run_once()
    assert (event.event, event.actor, event.weight) == ("rolled_back", "k8s:kubectl-argo-rollouts", 0)
    assert "aborted" in event.reason
    assert aliases(registry) == {"champion": "1", "challenger": None}
    assert registry.get_model_version(MODEL_NAME, "2").tags["rollout_result"] == "rolled_back"
    audit = audit_actions(trail)
    assert ("k8s:kubectl-argo-rollouts", "rollout.rolled_back", f"rollout/{event.rollout_id}") in audit
    assert ("k8s:kubectl-argo-rollouts", "alias.cleared", f"{MODEL_NAME}@challenger") in audit
    assert reconciler(server, registry, trail).run_once() == []
    plugin.undo()  # the template back to v1, as the plugin's abort help says: nothing new serves
    argo.sync()
    assert reconciler(server, registry, trail).run_once() == []
    assert rollout(server)["status"]["phase"] == "Healthy"


def test_promote_full_by_hand_moves_the_champion_with_the_plugin_as_actor(server, registry, trail, argo, plugin):
    started(server, registry, trail, argo)
    argo.step()
    reconciler(server, registry, trail).run_once()
    plugin.promote(full=True)  # kubectl argo rollouts promote ticketops --full
    (requested,) = reconciler(server, registry, trail).run_once()  # seen before Argo finished it
    assert (requested.event, requested.actor) == ("promote_requested", "k8s:kubectl-argo-rollouts")
    argo.sync()
    (promoted,) = reconciler(server, registry, trail).run_once()
    assert (promoted.event, promoted.actor) == ("promoted", "k8s:kubectl-argo-rollouts")
    assert aliases(registry) == {"champion": "2", "challenger": None}
    assert ("k8s:kubectl-argo-rollouts", "alias.moved", f"{MODEL_NAME}@champion") in audit_actions(trail)
    assert reconciler(server, registry, trail).run_once() == []


def test_undo_after_a_promotion_brings_the_previous_model_back(server, registry, trail, argo, plugin):
    started(server, registry, trail, argo)
    plugin.promote(full=True)
    argo.sync()
    reconciler(server, registry, trail).run_once()
    assert aliases(registry)["champion"] == "2"
    plugin.undo()  # kubectl argo rollouts undo ticketops: v1's pod template is a new canary
    argo.sync()
    (back,) = reconciler(server, registry, trail).run_once()
    assert (back.event, back.actor, back.canary_version, back.stable_version) == (
        "started",
        "k8s:kubectl-argo-rollouts",
        "1",
        "2",
    )
    assert aliases(registry) == {"champion": "2", "challenger": "1"}
    plugin.promote(full=True)
    argo.sync()
    (promoted,) = reconciler(server, registry, trail).run_once()
    assert promoted.event == "promoted" and aliases(registry) == {"champion": "1", "challenger": None}
    assert rollout(server)["metadata"]["annotations"]["ticketops.io/stable-version"] == "1"
    assert reconciler(server, registry, trail).run_once() == []


def test_undo_during_a_canary_rolls_it_back(server, registry, trail, argo, plugin):
    started(server, registry, trail, argo)
    argo.step()
    reconciler(server, registry, trail).run_once()
    plugin.undo()  # the template back to stable v1: Argo drops the canary at once
    argo.sync()
    (event,) = reconciler(server, registry, trail).run_once()
    assert (event.event, event.actor) == ("rolled_back", "k8s:kubectl-argo-rollouts")
    assert "set back to stable v1" in event.reason
    assert aliases(registry) == {"champion": "1", "challenger": None}
    assert reconciler(server, registry, trail).run_once() == []


def test_a_hand_edit_of_the_template_is_a_rollout_of_its_own(server, registry, trail, argo):
    """`kubectl edit rollout ticketops` pinning v3 by hand (kubectl sends a merge patch with its field manager)."""
    live = rollout(server)
    containers = live["spec"]["template"]["spec"]["containers"]
    for env in containers[0]["env"]:
        if env["name"] == "TICKETOPS_MODEL_URI":
            env["value"] = f"models:/{MODEL_NAME}/3"
    patch = {"spec": {"template": {"metadata": {"labels": {"model-version": "3"}}}}}
    patch["spec"]["template"]["spec"] = {"containers": containers}
    client.CustomObjectsApi(server.api_client()).patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, NAME, patch, field_manager="kubectl-edit"
    )
    argo.sync()
    (event,) = reconciler(server, registry, trail).run_once()
    assert (event.event, event.actor, event.canary_version) == ("started", "k8s:kubectl-edit", "3")
    assert aliases(registry) == {"champion": "1", "challenger": "3"}
    assert ("k8s:kubectl-edit", "alias.moved", f"{MODEL_NAME}@challenger") in audit_actions(trail)
    assert reconciler(server, registry, trail).run_once() == []


def test_a_full_promotion_argo_finished_between_two_looks_is_credited_to_argo(server, registry, trail, argo, plugin):
    """Kubernetes forgets who set status.promoteFull once Argo clears it (the plugin's managedFields entry is
    emptied and dropped): a reconciler that never saw the request can only name Argo's controller."""
    started(server, registry, trail, argo)
    plugin.promote(full=True)
    argo.sync()
    assert "kubectl-argo-rollouts" not in {e["manager"] for e in rollout(server)["metadata"]["managedFields"]}
    (promoted,) = reconciler(server, registry, trail).run_once()
    assert (promoted.event, promoted.actor) == ("promoted", "k8s:rollouts-controller")
    assert aliases(registry) == {"champion": "2", "challenger": None}
