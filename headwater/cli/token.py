"""`headwater token`: tokens made directly on the configured store (for bootstrapping a hub)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from headwater.cli.options import JsonOption
from headwater.cli.output import emit_json, fail, note

app = typer.Typer(
    help="Create tokens directly on the hub's store (HEADWATER_DATA_DIR / HEADWATER_DATABASE_URL).",
    no_args_is_help=True,
)


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 moment; without a zone it is taken as UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--expires-at {text!r} is not an ISO 8601 date or time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("create")
def create(
    org: Annotated[str, typer.Option("--org", help="The organization (created if missing).")],
    user: Annotated[str, typer.Option("--user", help="The user (created if missing).")],
    admin: Annotated[bool, typer.Option("--admin", help="An administrator token.")] = False,
    read_only: Annotated[bool, typer.Option("--read-only", help="Refuse every write.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="A name to recognise the token by.")] = None,
    expires_at: Annotated[str | None, typer.Option("--expires-at", help="ISO 8601 expiry (UTC if no zone).")] = None,
    init: Annotated[bool, typer.Option("--init", help="Create the store if there is none (else: refuse).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a token and print its value, once: the hub keeps only its hash."""
    from headwater.cli.store import open_hub
    from headwater.services import tokens
    from headwater.settings import Settings

    narrowing = tokens.Narrowing(read_only=read_only, expires_at=parse_time(expires_at))
    hub = open_hub(Settings.from_env(), init=init)
    try:
        token, value = tokens.create_local_token(
            hub, org_name=org, user_name=user, admin=admin, name=name, narrowing=narrowing
        )
        token_id = token.id
    finally:
        hub.close()
    if as_json:
        emit_json(
            {
                "id": token_id,
                "token": value,
                "organization": org,
                "user": user,
                "admin": admin,
                "readOnly": read_only,
                "name": name,
                "expiresAt": narrowing.expires_at,
            }
        )
        return
    note(
        f"Token for user {user!r} in organization {org!r}{' (admin)' if admin else ''}{' (read-only)' if read_only else ''}; shown once:"
    )
    typer.echo(value)
