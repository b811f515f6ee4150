"""How the CLI prints: rich tables for people, `--json` for programs, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich import filesize
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

Column = tuple[str, str]  # (header, key)


PIPE_WIDTH = 200


def stdout() -> Console:
    """The console for results; wide when piped, so `grep` sees whole rows."""
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    first = " ".join(str(message).split())
    sys.stderr.write(f"error: {first}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def note(message: str) -> None:
    """A line for people, on stderr, so stdout stays clean for pipes."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def human_bytes(count: int | float | None) -> str:
    """`1.5 MB`, `12 bytes`: sizes for people (decimal units, as the progress bars show them)."""
    return filesize.decimal(int(count or 0))


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_default) + "\n")
    sys.stdout.flush()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def cell(value: Any) -> Text:
    """A table cell: plain text (never rich markup), JSON for structures, '-' for nothing."""
    if value is None or value == "" or value == []:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return Text(", ".join(value))
    if isinstance(value, (dict, list)):
        return Text(json.dumps(value, ensure_ascii=False, default=_default))
    if isinstance(value, datetime):
        return Text(value.isoformat(timespec="seconds"))
    return Text(str(value))


def pick(data: dict[str, Any], key: str) -> Any:
    """`data["a"]["b"]` for key `a.b`; None when missing."""
    value: Any = data
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def table(rows: Iterable[dict[str, Any]], columns: Sequence[Column], title: str | None = None) -> None:
    grid = Table(title=title, show_edge=False, header_style="bold")
    for index, (header, _) in enumerate(columns):
        grid.add_column(header, overflow="fold", no_wrap=index == 0)
    for row in rows:
        grid.add_row(*(cell(pick(row, key)) for _, key in columns))
    stdout().print(grid)


def record(data: dict[str, Any], fields: Sequence[Column]) -> None:
    """One object as a two-column table of its fields."""
    grid = Table(show_header=False, show_edge=False, box=None, padding=(0, 2, 0, 0))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for header, key in fields:
        grid.add_row(header, cell(pick(data, key)))
    stdout().print(grid)


def show(data: dict[str, Any] | list[dict[str, Any]], columns: Sequence[Column], as_json: bool) -> None:
    """A list as a table or an object as a record, or either as JSON."""
    if as_json:
        emit_json(data)
    elif isinstance(data, list):
        table(data, columns)
    else:
        record(data, columns)


class Meter:
    """The bytes of one `cp`: one progress bar on stderr (only when it is a terminal) over every file,
    and a one-line summary (bytes, time, speed) once it is done."""

    def __init__(self, total: int | None, label: str) -> None:
        self.total = total
        self.label = label
        self.bytes = 0
        self.files = 0
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Meter:
        if sys.stderr.isatty():
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=stderr(),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def count(self, chunks: Iterable[bytes], name: str | None = None) -> Iterator[bytes]:
        """Pass `chunks` through, counting them (one more file) and moving the bar."""
        self.files += 1
        if self._bar is not None and self._task is not None and name:
            self._bar.update(self._task, description=name)
        for chunk in chunks:
            self.bytes += len(chunk)
            if self._bar is not None and self._task is not None:
                self._bar.advance(self._task, len(chunk))
            yield chunk

    def summary(self) -> str:
        """`Copied 3 files, 12.6 MB in 1.2 s (10.5 MB/s)`."""
        seconds = max(time.monotonic() - self._started, 1e-6)
        files = f"{self.files} file{'s' if self.files != 1 else ''}, " if self.files != 1 else ""
        return f"Copied {files}{human_bytes(self.bytes)} in {seconds:.1f} s ({human_bytes(self.bytes / seconds)}/s)"
