"""Apps: what runs on each partition. `copy` (byte-exact, verified), `convert` (CSV ⇄ JSONL ⇄ Parquet), `python`.

An app sees only its partition's input, its params and a write of its one output;
never a connector, a caller or a credential. `python` apps run user code only inside
a sandbox (see `sandbox`); the hub never imports the module a user named.
"""

from __future__ import annotations

import io
import json
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, ClassVar

from headwater.connectors.base import Entry
from headwater.connectors.blocking import ChunkReader, bridge_ahead
from headwater.errors import Conflict, InvalidInput
from headwater.services.jobs import functions, sandbox
from headwater.services.jobs.inputs import SUFFIX, PartitionInput, format_of
from headwater.services.jobs.streams import AppFailed, ChunkWriter, Meter, through_thread
from headwater.settings import Settings

Write = Callable[[AsyncIterator[bytes]], Awaitable[Entry]]
READ_AHEAD = 4  # chunks of a tabular partition read before its conversion starts (bounded: at most this many held)


@dataclass
class AppContext:
    """Everything an app may use for one partition."""

    input: PartitionInput
    params: dict[str, Any]
    write: Write
    chunk_size: int
    expected_size: int | None = None
    read_back: Callable[[], AsyncIterator[bytes]] | None = None
    delete_output: Callable[[], Awaitable[None]] | None = None
    settings: Settings | None = None


