"""Run a user function sealed off from the hub: bubblewrap, its own uid, no network, limits, a timeout.

Each partition of a `python` app runs in a fresh sandbox: bubblewrap (started as root with
an empty environment) makes new mount, pid, network, IPC and UTS namespaces whose file
system holds only a read-only view of the Python installation (its prefixes and
site-packages), the system libraries it links to, the folders of HEADWATER_SANDBOX_PATH, a
private /proc, a minimal /dev and a private size-bounded /tmp. The hub's data dir, its
database file and its Dask TLS files are masked even where they lie below a visible
folder. Inside, `setpriv` drops to the sandbox's uid and gid (a real unprivileged uid of
the host, never root, with no capabilities and no_new_privs); then `sandbox_child` sets
the CPU, memory, file size and process limits and only then imports the user's module.
The hub enforces the wall-clock limit by killing bubblewrap, which takes the whole pid
namespace with it. Input arrives on stdin, output leaves on stdout; nothing else crosses.

The hub probes the sandbox once (`unavailable`); without a working one, `python` jobs are
refused at creation and a partition fails rather than run unsandboxed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import site
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy.engine import make_url

from headwater.connectors.base import Entry
from headwater.services.jobs.sandbox_child import MARK
from headwater.services.jobs.streams import AppFailed, leaf
from headwater.settings import SandboxSettings, Settings

log = logging.getLogger("headwater.jobs")

STDERR_TAIL = 4000
CHILD = Path(__file__).resolve().with_name("sandbox_child.py")
CHILD_INSIDE = "/sandbox/child.py"
LIBRARIES = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/etc/ld.so.cache")
TOP_LIBRARIES = ("/lib", "/lib64", "/lib32")
CHILD_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OPENBLAS_NUM_THREADS": "1",  # numeric libraries' thread pools count against the process limit
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
INSTALL_HINT = "install the Debian package 'bubblewrap' on the hub and its Dask workers"


class SandboxUnavailable(Exception):
    """No working sandbox here: the message says why, for the operator and the caller."""


@dataclass(frozen=True)
class View:
    """What the sandbox shows: read-only folders and files, and the hub's paths masked inside them."""

    python: str
    visible: tuple[str, ...]
    module_path: tuple[str, ...]
    hidden: tuple[str, ...]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _python_dirs() -> list[str]:
    dirs = [sys.base_prefix, sys.prefix, *site.getsitepackages(), os.path.dirname(os.path.realpath(sys.executable))]
    return [os.path.realpath(d) for d in dirs if os.path.isdir(d)]


def secret_paths(settings: Settings) -> list[str]:
    """The hub's own files a sandbox must never see: the data dir, the storage folder, a SQLite database, Dask TLS files."""
    paths = [str(settings.data_dir)]
    if settings.storage.folder is not None:
        paths.append(os.path.realpath(settings.storage.folder))
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        paths.append(os.path.realpath(url.database))
    paths += [os.path.realpath(p) for p in settings.dask.tls_files]
    return paths


def view(settings: Settings) -> View:
    """The sandbox's file system for these settings; `SandboxUnavailable` if a module folder holds a secret path."""
    python = os.path.realpath(sys.executable)
    python_dirs = _python_dirs()
    module_path = [str(p) for p in settings.sandbox.path]
    secrets = secret_paths(settings)
    for folder in module_path:
        if not os.path.isdir(folder):
            raise SandboxUnavailable(f"HEADWATER_SANDBOX_PATH names {folder}, which is not a folder")
        if folder in ("/", "/tmp"):
            raise SandboxUnavailable(f"HEADWATER_SANDBOX_PATH names {folder}: name the folders of user modules only")
        if any(_inside(folder, secret) for secret in secrets):
            raise SandboxUnavailable(f"HEADWATER_SANDBOX_PATH names {folder}, which lies inside the hub's data dir")
    libraries = [p for p in LIBRARIES if os.path.exists(p) and not os.path.islink(p)]
    visible = _outermost([*libraries, *python_dirs, *module_path])
    hidden = _outermost([s for s in secrets if os.path.exists(s) and any(_inside(s, v) for v in visible)])
    return View(python, tuple(visible), tuple(module_path), tuple(hidden))


