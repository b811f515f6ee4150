"""Data commands: `ls`, `cat`, `cp`, `rm`, `mkdir` over `data://org/path` and `protocol+label://path`.

`cp` copies between two addresses, or between a local path (or `-` for stdin/stdout) and an
address, streamed chunk by chunk; it shows a progress bar when stderr is a terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from headwater.addresses import looks_like_address
from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import emit_json, fail, progress
from headwater.client import Client, DataFile, Entry, InvalidInputError
from headwater.client.data import DEFAULT_CHUNK

AddressArgument = Annotated[str, typer.Argument(help="data://ORG/path or protocol+label://path.")]
AddressesArgument = Annotated[list[str], typer.Argument(help="data://ORG/path or protocol+label://path.")]


def is_address(text: str) -> bool:
    """`scheme://...` is an address; anything else is a local path (`-` is stdin/stdout).

    `s3+lake//x` (a connection without its `:`) that names no local file counts as an address,
    so the parser says what is wrong with it instead of "no such file".
    """
    if looks_like_address(text):
        return True
    return "+" in text.split("/", 1)[0] and not os.path.lexists(text)


def _entry_json(entry: Entry) -> dict[str, object]:
    return {"name": entry.name, "isDir": entry.is_dir, "size": entry.size,
            "modified": entry.modified.isoformat() if entry.modified else None, "address": entry.address}


def ls(
    address: AddressArgument,
    long: Annotated[bool, typer.Option("--long", "-l", help="Show size and modification time.")] = False,
    url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False,
) -> None:
    """List a directory (every page); directories end with '/'."""
    client = connect(url, token)
    entries = _entries(client, address)
    if as_json:
        emit_json([_entry_json(e) for e in entries])
        return
    out = sys.stdout
    for entry in entries:
        name = entry.name + ("/" if entry.is_dir else "")
        if long:
            size = "-" if entry.size is None else str(entry.size)
            modified = entry.modified.strftime("%Y-%m-%d %H:%M:%S") if entry.modified else "-"
            out.write(f"{size:>12}  {modified:19}  {name}\n")
        else:
            out.write(name + "\n")
    out.flush()


def _entries(client: Client, address: str) -> Iterator[Entry]:
    """A directory's entries, or the one entry of a file."""
    directory = client.dir(address)
    listing = directory.list()
    try:
        first = next(listing, None)
    except InvalidInputError:
        info = client.file(address).info()
        if info.is_dir:
            raise
        target = client.file(address)
        yield Entry(target.name, False, str(target.address), info.size, info.modified)
        return
    if first is not None:
        yield first
        yield from listing


def cat(
    addresses: AddressesArgument,
    url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Stream files to stdout."""
    client = connect(url, token)
    out = sys.stdout.buffer
    for address in addresses:
        with client.file(address).get() as download:
            for chunk in download:
                out.write(chunk)
    out.flush()


def _local_chunks(handle: BinaryIO, chunk_size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
    while chunk := handle.read(chunk_size):
        yield chunk


def _remote_target(client: Client, dst: str, name: str) -> DataFile:
    """The destination file: inside `dst` when it ends with '/' or is an existing directory."""
    if dst.endswith("/") or client.dir(dst).exists():
        return client.dir(dst).file(name)
    return client.file(dst)


def _local_target(dst: str, name: str) -> Path:
    path = Path(dst)
    if dst.endswith(os.sep) or path.is_dir():
        return path / name
    return path


def _download(source: DataFile, size: int | None, dst: str) -> tuple[str, int]:
    """Remote → local file (written to a temporary name, then renamed) or stdout."""
    written = 0
    with source.get() as download, progress(download, size, source.name) as chunks:
        if dst == "-":
            out = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
            out.flush()
            return "-", written
        target = _local_target(dst, source.name)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    written += len(chunk)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    return str(target), written


def _upload(client: Client, src: str, dst: str) -> tuple[str, int]:
    """Local file or stdin → remote."""
    if src == "-":
        target = client.file(dst)
        handle: BinaryIO = sys.stdin.buffer
        size = None
    else:
        path = Path(src)
        if path.is_dir():
            fail(f"{src} is a directory: cp copies files")
        target = _remote_target(client, dst, path.name)
        handle = path.open("rb")
        size = os.fstat(handle.fileno()).st_size
    written = 0
    try:
        with progress(_local_chunks(handle, client.chunk_size), size, target.name) as chunks:
            def counted() -> Iterator[bytes]:
                nonlocal written
                for chunk in chunks:
                    written += len(chunk)
                    yield chunk
            target.put(counted(), size=size)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    return str(target.address), written


def _transfer(client: Client, src: str, dst: str) -> tuple[str, int]:
    """Remote → remote, streamed through this process without holding the file."""
    source = client.file(src)
    info = source.info()
    if info.is_dir:
        fail(f"{src} is a directory: cp copies files")
    target = _remote_target(client, dst, source.name)
    with source.get() as download, progress(download, info.size, source.name) as chunks:
        target.put(chunks, size=info.size)
    return str(target.address), info.size or 0


def cp(
    src: Annotated[str, typer.Argument(help="An address, a local path, or - for stdin.")],
    dst: Annotated[str, typer.Argument(help="An address, a local path, or - for stdout.")],
    url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False,
) -> None:
    """Copy a file between two addresses, or between a local path and an address."""
    remote_src, remote_dst = is_address(src), is_address(dst)
    if not remote_src and not remote_dst:
        fail("both SRC and DST are local: one of them must be an address (data://... or protocol+label://...)")
    client = connect(url, token)
    if remote_src and remote_dst:
        written_to, size = _transfer(client, src, dst)
    elif remote_src:
        source = client.file(src)
        info = source.info()
        if info.is_dir:
            fail(f"{src} is a directory: cp copies files")
        written_to, size = _download(source, info.size, dst)
    else:
        written_to, size = _upload(client, src, dst)
    if as_json and written_to != "-":
        emit_json({"source": src, "destination": written_to, "bytes": size})


def rm(
    addresses: AddressesArgument,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Delete directories and their contents.")] = False,
    url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False,
) -> None:
    """Delete files (and with -r, directories)."""
    client = connect(url, token)
    deleted: list[dict[str, object]] = []
    for address in addresses:
        target = client.file(address)
        if target.info().is_dir:
            if not recursive:
                fail(f"{address} is a directory: use rm -r")
            count = client.dir(address).delete(force=True)
        else:
            target.delete()
            count = 1
        deleted.append({"address": address, "files": count})
    if as_json:
        emit_json({"deleted": deleted})


def mkdir(
    addresses: AddressesArgument,
    parents: Annotated[bool, typer.Option("--parents", "-p", help="No error if it exists.")] = False,
    url: UrlOption = None, token: TokenOption = None, as_json: JsonOption = False,
) -> None:
    """Create directories."""
    client = connect(url, token)
    for address in addresses:
        client.dir(address).create(exist_ok=parents)
    if as_json:
        emit_json({"created": addresses})


def register(app: typer.Typer) -> None:
    for command in (ls, cat, cp, rm, mkdir):
        app.command(command.__name__)(command)
