"""`headwater jobs`: create, run, watch (live progress bars), cancel, results, and the rest of a job's life."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, fail, human_bytes, note, show, stderr
from headwater.client import Client

app = typer.Typer(help="Jobs: a data source in, an app over partitions, a data destination out.", no_args_is_help=True)

COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("state", "state"),
    ("progress", "progressText"),
    ("app", "app"),
    ("source", "source"),
    ("destination", "destination"),
]
RECORD = [
    ("id", "id"),
    ("name", "name"),
    ("state", "state"),
    ("source", "source"),
    ("destination", "destination"),
    ("app", "app"),
    ("partitioner", "partitioner"),
    ("assembler", "assembler"),
    ("params", "params"),
    ("progress", "progressText"),
    ("outputs", "outputs"),
    ("error", "errorMessage"),
    ("states", "stateTimestamps"),
    ("created", "createdAt"),
]
TERMINAL = ("complete", "failed", "canceled")
SHORT_ID = 8  # the short id the CLI shows; any unique prefix of an id names its job
JobArgument = Annotated[str, typer.Argument(help="The job's id, or a unique start of it (the short id).")]


def progress_text(progress: dict[str, Any]) -> str:
    """`3/4 partitions (1 failed), 1.2 MB in, 800 kB out`."""
    failed = progress.get("partitionsFailed") or 0
    done = f"{progress.get('partitionsDone', 0)}/{progress.get('partitionsTotal', 0)} partitions"
    return (
        f"{done}{f' ({failed} failed)' if failed else ''}, "
        f"{human_bytes(progress.get('bytesIn'))} in, {human_bytes(progress.get('bytesOut'))} out"
    )


def _for_people(job: dict[str, Any]) -> dict[str, Any]:
    return {**job, "progressText": progress_text(job.get("progress") or {})}


ParamOption = Annotated[
    list[str] | None, typer.Option(metavar="KEY=VALUE", help="A param (repeatable; JSON values allowed).")
]


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, Any]:
    """`KEY=VALUE` pairs; a VALUE that parses as JSON (numbers, true, objects) is taken as such."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{option} {pair!r} is not KEY=VALUE")
        try:
            params[key.strip()] = json.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params


