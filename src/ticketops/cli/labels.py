"""``ticketops labels list|add``: the label catalogue (a versioned file in data/, a DVC pipeline dependency)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from ticketops.cli.common import console, fail

labels_app = typer.Typer(no_args_is_help=True, help="The label catalogue agents pick from and training learns.")


def _path() -> Path:
    from ticketops.config import load_params
    from ticketops.settings import ServiceSettings, project_root

    configured = ServiceSettings().catalogue_path
    return Path(configured) if configured else project_root() / load_params().ingest.labels_path


@labels_app.command("list")
def list_labels(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The categories, in order, with who added them."""
    from ticketops.data.catalogue import CatalogueError, load_catalogue

    try:
        catalogue = load_catalogue(_path())
    except CatalogueError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(catalogue.model_dump_json())
        return
    console.print(f"catalogue version {catalogue.version}: {len(catalogue.categories)} categories", highlight=False)
    for c in catalogue.categories:
        added = f"  (added by {c.added_by}, {c.added_at})" if c.added_by else ""
        console.print(f"  {c.name}: {c.description}{added}", highlight=False)


@labels_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The new category (letters, digits, _).")],
    description: Annotated[str, typer.Option("--description", "-d", help="What tickets of this kind are about.")],
    actor: Annotated[str | None, typer.Option(help="Who adds it, for the audit trail (default: your login).")] = None,
) -> None:
    """Add a category: a new catalogue version (commit it with the data: DVC re-runs ingest and training)."""
    from ticketops.audit import AuditTrail
    from ticketops.data.catalogue import CatalogueError, add_category

    who = actor or getpass.getuser()
    try:
        catalogue = add_category(_path(), name, description, who)
    except CatalogueError as exc:
        fail(str(exc))
    trail = AuditTrail.from_settings()
    try:
        trail.record(
            who,
            "category.added",
            f"category/{name}",
            {"description": description, "catalogue_version": catalogue.version},
        )
    finally:
        trail.close()
    typer.echo(json.dumps({"name": name, "catalogue_version": catalogue.version}))
