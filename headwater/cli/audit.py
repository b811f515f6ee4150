"""`headwater audit`: read the organization's audit trail."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, show

app = typer.Typer(help="The audit trail: who touched what, and what happened.", no_args_is_help=True)

COLUMNS = [
    ("time", "time"), ("user", "user"), ("operation", "operation"), ("connection", "connection"),
    ("path", "path"), ("outcome", "outcome"), ("status", "status"), ("bytes out", "bytesOut"),
]


@app.command("tail")
def tail(
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many of the latest events to show.")] = 20,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new events as they arrive.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls with --follow.")] = 2.0,
    source: Annotated[str | None, typer.Option("--source", help="A source id or connection (protocol+label).")] = None,
    user: Annotated[str | None, typer.Option("--user")] = None,
    operation: Annotated[str | None, typer.Option("--operation")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="allowed, refused, invalid or failed.")] = None,
    url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False,
) -> None:
    """Show the latest audit events (and with -f, follow new ones)."""
    client = connect(url, token)
    filters: dict[str, Any] = {"source": source, "user": user, "operation": operation, "outcome": outcome}
    events = client.audit.events(**filters)
    latest = events[-lines:] if lines > 0 else []
    _print(latest, as_json)
    after = events[-1]["id"] if events else None
    while follow:
        time.sleep(interval)
        page = client.audit.page(after=after, limit=1000, **filters)
        if page["events"]:
            _print(page["events"], as_json)
            after = page["events"][-1]["id"]


def _print(events: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for event in events:
            emit_json(event)
    elif events:
        show(events, COLUMNS, False)
