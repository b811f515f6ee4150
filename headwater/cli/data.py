"""Data commands: `ls`, `cat`, `cp`, `rm`, `mkdir` over `data://org/path` and `protocol+label://path`.

`cp` copies between two addresses, or between a local path (or `-` for stdin/stdout) and an
address, streamed chunk by chunk; `cp -r` copies folders. One progress bar covers the whole
copy when stderr is a terminal, and a line sums it up (bytes, time, speed).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from headwater.addresses import looks_like_address, normalise_segment
from headwater.cli.options import JsonOption, TokenOption, UrlOption, connect
from headwater.cli.output import Meter, emit_json, fail, note
from headwater.client import Client, DataDirectory, DataFile, Entry, InvalidInputError
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
    return {
        "name": entry.name,
        "isDir": entry.is_dir,
        "size": entry.size,
        "modified": entry.modified.isoformat() if entry.modified else None,
        "address": entry.address,
    }


def ls(
    address: AddressArgument,
    long: Annotated[bool, typer.Option("--long", "-l", help="Show size and modification time.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
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
    url: UrlOption = None,
    token: TokenOption = None,
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _local_folder(folder: Path) -> Path:
    """`folder`, or a one-line error naming it when it is not an existing folder."""
    if not folder.is_dir():
        fail(f"local folder {folder} does not exist" if not folder.exists() else f"{folder} is not a folder")
    return folder


def _write_local(chunks: Iterable[bytes], target: Path) -> None:
    """Write a download to a temporary name beside `target`, then rename it; the file follows the umask."""
    folder = _local_folder(target.parent)
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        fail(f"cannot write into local folder {folder}: {exc.strerror or exc}")
    try:
        with os.fdopen(handle, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.chmod(temp, 0o666 & ~_umask())  # as `open` would have made it (mkstemp makes 0600)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _download(source: DataFile, size: int | None, dst: str, meter: Meter) -> str:
    """Remote → local file (written to a temporary name, then renamed) or stdout."""
    with source.get() as download:
        chunks = meter.count(download, source.name)
        if dst == "-":
            out = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            return "-"
        target = _local_target(dst, source.name)
        _write_local(chunks, target)
    return str(target)


def _upload(client: Client, src: str, dst: str, meter: Meter) -> str:
    """Local file or stdin → remote."""
    if src == "-":
        target = client.file(dst)
        handle: BinaryIO = sys.stdin.buffer
        size = None
    else:
        path = Path(src)
        if path.is_dir():
            fail(f"{src} is a folder: use cp -r")
        target = _remote_target(client, dst, path.name)
        handle = path.open("rb")
        size = os.fstat(handle.fileno()).st_size
    try:
        target.put(meter.count(_local_chunks(handle, client.chunk_size), target.name), size=size)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    return str(target.address)


def _transfer(client: Client, source: DataFile, size: int | None, target: DataFile, meter: Meter) -> None:
    """Remote → remote, streamed through this process without holding the file."""
    with source.get() as download:
        target.put(meter.count(download, source.name), size=size)


# -- trees (cp -r)


def _remote_tree(client: Client, address: str) -> tuple[list[str], list[tuple[str, Entry]]]:
    """Every folder and file below a remote directory, as paths relative to it (checked by the address parser)."""
    folders: list[str] = []
    files: list[tuple[str, Entry]] = []
    pending: list[tuple[str, str]] = [("", address)]
    while pending:
        relative, where = pending.pop()
        for entry in client.dir(where).list():
            child = f"{relative}/{normalise_segment(entry.name)}" if relative else normalise_segment(entry.name)
            if entry.is_dir:
                folders.append(child)
                pending.append((child, entry.address))
            else:
                files.append((child, entry))
    return sorted(folders), sorted(files, key=lambda item: item[0])


def _tree_name(client: Client, address: str) -> str:
    """The name a copied folder keeps: its last segment (a connection's root: its label)."""
    parsed = client.dir(address).address
    return parsed.path.rsplit("/", 1)[-1] if parsed.path else (parsed.label or parsed.protocol)


def _remote_place(client: Client, root: DataDirectory, relative: str) -> DataFile:
    *folders, name = relative.split("/")
    where = root
    for folder in folders:
        where = where.dir(folder)
    return where.file(name)


def _download_tree(client: Client, src: str, dst: str, meter_label: str) -> tuple[str, Meter]:
    folders, files = _remote_tree(client, src)
    root = Path(dst)
    if root.is_dir():
        root = root / _tree_name(client, src)  # as `cp -r`: into an existing folder, under the source's name
    else:
        _local_folder(root.parent)
    root.mkdir(exist_ok=True)
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    with Meter(sum(entry.size or 0 for _, entry in files), meter_label) as meter:
        for relative, entry in files:
            with client.file(entry.address).get() as download:
                _write_local(meter.count(download, relative), root / relative)
    return str(root), meter


def _destination_dir(client: Client, dst: str, name: str) -> DataDirectory:
    """Where a copied folder goes: under its own name inside an existing directory (or `dst/`), else `dst` itself."""
    target = client.dir(dst)
    return target.dir(name) if dst.endswith("/") or target.exists() else target


def _upload_tree(client: Client, src: str, dst: str) -> tuple[str, Meter]:
    folder = _local_folder(Path(src))
    root = _destination_dir(client, dst, folder.resolve().name)
    files: list[tuple[str, Path]] = []
    empty: list[str] = []
    for here, subfolders, names in os.walk(folder):
        subfolders.sort()
        relative = Path(here).relative_to(folder).as_posix()
        prefix = "" if relative == "." else relative + "/"
        files += [(prefix + name, Path(here) / name) for name in sorted(names)]
        if not names and not subfolders and prefix:
            empty.append(prefix.rstrip("/"))
    with Meter(sum(path.stat().st_size for _, path in files), folder.name) as meter:
        for relative, path in files:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                _remote_place(client, root, relative).put(
                    meter.count(_local_chunks(handle, client.chunk_size), relative), size=size
                )
    for relative in empty:
        where = root
        for segment in relative.split("/"):
            where = where.dir(segment)
        where.create(exist_ok=True)
    return str(root.address), meter


def _transfer_tree(client: Client, src: str, dst: str) -> tuple[str, Meter]:
    _folders, files = _remote_tree(client, src)
    root = _destination_dir(client, dst, _tree_name(client, src))
    with Meter(sum(entry.size or 0 for _, entry in files), _tree_name(client, src)) as meter:
        for relative, entry in files:
            _transfer(client, client.file(entry.address), entry.size, _remote_place(client, root, relative), meter)
    return str(root.address), meter


def cp(
    src: Annotated[str, typer.Argument(help="An address, a local path, or - for stdin.")],
    dst: Annotated[str, typer.Argument(help="An address, a local path, or - for stdout.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Copy folders and everything in them.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Copy a file (or with -r, a folder) between two addresses, or between a local path and an address.

    One progress bar covers the whole copy (when stderr is a terminal); a summary line follows it.
    """
    remote_src, remote_dst = is_address(src), is_address(dst)
    if not remote_src and not remote_dst:
        fail("both SRC and DST are local: one of them must be an address (data://... or protocol+label://...)")
    client = connect(url, token)
    source_info = client.file(src).info() if remote_src else None
    source_is_dir = source_info.is_dir if source_info is not None else (src != "-" and Path(src).is_dir())
    if recursive and source_is_dir:
        if remote_src and remote_dst:
            written_to, meter = _transfer_tree(client, src, dst)
        elif remote_src:
            written_to, meter = _download_tree(client, src, dst, _tree_name(client, src))
        else:
            written_to, meter = _upload_tree(client, src, dst)
        if as_json:
            emit_json({"source": src, "destination": written_to, "bytes": meter.bytes, "files": meter.files})
        else:
            note(meter.summary())
        return
    if source_is_dir:
        fail(f"{src} is a {'directory' if remote_src else 'folder'}: use cp -r")
    if recursive and not remote_src and src != "-" and not Path(src).exists():
        fail(f"local folder {src} does not exist")
    if source_info is not None:
        source, info = client.file(src), source_info
        with Meter(info.size, source.name) as meter:
            if remote_dst:
                target = _remote_target(client, dst, source.name)
                _transfer(client, source, info.size, target, meter)
                written_to = str(target.address)
            else:
                written_to = _download(source, info.size, dst, meter)
    else:
        size = None if src == "-" else Path(src).stat().st_size
        with Meter(size, Path(src).name) as meter:
            written_to = _upload(client, src, dst, meter)
    if as_json and written_to != "-":
        emit_json({"source": src, "destination": written_to, "bytes": meter.bytes})
    elif written_to != "-" and not as_json:
        note(meter.summary())


def rm(
    addresses: AddressesArgument,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Delete directories and their contents.")
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
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
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
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
