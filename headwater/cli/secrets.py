"""`headwater secrets`: write-only credentials. Values are read from stdin or a hidden prompt, never argv."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, fail, note, show

app = typer.Typer(help="Secrets: typed credentials whose values are write-only.", no_args_is_help=True)

COLUMNS = [
    ("id", "id"),
    ("type", "secretType"),
    ("name", "name"),
    ("access key", "accessKey"),
    ("stored values", "valueKeys"),
    ("expires", "expiresAt"),
    ("expired", "expired"),
]
RECORD = [*COLUMNS, ("params", "params"), ("created", "createdAt"), ("updated", "updatedAt")]

TypeOption = Annotated[
    str | None, typer.Option("--type", help="aws, gcp, storj, s3, http, database, generic or other.")
]
NameOption = Annotated[str | None, typer.Option("--name", help="A readable name.")]
AccessKeyOption = Annotated[str | None, typer.Option("--access-key", help="The readable half of a key pair.")]
ExpiresOption = Annotated[
    str | None, typer.Option("--expires-at", help="ISO 8601 expiry; expired secrets cannot be used.")
]
StdinOption = Annotated[bool, typer.Option("--secret-key-stdin", help="Read the secret key from stdin.")]
ValueOption = Annotated[
    list[str] | None,
    typer.Option("--value", metavar="KEY", help="A value to read from stdin as a KEY=VALUE line (repeatable)."),
]


def _strip_newline(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def read_values(keys: list[str]) -> dict[str, str]:
    """Read `KEY=VALUE` lines from stdin; exactly the keys named by `--value`."""
    wanted = set(keys)
    found: dict[str, str] = {}
    for raw in sys.stdin.read().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not sep:
            fail("stdin: each line must be KEY=VALUE")
        if key not in wanted:
            fail(f"stdin has a value for {key!r}, which no --value names")
        found[key] = value
    missing = sorted(wanted - set(found))
    if missing:
        fail(f"stdin has no KEY=VALUE line for {', '.join(missing)}")
    return found


def read_secret(stdin: bool, keys: list[str] | None, prompt: bool) -> tuple[str | None, dict[str, str] | None]:
    """The secret key and/or values from stdin or a hidden prompt; (None, None) when none are asked for."""
    if stdin and keys:
        fail("--secret-key-stdin and --value both read stdin: use one")
    if stdin:
        key = _strip_newline(sys.stdin.read())
        if not key:
            fail("stdin was empty: no secret key")
        return key, None
    if keys:
        return None, read_values(keys)
    if prompt:
        return typer.prompt("Secret key", hide_input=True, confirmation_prompt=sys.stdin.isatty(), err=True), None
    return None, None


def _describe(secret: dict[str, Any], verb: str) -> None:
    note(
        f"{verb} secret {secret['id']!r} ({secret['secretType']}); stored values: {', '.join(secret['valueKeys']) or '-'}"
    )


@app.command("create")
def create(
    secret_id: Annotated[str, typer.Option("--id", help="The secret's id, unique in the organization.")],
    secret_type: TypeOption = "generic",
    name: NameOption = None,
    access_key: AccessKeyOption = None,
    expires_at: ExpiresOption = None,
    secret_key_stdin: StdinOption = False,
    value: ValueOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a secret. Without --secret-key-stdin or --value, the secret key is asked for (hidden)."""
    client = connect(url, token)
    secret_key, values = read_secret(secret_key_stdin, value, prompt=True)
    secret = client.secrets.create(
        secret_id,
        secret_type=secret_type or "generic",
        name=name,
        access_key=access_key,
        secret_key=secret_key,
        values=values,
        expires_at=expires_at,
    )
    if as_json:
        emit_json(secret)
    else:
        _describe(secret, "Created")


@app.command("list")
def list_(
    secret_type: TypeOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List secrets: their readable fields and the names of their values, never the values."""
    show(connect(url, token).secrets.list(secret_type), COLUMNS, as_json)


@app.command("show")
def show_(
    secret_id: Annotated[str, typer.Argument(help="The secret's id.")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one secret's readable fields."""
    show(connect(url, token).secrets.get(secret_id), RECORD, as_json)


@app.command("update")
def update(
    secret_id: Annotated[str, typer.Argument(help="The secret's id.")],
    secret_type: TypeOption = None,
    name: NameOption = None,
    access_key: AccessKeyOption = None,
    expires_at: ExpiresOption = None,
    secret_key_stdin: StdinOption = False,
    value: ValueOption = None,
    prompt: Annotated[bool, typer.Option("--prompt", help="Ask for a new secret key (hidden).")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a secret's fields; a new secret key or values replace all stored values."""
    client = connect(url, token)
    secret_key, values = read_secret(secret_key_stdin, value, prompt)
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "secret_type": secret_type,
            "name": name,
            "access_key": access_key,
            "expires_at": expires_at,
        }.items()
        if v is not None
    }
    if secret_key is not None:
        changes["secret_key"] = secret_key
    if values is not None:
        changes["values"] = values
    if not changes:
        fail("nothing to change: give a field, --secret-key-stdin, --value or --prompt")
    secret = client.secrets.update(secret_id, **changes)
    if as_json:
        emit_json(secret)
    else:
        _describe(secret, "Updated")


@app.command("delete")
def delete(
    secret_id: Annotated[str, typer.Argument(help="The secret's id.")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a secret that no data source uses."""
    connect(url, token).secrets.delete(secret_id)
    if as_json:
        emit_json({"deleted": secret_id})
    else:
        note(f"Deleted secret {secret_id!r}")


@app.command("rotate-master-key")
def rotate_master_key(
    new_key_stdin: Annotated[
        bool, typer.Option("--new-key-stdin", help="Read the new master key from stdin instead of generating one.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Re-encrypt every secret under a new master key, directly on the configured store.

    With the key in a file, a new key is generated into it. With HEADWATER_MASTER_KEY set to
    NEW,OLD (every replica first), the secrets are re-sealed under NEW.
    """
    from headwater.cli.store import open_hub
    from headwater.services.secrets import rotate_master_key as rotate
    from headwater.settings import Settings
    from headwater.vault import Keyring

    settings = Settings.from_env()
    new_key = sys.stdin.read().strip() if new_key_stdin else None
    if new_key_stdin:
        try:
            Keyring.parse(new_key or "")
        except ValueError as exc:
            fail(f"stdin: {exc}")
    if settings.master_key and not new_key:
        keys = [k.strip() for k in settings.master_key.replace("\n", ",").split(",") if k.strip()]
        if len(keys) < 2:
            fail(
                "the master key comes from HEADWATER_MASTER_KEY, so a generated key could not be saved: "
                "set HEADWATER_MASTER_KEY to NEW,OLD (or give the new key with --new-key-stdin)"
            )
        new_key = keys[0]
    hub = open_hub(settings)
    try:
        count = rotate(hub.store, hub.vault, new_key)
    finally:
        hub.close()
    if as_json:
        emit_json({"reencrypted": count})
        return
    where = (
        f"the key file {settings.master_key_file}"
        if not settings.master_key
        else "HEADWATER_MASTER_KEY: set it to the new key alone now"
    )
    typer.echo(f"Re-encrypted {count} secret{'s' if count != 1 else ''} under a new master key; it belongs in {where}.")
