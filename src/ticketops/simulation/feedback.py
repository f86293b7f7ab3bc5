"""Agents' labels to ``POST /feedback``, apart from the ticket traffic: the retry without unknown labels."""

from __future__ import annotations


def _unknown_positions(response) -> list[int]:
    """Items the service refused because the served model does not know their label (``items.<i>.label``)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if body.get("error") != "unknown_label":
        return []
    positions = []
    for problem in body.get("fields", []):
        parts = str(problem.get("field", "")).split(".")
        if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit():
            positions.append(int(parts[1]))
    return positions


async def send_feedback(client, items: list[dict]) -> tuple[int, int]:
    """(accepted, refused for an unknown label): labels of intents the model never had are dropped, once.

    An agent can name an intent the served model does not know (a new product); the service refuses the
    whole batch then, so those items are left out and the rest is sent again.
    """
    import httpx

    unknown = 0
    for _ in range(2):
        if not items:
            return 0, unknown
        try:
            response = await client.post("/feedback", json={"items": items})
        except httpx.HTTPError:
            return 0, unknown
        if response.status_code == 200:
            return len(items), unknown
        refused = set(_unknown_positions(response))
        if not refused:
            return 0, unknown
        unknown += len(refused)
        items = [item for i, item in enumerate(items) if i not in refused]
    return 0, unknown
