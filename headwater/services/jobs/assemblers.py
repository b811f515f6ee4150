"""Assemblers: how partition outputs become the job's outputs.

* `passthrough`: each partition writes its own output at the destination (no staging).
* `concatenate`: the staged outputs, in partition order, as one file `name`; a `.csv`
  name keeps only the first header line, a `.parquet` name merges the files' row groups.
* `zip`: the staged outputs as entries of one zip file `name`.

Staged outputs live in the hub's data dir (`jobs/<job id>/parts/`), written atomically
like any output; the final file is written through the destination's atomic write.
"""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import anyio

from headwater.addresses import normalise_segment
from headwater.connectors.base import Entry
from headwater.errors import InvalidInput
from headwater.services.jobs.streams import ChunkWriter, through_thread

ASSEMBLERS = ("passthrough", "concatenate", "zip")
Write = Callable[[str, AsyncIterator[bytes]], Awaitable[Entry]]


def check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    if name not in ASSEMBLERS:
        raise InvalidInput(f"unknown assembler {name!r}: use one of {', '.join(ASSEMBLERS)}")
    known = {"passthrough": set(), "concatenate": {"name"}, "zip": {"name", "compression"}}[name]
    extra = set(params) - known
    if extra:
        raise InvalidInput(f"assembler {name!r}: unknown params {', '.join(sorted(extra))}")
    output = params.get("name")
    if output is not None and not (isinstance(output, str) and _segment(output)):
        raise InvalidInput(f"assembler {name!r}: 'name' must be a file name")
    if params.get("compression", "deflate") not in ("deflate", "store"):
        raise InvalidInput("assembler 'zip': compression must be 'deflate' or 'store'")
    return dict(params)


def _segment(name: str) -> bool:
    try:
        return normalise_segment(name) == name
    except InvalidInput:
        return False


def staged(name: str) -> bool:
    """Whether partition outputs go to the staging area (and the assembler writes the destination)."""
    return name != "passthrough"


@dataclass
class Part:
    index: int
    output: str
    path: Path


def final_name(assembler: str, params: dict[str, Any], parts: list[Part]) -> str:
    if params.get("name"):
        return str(params["name"])
    if assembler == "zip":
        return "output.zip"
    suffix = PurePosixPath(parts[0].output).suffix if parts else ""
    return f"output{suffix}"


async def _file_chunks(path: Path, chunk_size: int, skip_first_line: bool) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        if skip_first_line:
            pending = b""
            while b"\n" not in pending:
                chunk = await handle.read(chunk_size)
                if not chunk:
                    return
                pending += chunk
            rest = pending.split(b"\n", 1)[1]
            if rest:
                yield rest
        while chunk := await handle.read(chunk_size):
            yield chunk


async def concatenate(parts: list[Part], name: str, write: Write, chunk_size: int) -> Entry:
    """One file of every part in order (CSV: one header; Parquet: row groups merged)."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return await _merge_parquet(parts, name, write, chunk_size)
    csv = suffix == ".csv"

    async def body() -> AsyncIterator[bytes]:
        for number, part in enumerate(parts):
            async for chunk in _file_chunks(part.path, chunk_size, csv and number > 0):
                yield chunk

    return await write(name, body())


async def _merge_parquet(parts: list[Part], name: str, write: Write, chunk_size: int) -> Entry:
    def work(out: ChunkWriter) -> None:
        import pyarrow.parquet as pq

        writer: Any = None
        try:
            for part in parts:
                source = pq.ParquetFile(part.path)
                if writer is None:
                    writer = pq.ParquetWriter(out, source.schema_arrow)
                for index in range(source.num_row_groups):
                    writer.write_table(source.read_row_group(index))
        finally:
            if writer is not None:
                writer.close()

    _, entry = await through_thread(work, lambda chunks: write(name, chunks), chunk_size)
    return entry


async def zip_parts(parts: list[Part], name: str, compression: str, write: Write, chunk_size: int) -> Entry:
    """A zip of every part, each entry named by its partition output, streamed (no seeking)."""
    method = zipfile.ZIP_DEFLATED if compression == "deflate" else zipfile.ZIP_STORED

    def work(out: ChunkWriter) -> None:
        with zipfile.ZipFile(out, "w", compression=method) as archive:
            for part in parts:
                with part.path.open("rb") as source, archive.open(part.output, "w", force_zip64=True) as entry:
                    while chunk := source.read(chunk_size):
                        entry.write(chunk)

    _, entry = await through_thread(work, lambda chunks: write(name, chunks), chunk_size)
    return entry


async def assemble(assembler: str, params: dict[str, Any], parts: list[Part], write: Write, chunk_size: int) -> Entry:
    name = final_name(assembler, params, parts)
    if assembler == "zip":
        return await zip_parts(parts, name, params.get("compression", "deflate"), write, chunk_size)
    return await concatenate(parts, name, write, chunk_size)
