"""``ticketops audit [--json] [--since ISO] [--limit N] [--reconcile]``: the audit trail, newest first."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ticketops.cli.common import console, fail


def audit(
    as_json: Annotated[bool, typer.Option("--json", help='Print {"events": [...]} as GET /audit does.')] = False,
    since: Annotated[str | None, typer.Option(help="Only events at or after this ISO 8601 time.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many events (0: all).")] = 0,
    reconcile: Annotated[
        bool, typer.Option(help="First copy rollout history events the trail lacks (actor: reconciler).")
    ] = False,
) -> None:
    """Every human and machine decision: labels, adjudications, categories, retrains, gates, rollouts, aliases."""
    from sqlalchemy.exc import SQLAlchemyError

    from ticketops.audit import AuditTrail, parse_since

    try:
        after = parse_since(since)
    except ValueError:
        fail(f"--since {since!r} is not an ISO 8601 time")
    trail = AuditTrail.from_settings()
    try:
        if reconcile:
            from ticketops.config import load_params
            from ticketops.rollout.audit import reconcile as backfill
            from ticketops.rollout.factory import event_log

            added = backfill(event_log().read(), trail, load_params().registration.model_name)
            console.print(f"reconciled: {len(added)} rollout event(s) copied from the history", highlight=False)
        events = trail.events(limit=limit, since=after)
    except SQLAlchemyError as exc:
        fail(f"the audit trail's database is unavailable: {type(exc).__name__}")
    finally:
        trail.close()
    if as_json:
        typer.echo(json.dumps({"events": [e.model_dump(mode="json") for e in events]}))
        return
    if not events:
        console.print("no audit events yet")
        return
    from rich.table import Table

    table = Table("at (UTC)", "actor", "action", "target", "details")
    for e in events:
        details = json.dumps(e.details, sort_keys=True)
        table.add_row(e.model_dump(mode="json")["at"], e.actor, e.action, e.target, details[:160])
    console.print(table)