@app.command("create")
def create(
    source: Annotated[str, typer.Option("--source", help="An address with an optional glob: s3+in://bucket/raw/*.csv")],
    destination: Annotated[str, typer.Option("--destination", help="A destination folder: s3+out://bucket/out/")],
    app_name: Annotated[str, typer.Option("--app", help="copy, convert or python.")] = "copy",
    partitioner: Annotated[str, typer.Option("--partitioner", help="object, size or rows.")] = "object",
    assembler: Annotated[str, typer.Option("--assembler", help="passthrough, concatenate or zip.")] = "passthrough",
    app_param: Annotated[
        list[str] | None,
        typer.Option("--app-param", metavar="KEY=VALUE", help="An app param, e.g. to=parquet (repeatable)."),
    ] = None,
    partitioner_param: Annotated[
        list[str] | None, typer.Option("--partitioner-param", metavar="KEY=VALUE", help="e.g. rows=100000.")
    ] = None,
    assembler_param: Annotated[
        list[str] | None, typer.Option("--assembler-param", metavar="KEY=VALUE", help="e.g. name=all.csv.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A readable name.")] = None,
    run: Annotated[bool, typer.Option("--run", help="Run it at once.")] = False,
    watch_it: Annotated[bool, typer.Option("--watch", help="Run it and show its progress until it ends.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a job (and run it with --run, or run and watch it with --watch)."""
    client = connect(url, token)
    job = client.jobs.create(
        source,
        destination,
        app=app_name,
        partitioner=partitioner,
        assembler=assembler,
        app_params=parse_pairs(app_param, "--app-param"),
        partitioner_params=parse_pairs(partitioner_param, "--partitioner-param"),
        assembler_params=parse_pairs(assembler_param, "--assembler-param"),
        name=name,
        run=run or watch_it,
    )
    if as_json and not watch_it:
        emit_json(job)
    else:
        short = job["id"][:SHORT_ID]
        note(f"Created job {short} ({job['state']}); follow it with: headwater jobs watch {short}")
        typer.echo(job["id"])
    if watch_it:
        _watch(client, [job["id"]], as_json)


@app.command("list")
def list_(
    state: Annotated[str | None, typer.Option("--state", help="Only jobs in this state.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List jobs, newest first."""
    jobs = connect(url, token).jobs.list(state)
    show(jobs if as_json else [_for_people(j) for j in jobs], COLUMNS, as_json)


@app.command("show")
def show_(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Show a job with its state and progress."""
    client = connect(url, token)
    job = client.jobs.get(client.jobs.resolve(job_id))
    show(job if as_json else _for_people(job), RECORD, as_json)


@app.command("run")
def run_(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Run a new job."""
    client = connect(url, token)
    job = client.jobs.run(client.jobs.resolve(job_id))
    emit_json(job) if as_json else note(f"Job {job['id']} is {job['state']}")


@app.command("cancel")
def cancel(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Cancel a job: queued partitions at once, running ones at their next chunk; its outputs are removed."""
    client = connect(url, token)
    job = client.jobs.cancel(client.jobs.resolve(job_id))
    emit_json(job) if as_json else note(f"Job {job['id']} is {job['state']}")


@app.command("delete")
def delete(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Forget a job that is not running (its outputs stay)."""
    client = connect(url, token)
    resolved = client.jobs.resolve(job_id)
    client.jobs.delete(resolved)
    note(f"Deleted job {resolved}")


@app.command("results")
def results(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """The outputs of a complete job: names, sizes, and signed links (temporary buckets) or addresses."""
    client = connect(url, token)
    found = client.jobs.results(client.jobs.resolve(job_id))
    rows = found if as_json else [{**r, "size": human_bytes(r.get("size"))} for r in found]
    show(rows, [("name", "name"), ("size", "size"), ("link", "link"), ("address", "address")], as_json)


@app.command("logs")
def logs(job_id: JobArgument, url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """A job's log, oldest first."""
    client = connect(url, token)
    lines = client.jobs.logs(client.jobs.resolve(job_id), limit=10000)["logs"]
    show(lines, [("time", "time"), ("level", "level"), ("partition", "partition"), ("message", "message")], as_json)


@app.command("watch")
def watch(
    job_ids: Annotated[list[str], typer.Argument(help="One or more job ids (or unique starts of them).")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a live progress bar per job until every one ends; exit 1 if any failed or was canceled."""
    client = connect(url, token)
    _watch(client, [client.jobs.resolve(j) for j in job_ids], as_json)


def _label(job: dict[str, Any]) -> str:
    return f"{(job.get('name') or job['id'][:SHORT_ID])} [{job['state']}]"


def _watch(client: Client, job_ids: list[str], as_json: bool, poll: float = 0.5) -> None:
    finished: dict[str, dict[str, Any]] = {}
    live = sys.stderr.isatty() and not as_json
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[bytes]}"),
        TimeElapsedColumn(),
        console=stderr(),
        disable=not live,
    )
    with bar:
        tasks: dict[str, TaskID] = {j: bar.add_task(j[:SHORT_ID], total=None, bytes="") for j in job_ids}
        while len(finished) < len(job_ids):
            for job_id in job_ids:
                if job_id in finished:
                    continue
                job = client.jobs.get(job_id)
                progress = job["progress"]
                bar.update(
                    tasks[job_id],
                    description=_label(job),
                    total=progress["partitionsTotal"] or None,
                    completed=progress["partitionsDone"],
                    bytes=f"{human_bytes(progress['bytesIn'])} in, {human_bytes(progress['bytesOut'])} out",
                )
                if job["state"] in TERMINAL and job.get("settledAt"):
                    finished[job_id] = job
                    if not live and not as_json:
                        note(f"{job_id[:SHORT_ID]}: {job['state']} ({progress_text(progress)})")
            if len(finished) < len(job_ids):
                time.sleep(poll)
    if as_json:
        emit_json([finished[j] for j in job_ids])
    bad = [j for j in job_ids if finished[j]["state"] != "complete"]
    for job_id in bad:
        reason = finished[job_id].get("errorMessage") or finished[job_id]["state"]
        note(f"job {job_id} did not complete: {reason}")
    if bad:
        raise typer.Exit(1)
