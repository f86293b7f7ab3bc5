"""Which versions a rollout may compare: @champion and a different @challenger that passed the gate.

Why apart from the controller: these are the registry's rules for starting (aliases, the promotion gate, an
admin's recorded override), checked before any traffic moves; the controller only runs the steps.
"""

from __future__ import annotations

from ticketops.settings import CHALLENGER, CHAMPION


class RolloutError(RuntimeError):
    """The rollout cannot start or continue (no challenger, one already running, ...)."""


def admit_challenger(client, model_name: str, force_ungated: bool = False) -> tuple[object, object, bool]:
    """(champion, challenger, forced): the registry versions to compare, or RolloutError.

    A challenger that did not pass the promotion gate is refused unless ``force_ungated`` (an admin's decision:
    tagged on the version, which the canary replica reads, and recorded in the ``started`` event).
    """
    from ticketops.registry.store import TAG_FORCED, GateNotPassed, alias_version, require_gate, tag_version

    champion = alias_version(client, model_name, CHAMPION)
    challenger = alias_version(client, model_name, CHALLENGER)
    if champion is None:
        raise RolloutError(f"{model_name} has no @{CHAMPION}: nothing to compare a canary with")
    if challenger is None:
        raise RolloutError(f"{model_name} has no @{CHALLENGER}: nothing to roll out")
    if str(challenger.version) == str(champion.version):
        raise RolloutError(f"@{CHALLENGER} and @{CHAMPION} are the same version ({champion.version})")
    try:
        forced = require_gate(challenger, forced=force_ungated)
    except GateNotPassed as exc:
        raise RolloutError(f"{exc} (ticketops rollout start --force-ungated)") from None
    if forced and force_ungated:
        tag_version(client, model_name, str(challenger.version), {TAG_FORCED: "rollout start --force-ungated"})
    return champion, challenger, forced
