"""The splitter's paired counts of the shadow phase: one pair per mirrored ticket, one label per ticket, and a
label that overtakes the challenger's answer still counted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from ticketops.rollout.local.shadow import ShadowPairs
from ticketops.rollout.local.splitter import Split


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_pairs_and_labels_are_counted_once_each():
    registry = CollectorRegistry()
    shadow = ShadowPairs(registry)
    shadow.record(
        {"predictions": [{"id": "a", "label": "x"}, {"id": "b", "label": "y"}]},
        {"predictions": [{"id": "other-a", "label": "x"}, {"id": "other-b", "label": "z"}]},
    )
    assert value(registry, "ticketops_shadow_pairs_total", agree="true", challenger_label="x") == 1
    assert value(registry, "ticketops_shadow_pairs_total", agree="false", challenger_label="z") == 1
    for _ in range(2):
        shadow.feedback({"items": [{"id": "b", "label": "y"}]})
    labelled = dict(stable_correct="true", challenger_correct="false", true_label="y")
    assert value(registry, "ticketops_shadow_labelled_total", **labelled) == 1


def test_a_label_before_the_challengers_answer_waits_for_it():
    registry = CollectorRegistry()
    shadow = ShadowPairs(registry)
    shadow.feedback({"items": [{"id": "a", "label": "z"}, "not an item", {"id": "c"}]})
    shadow.record({"predictions": [{"id": "a", "label": "x"}]}, {"predictions": [{"label": "z"}]})
    labelled = dict(stable_correct="false", challenger_correct="true", true_label="z")
    assert value(registry, "ticketops_shadow_labelled_total", **labelled) == 1


def test_memory_is_bounded():
    shadow = ShadowPairs(CollectorRegistry(), capacity=3)
    for i in range(10):
        shadow.record({"predictions": [{"id": str(i), "label": "x"}]}, {"predictions": [{"label": "x"}]})
        shadow.feedback({"items": [{"id": f"never-{i}", "label": "x"}]})
    assert len(shadow._pairs) == 3 and len(shadow._early) == 3


def test_a_split_mirrors_only_when_asked():
    assert Split(stable="http://s").mirror is False
    assert Split(stable="http://s", canary="http://c", mirror=True).weight == 0
