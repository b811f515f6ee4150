"""The options every remote command shares, and the client they build."""

from __future__ import annotations

from typing import Annotated

import typer

from headwater.cli.output import fail
from headwater.client import Client

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="HEADWATER_URL", show_envvar=True, help="The hub's base URL (default http://127.0.0.1:8000)."
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="HEADWATER_TOKEN",
        show_envvar=True,
        show_default=False,
        help="An API token (prefer the env var: flags land in shell history).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def connect(url: str | None, token: str | None) -> Client:
    """A client for the hub, or a one-line error when no token is configured."""
    if not token:
        fail("no token: pass --token or set HEADWATER_TOKEN (create one with `headwater token create`)")
    return Client(url, token)