def _outermost(paths: list[str]) -> list[str]:
    """The paths without those lying inside another (binding both would hide the outer one's view)."""
    unique = sorted(set(paths), key=len)
    kept: list[str] = []
    for path in unique:
        if not any(_inside(path, outer) for outer in kept):
            kept.append(path)
    return sorted(kept)


def _parents(paths: tuple[str, ...]) -> list[str]:
    """Every ancestor folder of the visible paths, outermost first (bubblewrap would make them 0700)."""
    found: set[str] = set()
    for path in paths:
        parent = os.path.dirname(path)
        while parent not in ("/", ""):
            found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found, key=lambda p: (p.count("/"), p))


def command(limits: SandboxSettings, seen: View, child_args: list[str]) -> list[str]:
    """The bubblewrap command line that runs `child.py child_args` in the sandbox."""
    bwrap = shutil.which(limits.bwrap)
    setpriv = shutil.which("setpriv")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap ({limits.bwrap}) is not installed: {INSTALL_HINT}")
    if setpriv is None:
        raise SandboxUnavailable("setpriv (Debian package 'util-linux') is not installed on the hub")
    setpriv = os.path.realpath(setpriv)
    args = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    for name, value in CHILD_ENV.items():
        args += ["--setenv", name, value]
    for top in TOP_LIBRARIES:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += [  # first, so that folders the sandbox shows below /tmp are bound on top of the private /tmp
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "01777",
        "--size",
        str(limits.tmp_mb * 1024 * 1024),
        "--tmpfs",
        "/tmp",
    ]
    for parent in _parents((*seen.visible, setpriv)):
        if not any(_inside(parent, v) for v in seen.visible) and parent != "/tmp":
            args += ["--perms", "0755", "--dir", parent]
    for path in seen.visible:
        args += ["--ro-bind", path, path]
    if not any(_inside(setpriv, v) for v in seen.visible):
        args += ["--ro-bind", setpriv, setpriv]
    for secret in seen.hidden:
        args += ["--tmpfs", secret] if os.path.isdir(secret) else ["--ro-bind", "/dev/null", secret]
    args += [
        "--perms",
        "0755",
        "--dir",
        os.path.dirname(CHILD_INSIDE),
        "--ro-bind",
        str(CHILD),
        CHILD_INSIDE,
        "--chdir",
        "/tmp",
        "--cap-add",
        "CAP_SETUID",
        "--cap-add",
        "CAP_SETGID",
        "--",
        setpriv,
        f"--reuid={limits.uid}",
        f"--regid={limits.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        seen.python,
        "-I",
        CHILD_INSIDE,
        *child_args,
    ]
    return args


_probed: dict[tuple[SandboxSettings, View], str | None] = {}
_probe_lock = threading.Lock()


def unavailable(settings: Settings) -> str | None:
    """Why `python` apps cannot run here, or None when a probe sandbox ran; probed once per configuration."""
    try:
        seen = view(settings)
    except SandboxUnavailable as exc:
        return str(exc)
    key = (settings.sandbox, seen)
    with _probe_lock:
        if key not in _probed:
            _probed[key] = _probe(settings.sandbox, seen)
            if _probed[key]:
                log.warning("python job apps are unavailable: %s", _probed[key])
        return _probed[key]