class App(ABC):
    name: ClassVar[str]
    shares_tasks: ClassVar[bool] = True  # small partitions may run several to a task (cost follows bytes)
    cpu_bound: ClassVar[bool] = False  # it computes more than it waits: its tasks take a core each (`executor`)

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate params at create time; return them normalised."""
        if params:
            raise InvalidInput(f"app {self.name!r} takes no params (got {', '.join(sorted(params))})")
        return {}

    def check_runnable(self, settings: Settings, params: dict[str, Any]) -> None:  # noqa: B027 - a hook: most apps run anywhere
        """Refuse at create time what this hub cannot run (checked params, this hub's settings)."""

    def output_name(self, name: str, params: dict[str, Any]) -> str:
        return name

    @abstractmethod
    async def run(self, ctx: AppContext) -> Entry:
        """Read the input, write the output once, return the committed output's entry."""


def _unknown(params: dict[str, Any], known: set[str], app: str) -> None:
    extra = set(params) - known
    if extra:
        raise InvalidInput(
            f"app {app!r}: unknown params {', '.join(sorted(extra))} (known: {', '.join(sorted(known))})"
        )


class Copy(App):
    """Byte-exact copy; verifies the size (always) and the SHA-256 read back (`verify: checksum`)."""

    name = "copy"

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        _unknown(params, {"verify"}, self.name)
        verify = params.get("verify", "size")
        if verify not in ("size", "checksum"):
            raise InvalidInput("app 'copy': verify must be 'size' or 'checksum'")
        return {"verify": verify}

    async def run(self, ctx: AppContext) -> Entry:
        meter = Meter(digest=ctx.params.get("verify") == "checksum")

        async def body() -> AsyncIterator[bytes]:
            async for chunk in meter.wrap(ctx.input.chunks()):
                yield chunk
            if ctx.expected_size is not None and meter.bytes != ctx.expected_size:
                raise AppFailed(f"read {meter.bytes} bytes of {ctx.input.name!r}, expected {ctx.expected_size}")

        entry = await ctx.write(body())
        if entry.size is not None and entry.size != meter.bytes:
            await self._undo(ctx, f"the destination holds {entry.size} bytes, {meter.bytes} were sent")
        if meter.sha256 is not None and ctx.read_back is not None:
            check = Meter(digest=True)
            async for _ in check.wrap(ctx.read_back()):
                pass
            if check.sha256 != meter.sha256:
                await self._undo(ctx, "the SHA-256 read back differs from the source's")
        return entry

    async def _undo(self, ctx: AppContext, why: str) -> None:
        if ctx.delete_output is not None:
            await ctx.delete_output()
        raise AppFailed(f"copy of {ctx.input.name!r} failed verification: {why}")


def _write_batches(schema: Any, batches: Any, to: str, out: Any) -> None:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if to == "csv":
        with pa_csv.CSVWriter(out, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    elif to == "parquet":
        with pq.ParquetWriter(out, schema) as writer:
            for batch in batches:
                writer.write_table(pa.Table.from_batches([batch], schema=schema))
    else:
        for batch in batches:
            lines = [json.dumps(row, default=str, ensure_ascii=False) for row in batch.to_pylist()]
            if lines:
                out.write(("\n".join(lines) + "\n").encode())


class Convert(App):
    """CSV ⇄ JSONL ⇄ Parquet with pyarrow, streaming record batches; params `to` and optionally `from`."""

    name = "convert"
    cpu_bound = True  # parsing and encoding: more tasks at once than cores only fight over them

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        _unknown(params, {"to", "from"}, self.name)
        to = params.get("to")
        if to not in SUFFIX:
            raise InvalidInput(f"app 'convert': param 'to' must be one of {', '.join(SUFFIX)}")
        result = {"to": to}
        if params.get("from") is not None:
            result["from"] = format_of("", params["from"])
        return result

    def output_name(self, name: str, params: dict[str, Any]) -> str:
        return str(PurePosixPath(name).with_suffix(SUFFIX[params["to"]]))

    async def run(self, ctx: AppContext) -> Entry:
        source = ctx.params.get("from") or ctx.input.format
        if source is None:
            raise InvalidInput(f"{ctx.input.name!r} is not CSV, JSONL or Parquet: say which with the app param 'from'")
        ctx.input.format = source
        random = await ctx.input.random() if source == "parquet" and ctx.input.random is not None else None
        # a partition within READ_AHEAD chunks is read here, before the thread starts: the thread then reads
        # it from memory, with no hop back to the loop and no call from pyarrow's reader into Python
        ahead = await bridge_ahead(ctx.input.chunks(), READ_AHEAD * ctx.chunk_size) if source != "parquet" else None

        def readable() -> Any:
            import pyarrow as pa

            assert ahead is not None
            if ahead.ended:
                return pa.BufferReader(ahead.whole())
            return io.BufferedReader(ChunkReader(ahead), ctx.chunk_size)

        def work(out: ChunkWriter) -> None:
            import pyarrow as pa

            batches = iter(ctx.input.batches(readable, random))
            first = next(batches, None)
            # pyarrow's writers make many small writes: buffered natively, the writer gets a chunk at a time
            with pa.BufferedOutputStream(pa.PythonFile(out, mode="w"), ctx.chunk_size) as buffered:
                if first is None:
                    _write_batches(pa.schema([]), [], ctx.params["to"], buffered)
                else:
                    _write_batches(first.schema, _chain(first, batches), ctx.params["to"], buffered)

        _, entry = await through_thread(work, ctx.write, ctx.chunk_size)
        return entry


def _chain(first: Any, rest: Any) -> Any:
    yield first
    yield from rest


_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


PARAMS_LIMIT = 64 * 1024


class Python(App):
    """A user function `module:function` of an installed package or HEADWATER_SANDBOX_PATH, per partition, sandboxed."""

    name = "python"
    shares_tasks = False  # user code's cost is not the input's size: a partition a task

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        _unknown(params, {"function", "params", "suffix"}, self.name)
        ref = params.get("function")
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            raise InvalidInput("app 'python': param 'function' must be 'module:function' of an installed package")
        user = params.get("params", {})
        if not isinstance(user, dict):
            raise InvalidInput("app 'python': 'params' must be an object")
        if len(json.dumps(user)) > PARAMS_LIMIT:
            raise InvalidInput(f"app 'python': 'params' must be at most {PARAMS_LIMIT // 1024} KiB of JSON")
        suffix = params.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or not re.fullmatch(r"\.[A-Za-z0-9]{1,16}", suffix)):
            raise InvalidInput("app 'python': 'suffix' must look like '.txt'")
        return {"function": ref, "params": user, **({"suffix": suffix} if suffix else {})}

    def check_runnable(self, settings: Settings, params: dict[str, Any]) -> None:
        why = sandbox.unavailable(settings)
        if why is not None:
            raise Conflict(
                f"app 'python' is unavailable on this hub: user code runs only in a bubblewrap sandbox, and {why}"
            )
        module = params["function"].split(":", 1)[0]
        seen = sandbox.view(settings)
        path = functions.module_path(list(seen.visible), list(seen.module_path))
        if not functions.exists(module, path):
            raise InvalidInput(
                f"app 'python': module {module!r} is not installed on the hub (nor in HEADWATER_SANDBOX_PATH)"
            )

    def output_name(self, name: str, params: dict[str, Any]) -> str:
        suffix = params.get("suffix")
        return str(PurePosixPath(name).with_suffix(suffix)) if suffix else name

    async def run(self, ctx: AppContext) -> Entry:
        if ctx.settings is None:
            raise AppFailed("app 'python' needs the hub's settings to build its sandbox")
        return await sandbox.run(
            ctx.settings, ctx.params["function"], ctx.params.get("params", {}), ctx.input.chunks(), ctx.write
        )


APPS: dict[str, App] = {app.name: app for app in (Copy(), Convert(), Python())}


def get(name: str) -> App:
    app = APPS.get(name)
    if app is None:
        raise InvalidInput(f"unknown app {name!r}: use one of {', '.join(APPS)}")
    return app
