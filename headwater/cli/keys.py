"""`headwater keys`: S3 access keys for the hub's S3 front door, narrowed like tokens; the secret is printed once."""

from __future__ import annotations

from typing import Annotated

import typer

from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, note, show

app = typer.Typer(
    help="S3 access keys: an id and a secret for S3 tools (AWS CLI, boto3, rclone, DuckDB) on the hub's S3 port.",
    no_args_is_help=True,
)

COLUMNS = [
    ("id", "accessKeyId"),
    ("name", "name"),
    ("read-only", "readOnly"),
    ("sources", "sourceIds"),
    ("prefix", "pathPrefix"),
    ("expires", "expiresAt"),
    ("last used", "lastUsedAt"),
    ("created", "createdAt"),
]


def _narrowing(key: dict[str, object]) -> str:
    parts = ["read-only" if key.get("readOnly") else "read-write"]
    if key.get("sourceIds") is not None:
        parts.append(f"sources {', '.join(str(s) for s in key['sourceIds'])}")  # type: ignore[attr-defined]
    if key.get("pathPrefix"):
        parts.append(f"under {key['pathPrefix']}")
    if key.get("expiresAt"):
        parts.append(f"until {key['expiresAt']}")
    return "; ".join(parts)


@app.command("create")
def create(
    name: Annotated[str | None, typer.Option("--name", help="A name to recognise the key by.")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse every write.")] = False,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source", metavar="ID", help="Limit the key to this data source (id or protocol+label; repeatable)."
        ),
    ] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Limit the key to an address prefix, e.g. s3+lake://bucket/team/.")
    ] = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Expire after a length of time: 30m, 12h, 1d, 2w.")
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue an access key narrowed at least as your token is; prints its secret once, as shell exports."""
    client = connect(url, token)
    source_ids = [client.sources.resolve(ref) for ref in source] if source else None
    key = client.access_keys.create(
        name=name, read_only=read_only, source_ids=source_ids, path_prefix=prefix, expires_in=expires_in
    )
    if as_json:
        emit_json(key)
        return
    note(f"Created access key {key['accessKeyId']} ({_narrowing(key)}); its secret is shown this once:")
    typer.echo(f"export AWS_ACCESS_KEY_ID={key['accessKeyId']}")
    typer.echo(f"export AWS_SECRET_ACCESS_KEY={key['secretAccessKey']}")


@app.command("list")
def list_(url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """List your access keys (an administrator: the organization's), never their secrets."""
    show(connect(url, token).access_keys.list(), COLUMNS, as_json)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The access key id (HW...).")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an access key at once (and the token it acts as)."""
    connect(url, token).access_keys.revoke(key_id)
    if as_json:
        emit_json({"revoked": key_id})
    else:
        note(f"Revoked access key {key_id}")