def _probe(limits: SandboxSettings, seen: View) -> str | None:
    if os.geteuid() != 0:
        return (
            "python job apps need the hub to start bubblewrap as root, so that user code runs under "
            "its own uid (HEADWATER_SANDBOX_UID); this hub does not run as root"
        )
    try:
        args = command(limits, seen, ["--probe"])
        done = subprocess.run(args, env={}, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    except SandboxUnavailable as exc:
        return str(exc)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start a sandbox ({type(exc).__name__}): {INSTALL_HINT}"
    if done.returncode != 0 or done.stdout.strip() != b"ok":
        tail = " ".join(done.stderr.decode(errors="replace").split())[-300:]
        return f"bubblewrap is installed but could not start a sandbox (status {done.returncode}: {tail})"
    return None


def require(settings: Settings) -> None:
    """Raise `SandboxUnavailable` unless a sandbox works here."""
    why = unavailable(settings)
    if why is not None:
        raise SandboxUnavailable(why)


def explain(function: str, code: int, stderr: bytes, timed_out: bool, limits: SandboxSettings) -> str:
    """The partition's error for a sandbox that did not end well, without a traceback or a hub path."""
    if timed_out:
        return f"python app {function}: stopped after {limits.timeout_seconds} s, the sandbox's wall-clock limit"
    lines = stderr.decode(errors="replace").strip().splitlines()
    reported = [line[len(MARK) :].strip() for line in lines if line.startswith(MARK)]
    if reported:
        what = reported[-1]
        if what.startswith("MemoryError"):
            return f"python app {function}: ran out of memory (limit {limits.memory_mb} MiB): {what}"[:2000]
        return f"python app {function} failed (exit status {code}): {what}"[:2000]
    if code in (128 + signal.SIGXCPU, -signal.SIGXCPU):
        return f"python app {function}: used up its CPU time limit of {limits.cpu_seconds} s"
    if code in (128 + signal.SIGKILL, -signal.SIGKILL):
        return (
            f"python app {function}: killed (CPU time limit {limits.cpu_seconds} s "
            f"or memory limit {limits.memory_mb} MiB)"
        )
    tail = " | ".join(line.strip() for line in lines[-3:] if line.strip())
    return f"python app {function} failed (exit status {code}){': ' + tail if tail else ''}"[:2000]


async def run(
    settings: Settings,
    function: str,
    params: dict[str, Any],
    chunks: AsyncIterator[bytes],
    write: Callable[[AsyncIterator[bytes]], Awaitable[Entry]],
) -> Entry:
    """Stream `chunks` through `function` in a sandbox into `write`; raise `AppFailed` if it fails."""
    limits = settings.sandbox
    try:
        require(settings)
        seen = view(settings)
        limits_json = json.dumps(
            {
                "cpu_seconds": limits.cpu_seconds,
                "memory_mb": limits.memory_mb,
                "file_size_mb": limits.file_size_mb,
                "processes": limits.processes,
            }
        )
        args = command(limits, seen, [limits_json, function, json.dumps(params), json.dumps(list(seen.module_path))])
    except SandboxUnavailable as exc:
        raise AppFailed(f"python app {function} was not run: {exc}") from None
    errors = bytearray()
    timed_out = False
    process = await anyio.open_process(args, env={}, start_new_session=True)
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    try:
        async with anyio.create_task_group() as group:

            async def watchdog() -> None:
                nonlocal timed_out
                await anyio.sleep(limits.timeout_seconds)
                timed_out = True
                process.kill()  # bubblewrap dies, and with it every process of the sandbox's pid namespace

            async def feed() -> None:
                assert process.stdin is not None
                try:
                    async for chunk in chunks:
                        await process.stdin.send(chunk)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass  # the function stopped reading: its exit status decides
                finally:
                    await process.stdin.aclose()

            async def drain() -> None:
                assert process.stderr is not None
                async for chunk in process.stderr:
                    errors.extend(chunk)
                    del errors[:-STDERR_TAIL]

            async def output() -> AsyncIterator[bytes]:
                assert process.stdout is not None
                async for chunk in process.stdout:
                    yield chunk
                code = await process.wait()
                if code != 0 or timed_out:
                    with anyio.CancelScope(shield=True):
                        await drained.wait()
                    raise AppFailed(explain(function, code, bytes(errors), timed_out, limits))

            drained = anyio.Event()

            async def drain_then_mark() -> None:
                try:
                    await drain()
                finally:
                    drained.set()

            group.start_soon(watchdog)
            group.start_soon(feed)
            group.start_soon(drain_then_mark)
            entry = await write(output())
            group.cancel_scope.cancel()
    except BaseExceptionGroup as group_error:
        raise leaf(group_error) from None
    finally:
        if process.returncode is None:
            process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()
    return entry
