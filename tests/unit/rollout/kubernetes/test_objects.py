"""The traffic arithmetic and object surgery behind the Kubernetes rollout backend."""

from __future__ import annotations

import pytest

from ticketops.rollout.kubernetes import objects as objs


@pytest.mark.parametrize(
    ("total", "percent", "split"),
    [
        (4, 0, (4, 0)),
        (4, 1, (3, 1)),  # any canary weight gets a whole pod
        (4, 10, (3, 1)),
        (4, 50, (2, 2)),
        (4, 99, (1, 3)),  # stable keeps a pod until 100%
        (4, 100, (0, 4)),
        (2, 10, (1, 1)),
        (10, 25, (8, 2)),
        (10, 75, (2, 8)),
    ],
)
def test_split_replicas(total, percent, split):
    assert objs.split_replicas(total, percent) == split
    assert sum(objs.split_replicas(total, percent)) == total


@pytest.mark.parametrize(("total", "percent"), [(1, 50), (4, -1), (4, 101)])
def test_split_replicas_rejects_impossible_splits(total, percent):
    with pytest.raises(ValueError):
        objs.split_replicas(total, percent)


@pytest.mark.parametrize(
    ("text", "label"),
    [("5", "5"), ("champion", "champion"), ("v1.2+build/3", "v1.2-build-3"), ("-x-", "x"), ("", "unknown")],
)
def test_label_value(text, label):
    assert objs.label_value(text) == label
    assert len(objs.label_value("9" * 100)) == 63


def test_with_env_replaces_by_name_and_keeps_references():
    container = {
        "name": "service",
        "env": [
            {"name": "A", "value": "1"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ],
    }
    out = objs.with_env(container, {"A": "2", "B": "3"})
    assert out["env"] == [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "A", "value": "2"},
        {"name": "B", "value": "3"},
    ]
    assert container["env"][0]["value"] == "1"  # the input is left alone
    assert objs.env_value(out, "A") == "2" and objs.env_value(out, "TOKEN") is None


def _deployment(**status) -> dict:
    return {"metadata": {"generation": 3}, "spec": {"replicas": 2}, "status": {"observedGeneration": 3, **status}}


@pytest.mark.parametrize(
    ("status", "serving", "two_ready", "complete"),
    [
        ({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}, True, True, True),
        ({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 1}, True, True, False),
        ({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 1, "availableReplicas": 1}, True, False, False),
        ({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3}, False, False, False),
        ({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 0}, False, False, False),
        ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2}, False, False, False),
    ],
)
def test_deployment_readiness(status, serving, two_ready, complete):
    dep = _deployment(**status)
    assert objs.deployment_serving(dep) is serving
    assert objs.replicas_ready(dep, 2) is two_ready
    assert objs.rollout_complete(dep) is complete


def test_scaled_to_zero_is_not_serving():
    dep = _deployment(replicas=0)
    dep["spec"]["replicas"] = 0
    assert not objs.deployment_serving(dep)


def _stable() -> dict:
    return {
        "metadata": {"name": "s", "namespace": "ns", "labels": {"app": "t", "track": "stable"}},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "t", "track": "stable"}},
            "template": {
                "metadata": {"labels": {"app": "t", "track": "stable", "model-version": "3"}},
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "proxy"},
                        {"name": "service", "image": "img:1", "env": [{"name": "TICKETOPS_TRACK", "value": "stable"}]},
                    ]
                },
            },
        },
    }


def test_canary_from_stable():
    stable = _stable()
    canary = objs.canary_from_stable(
        stable, name="c", container="service", model_uri="models:/m/5", version="5", replicas=0
    )
    assert canary["metadata"]["name"] == "c" and canary["metadata"]["namespace"] == "ns"
    assert canary["spec"]["selector"]["matchLabels"] == {"app": "t", "track": "canary"}
    labels = canary["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "t", "track": "canary", "model-version": "5"}
    sidecar, service = canary["spec"]["template"]["spec"]["containers"]
    assert sidecar == {"name": "sidecar", "image": "proxy"}
    assert service["image"] == "img:1"
    assert objs.env_value(service, "TICKETOPS_MODEL_URI") == "models:/m/5"
    assert objs.env_value(service, "TICKETOPS_TRACK") == "canary"
    assert canary["spec"]["replicas"] == 0
    assert stable == _stable()  # untouched


def test_model_template_sets_the_image_and_rejects_unknown_containers():
    template = _stable()["spec"]["template"]
    out = objs.model_template(template, container="service", track="stable", model_uri="u", version="7", image="i:2")
    assert out["spec"]["containers"][1]["image"] == "i:2"
    assert out["metadata"]["annotations"][objs.MODEL_URI_ANNOTATION] == "u"
    with pytest.raises(ValueError, match="no container"):
        objs.model_template(template, container="nope", track="stable", model_uri="u", version="7")


def test_route_weights():
    route = {
        "spec": {
            "rules": [
                {"backendRefs": [{"name": "st", "port": 3000, "weight": 100}, {"name": "ca", "port": 3000}]},
                {"backendRefs": [{"name": "ca", "port": 3000}, {"name": "st", "port": 3000}, {"name": "x"}]},
            ]
        }
    }
    rules = objs.route_with_weights(route, stable_service="st", canary_service="ca", canary_percent=30)
    assert [{r["name"]: r.get("weight") for r in rule["backendRefs"]} for rule in rules] == [
        {"st": 70, "ca": 30},
        {"ca": 30, "st": 70, "x": None},
    ]
    route["spec"]["rules"] = rules
    assert objs.route_canary_percent(route, stable_service="st", canary_service="ca") == 30
    with pytest.raises(ValueError, match="must reference"):
        objs.route_with_weights(
            {"spec": {"rules": [{"backendRefs": [{"name": "st"}]}]}},
            stable_service="st",
            canary_service="ca",
            canary_percent=10,
        )
    with pytest.raises(ValueError, match="no rules"):
        objs.route_with_weights({"spec": {}}, stable_service="st", canary_service="ca", canary_percent=10)
