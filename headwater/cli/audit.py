"""`headwater audit`: read the organization's audit trail."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, show
from headwater.client import Client

app = typer.Typer(help="The audit trail: who touched what, and what happened.", no_args_is_help=True)

COLUMNS = [
    ("time", "time"),
    ("user", "user"),
    ("operation", "operation"),
    ("connection", "connection"),
    ("path", "path"),
    ("outcome", "outcome"),
    ("status", "status"),
    ("bytes out", "bytesOut"),
]


@app.command("tail")
def tail(
    lines: Annotated[
        int, typer.Option("-n", "--lines", help="How many of the latest events to show (newest first).")
    ] = 20,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new events as they arrive.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls with --follow.")] = 2.0,
    source: Annotated[str | None, typer.Option("--source", help="A source id or connection (protocol+label).")] = None,
    user: Annotated[str | None, typer.Option("--user")] = None,
    operation: Annotated[str | None, typer.Option("--operation")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="allowed, refused, invalid or failed.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the latest audit events, newest first (and with -f, follow new ones as they arrive)."""
    client = connect(url, token)
    filters: dict[str, Any] = {"source": source, "user": user, "operation": operation, "outcome": outcome}
    latest = _latest(client, max(lines, 0), filters)
    if not follow:
        _print(latest, as_json)
        return
    # Following reads like `tail -f`: the latest events oldest first, then each new one below them.
    _print(latest[::-1], as_json)
    newest = latest[:1] or _latest(client, 1, filters)
    after = newest[0]["id"] if newest else None
    while True:
        time.sleep(interval)
        page = client.audit.page(after=after, limit=1000, **filters)
        if page["events"]:
            _print(page["events"], as_json)
            after = page["events"][-1]["id"]


def _latest(client: Client, count: int, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The `count` newest matching events, newest first, paging backwards through the trail."""
    found: list[dict[str, Any]] = []
    after: int | None = None
    while len(found) < count:
        page = client.audit.page(after=after, limit=min(count - len(found), 1000), order="desc", **filters)
        found += page["events"]
        after = page.get("next")
        if not after:
            break
    return found


def _print(events: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for event in events:
            emit_json(event)
    elif events:
        show(events, COLUMNS, False)
