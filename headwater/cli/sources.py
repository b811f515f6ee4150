"""`headwater sources`: data sources (connections), their lifecycle and connection test.

A source is named by its id or by its connection, `protocol+label`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, fail, note, show

app = typer.Typer(
    help="Data sources: labelled connections with params, secrets, restrictions and access.", no_args_is_help=True
)

COLUMNS = [
    ("id", "id"),
    ("address", "address"),
    ("name", "name"),
    ("access", "access"),
    ("state", "state.code"),
    ("healthy", "state.healthy"),
    ("reason", "state.reason"),
]
RECORD = [
    ("id", "id"),
    ("address", "address"),
    ("name", "name"),
    ("description", "description"),
    ("access", "access"),
    ("params", "params"),
    ("secret", "secretId"),
    ("env secrets", "envSecretIds"),
    ("restrictions", "pathRestrictions"),
    ("state", "state.code"),
    ("reason", "state.reason"),
    ("healthy", "state.healthy"),
    ("checked", "state.checkedAt"),
    ("systems", "links.parents"),
    ("created", "createdAt"),
    ("updated", "updatedAt"),
]


class Access(StrEnum):
    read = "read"
    read_write = "read-write"


RefArgument = Annotated[str, typer.Argument(help="The source's id or its connection, protocol+label.")]
NameOption = Annotated[str | None, typer.Option("--name", help="A readable name.")]
DescriptionOption = Annotated[str | None, typer.Option("--description", help="What the data is.")]
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", metavar="KEY=VALUE", help="A connection param (repeatable).")
]
ParamsOption = Annotated[
    str | None, typer.Option("--params", metavar="JSON", help="All connection params as a JSON object.")
]
SecretOption = Annotated[str | None, typer.Option("--secret-id", help="The secret holding the credentials.")]
EnvSecretOption = Annotated[
    list[str] | None,
    typer.Option("--env-secret-id", metavar="ID", help="A key/value secret for {envKey} params (repeatable)."),
]
RestrictOption = Annotated[
    list[str] | None,
    typer.Option(
        "--restrict", metavar="PATTERN", help="A path restriction: 'bucket/file', 'bucket/*', 'bucket*' (repeatable)."
    ),
]
AccessOption = Annotated[Access | None, typer.Option("--access", help="read or read-write.")]


def parse_params(pairs: list[str] | None, as_json: str | None) -> dict[str, Any] | None:
    """Params from `--params JSON` and/or `--param KEY=VALUE` pairs (pairs win)."""
    params: dict[str, Any] | None = None
    if as_json is not None:
        try:
            params = json.loads(as_json)
        except ValueError:
            fail("--params is not valid JSON")
        if not isinstance(params, dict):
            fail("--params must be a JSON object")
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--param {pair!r} is not KEY=VALUE")
        params = params if params is not None else {}
        params[key.strip()] = value
    return params


def _state(source: dict[str, Any]) -> str:
    state = source.get("state") or {}
    return f"{state.get('code')} {state.get('reason') or ''}".strip()


@app.command("create")
def create(
    protocol: Annotated[str, typer.Option("--protocol", help="The kind: local, s3, url, ...")],
    label: Annotated[str, typer.Option("--label", help="Unique per protocol: a-z, 0-9, '-', '_'.")],
    name: NameOption = None,
    description: DescriptionOption = None,
    param: ParamOption = None,
    params: ParamsOption = None,
    secret_id: SecretOption = None,
    env_secret_id: EnvSecretOption = None,
    restrict: RestrictOption = None,
    access: AccessOption = None,
    test: Annotated[
        bool, typer.Option("--test", help="Test the connection right after creating it; exit 1 when it is not healthy.")
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a data source."""
    client = connect(url, token)
    source = client.sources.create(
        protocol,
        label,
        params=parse_params(param, params),
        access=(access or Access.read).value,
        name=name,
        description=description,
        secret_id=secret_id,
        env_secret_ids=env_secret_id,
        path_restrictions=restrict,
    )
    warnings = list(source.get("warnings") or [])
    for warning in warnings:
        note(f"warning: {warning}")
    if test:
        source = {**client.sources.test(source["id"]), "warnings": warnings}
    if as_json:
        emit_json(source)
    else:
        note(f"Created {source['address']} (id {source['id']}): {_state(source)}")
    if test and not (source.get("state") or {}).get("healthy"):
        raise typer.Exit(1)


@app.command("list")
def list_(
    protocol: Annotated[str | None, typer.Option("--protocol", help="Only this kind.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List data sources."""
    show(connect(url, token).sources.list(protocol), COLUMNS, as_json)


@app.command("show")
def show_(ref: RefArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Show a data source."""
    show(connect(url, token).sources.get(ref), RECORD, as_json)


@app.command("update")
def update(
    ref: RefArgument,
    label: Annotated[str | None, typer.Option("--label", help="A new label.")] = None,
    name: NameOption = None,
    description: DescriptionOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", metavar="KEY=VALUE", help="Set one param, keeping the others (repeatable)."),
    ] = None,
    params: Annotated[
        str | None, typer.Option("--params", metavar="JSON", help="Replace all params with this JSON object.")
    ] = None,
    secret_id: SecretOption = None,
    env_secret_id: EnvSecretOption = None,
    restrict: RestrictOption = None,
    access: AccessOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a data source; a connection change resets its state until the next test."""
    client = connect(url, token)
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "label": label,
            "name": name,
            "description": description,
            "secret_id": secret_id,
            "env_secret_ids": env_secret_id,
            "path_restrictions": restrict,
            "access": access.value if access else None,
        }.items()
        if v is not None
    }
    if param or params is not None:
        base = {} if params is not None else dict(client.sources.get(ref).get("params") or {})
        base.update(parse_params(param, params) or {})
        changes["params"] = base
    if not changes:
        fail("nothing to change: give at least one option")
    source = client.sources.update(ref, **changes)
    if as_json:
        emit_json(source)
    else:
        note(f"Updated {source['address']} (id {source['id']}): {_state(source)}")


@app.command("test")
def test(ref: RefArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Check the connection for real and record its state; exit 1 when it is not healthy."""
    source = connect(url, token).sources.test(ref)
    healthy = bool((source.get("state") or {}).get("healthy"))
    if as_json:
        emit_json(source)
    else:
        typer.echo(f"{source['address']}: {_state(source)}")
    if not healthy:
        raise typer.Exit(1)


@app.command("delete")
def delete(ref: RefArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Delete a data source (its data is not touched)."""
    client = connect(url, token)
    source_id = client.sources.resolve(ref)
    client.sources.delete(source_id)
    if as_json:
        emit_json({"deleted": source_id})
    else:
        note(f"Deleted data source {ref}")
