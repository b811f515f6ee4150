"""`headwater systems`: data systems, the groupings data sources link under."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, note, show

app = typer.Typer(help="Data systems: groupings that data sources link under.", no_args_is_help=True)

COLUMNS = [("id", "id"), ("name", "name"), ("label", "label"), ("sources", "links.children")]
RECORD = [
    ("id", "id"),
    ("urn", "urn"),
    ("name", "name"),
    ("label", "label"),
    ("description", "description"),
    ("owner", "ownerPerson"),
    ("entity info", "entityInfo"),
    ("sources", "links.children"),
    ("created", "createdAt"),
]

SystemArgument = Annotated[str, typer.Argument(help="The system's id.")]
SourceArgument = Annotated[str, typer.Argument(help="The source's id or its connection, protocol+label.")]


def _names(links: list[dict[str, Any]]) -> list[str]:
    return [link.get("name") or link["id"] for link in links]


def _present(systems: Any) -> Any:
    """Linked sources shown by name in tables."""
    rows = systems if isinstance(systems, list) else [systems]
    shown = [{**s, "links": {"children": _names(s.get("links", {}).get("children", []))}} for s in rows]
    return shown if isinstance(systems, list) else shown[0]


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="The system's name, unique in the organization.")],
    label: Annotated[str | None, typer.Option("--label", help="A short label.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="What the system is.")] = None,
    owner_email: Annotated[str | None, typer.Option("--owner-email", help="The owner's email.")] = None,
    owner_name: Annotated[str | None, typer.Option("--owner-name", help="The owner's full name.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a data system."""
    owner = {"email": owner_email, "fullName": owner_name or ""} if owner_email else None
    system = connect(url, token).systems.create(name, label=label, description=description, owner_person=owner)
    if as_json:
        emit_json(system)
    else:
        note(f"Created system {system['name']!r} (id {system['id']})")


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List data systems."""
    systems = connect(url, token).systems.list()
    show(systems if as_json else _present(systems), COLUMNS, as_json)


@app.command("show")
def show_(
    system_id: SystemArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False
) -> None:
    """Show a data system with its linked sources."""
    system = connect(url, token).systems.get(system_id)
    show(system if as_json else _present(system), RECORD, as_json)


@app.command("delete")
def delete(
    system_id: SystemArgument,
    force: Annotated[bool, typer.Option("--force", help="Unlink its sources first.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a data system."""
    connect(url, token).systems.delete(system_id, force=force)
    if as_json:
        emit_json({"deleted": system_id})
    else:
        note(f"Deleted system {system_id}")


@app.command("link")
def link(
    system_id: SystemArgument,
    source: SourceArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Link a data source under a system."""
    client = connect(url, token)
    system = client.systems.link(system_id, client.sources.resolve(source))
    if as_json:
        emit_json(system)
    else:
        note(f"Linked {source} under {system['name']!r}")


@app.command("unlink")
def unlink(
    system_id: SystemArgument,
    source: SourceArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Unlink a data source from a system."""
    client = connect(url, token)
    system = client.systems.unlink(system_id, client.sources.resolve(source))
    if as_json:
        emit_json(system)
    else:
        note(f"Unlinked {source} from {system['name']!r}")
