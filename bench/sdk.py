"""The SDK, `headwater cp` and the fsspec layer against curl through the same hub, and obstore directly.

One object (default 1 GiB) moves through a hub started here over a SeaweedFS started here, in
interleaved rounds; each path's median throughput is printed with its ratio to its peer:
downloads to curl GET through the hub (to /dev/null for in-memory readers, to a tmpfs file for
file writers), curl GET to obstore's direct GET, uploads to obstore's direct multipart PUT.
Files are read from and written to a tmpfs (/dev/shm) so no disk is in the way. `curl GET floor`
is curl through `floor_server.py`, a bare Python server streaming the object from obstore (no rights,
audit or proxy): what any Python server of the hub's shape reaches here.

    python bench/sdk.py --size-mib 1024 --rounds 3 [--only 'sdk get,curl get'] [--profile DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import obstore as obs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import Backend, add_s3_source, start_floor, start_hub, start_seaweedfs  # noqa: E402

from headwater.client import Client  # noqa: E402
from headwater.client.fsspec import HeadwaterFileSystem  # noqa: E402

MiB = 1024 * 1024
TMPFS = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())

#: Each path, its direction and the peer its ratio is against.
PEERS = {
    "direct GET": ("get", None),
    "curl GET /dev/null": ("get", "direct GET"),
    "curl GET file": ("get", "direct GET"),
    "curl GET floor": ("get", "direct GET"),
    "curl GET floor guarded": ("get", "direct GET"),
    "sdk iterate": ("get", "curl GET /dev/null"),
    "sdk get_bytes": ("get", "curl GET /dev/null"),
    "sdk get_file": ("get", "curl GET file"),
    "cp down": ("get", "curl GET file"),
    "fsspec cat_file": ("get", "curl GET /dev/null"),
    "fsspec get": ("get", "curl GET file"),
    "fsspec open-read": ("get", "curl GET /dev/null"),
    "direct PUT": ("put", None),
    "curl PUT": ("put", "direct PUT"),
    "sdk put_file": ("put", "direct PUT"),
    "cp up": ("put", "direct PUT"),
    "fsspec put": ("put", "direct PUT"),
}


def write_source(path: Path, size: int) -> None:
    block = os.urandom(8 * MiB)
    with path.open("wb") as out:
        left = size
        while left:
            left -= out.write(block[: min(len(block), left)])


def client_cpu() -> float:
    """CPU seconds of this process and its finished children (curl, `headwater cp`): the client's side."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated paths to run (default: all)")
    parser.add_argument("--profile", type=Path, help="record this process with py-spy into DIR/sdk.svg")
    args = parser.parse_args()
    size = args.size_mib * MiB
    wanted = [p for p in PEERS if not args.only or p in {x.strip() for x in args.only.split(",")}]
    free = shutil.disk_usage(TMPFS).free
    if free < 3 * size:
        print(
            f"{TMPFS} has {free // MiB} MiB free: need {3 * size // MiB} for --size-mib {args.size_mib}",
            file=sys.stderr,
        )
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="hw-sdkbench-"))
    spool = Path(tempfile.mkdtemp(prefix="hw-sdkbench-", dir=TMPFS))
    source = spool / "source.bin"
    sink = spool / "sink.bin"
    samples: dict[str, list[float]] = {p: [] for p in wanted}
    cpu: dict[str, list[float]] = {p: [] for p in wanted}
    backend: Backend | None = None
    hub = profiler = None
    floors: list[subprocess.Popen[bytes]] = []
    try:
        write_source(source, size)
        backend = start_seaweedfs(scratch / "seaweedfs", "bench")
        hub = start_hub(scratch / "hub")
        weed_at = ["--endpoint", backend.server.endpoint, "--bucket", backend.bucket]
        floor, floor_url = start_floor(weed_at, backend.server.rw)
        guarded, guarded_url = start_floor([*weed_at, "--guarded"], backend.server.rw)
        floors += [floor, guarded]
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            profiler = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-o",
                    str(args.profile / "sdk.svg"),
                    "-r",
                    "200",
                    "--pid",
                    str(os.getpid()),
                    "--subprocesses",
                    "--nonblocking",
                ]
            )
        store = backend.store()
        add_s3_source(hub, backend.server, backend.bucket, access="read-write")
        obs.put(store, "object.bin", source, chunk_size=8 * MiB)
        address = "s3+bench://object.bin"
        url = f"{hub.url}/v1/connector/s3+bench/object.bin"
        client = Client(hub.url, hub.token)
        fs = HeadwaterFileSystem(hub_url=hub.url, token=hub.token, skip_instance_cache=True)
        cli_env = {**os.environ, "HEADWATER_URL": hub.url, "HEADWATER_TOKEN": hub.token}
        curl = ["curl", "-sS", "--fail", "-H", f"Authorization: Bearer {hub.token}"]

        def run(command: list[str], env: dict[str, str] | None = None) -> None:
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)

        def sink_size() -> int:
            moved = sink.stat().st_size
            sink.unlink()
            return moved

        def fsspec_open_read() -> int:
            moved = 0
            with fs.open(address, "rb") as handle:
                while piece := handle.read(8 * MiB):
                    moved += len(piece)
            return moved

        def sdk_iterate() -> int:
            with client.file(address).get() as download:
                return sum(len(chunk) for chunk in download)

        def stored() -> int:
            return int(obs.head(store, "up.bin")["size"])

        actions: dict[str, Callable[[], int]] = {
            "direct GET": lambda: sum(len(c) for c in obs.get(store, "object.bin").stream(min_chunk_size=MiB)),
            "curl GET /dev/null": lambda: (run([*curl, "-o", "/dev/null", url]), size)[1],
            "curl GET file": lambda: (run([*curl, "-o", str(sink), url]), sink_size())[1],
            "curl GET floor": lambda: (
                run(["curl", "-sS", "--fail", "-o", "/dev/null", f"{floor_url}/object.bin"]),
                size,
            )[1],
            "curl GET floor guarded": lambda: (
                run(["curl", "-sS", "--fail", "-o", "/dev/null", f"{guarded_url}/object.bin"]),
                size,
            )[1],
            "sdk iterate": sdk_iterate,
            "sdk get_bytes": lambda: len(client.file(address).get_bytes()),
            "sdk get_file": lambda: (client.file(address).get_file(sink), sink_size())[1],
            "cp down": lambda: (
                run([sys.executable, "-m", "headwater.cli", "cp", address, str(sink)], cli_env),
                sink_size(),
            )[1],
            "fsspec cat_file": lambda: len(fs.cat_file(address)),
            "fsspec get": lambda: (fs.get_file(address, str(sink)), sink_size())[1],
            "fsspec open-read": fsspec_open_read,
            "direct PUT": lambda: (obs.put(store, "up.bin", source, chunk_size=8 * MiB), stored())[1],
            "curl PUT": lambda: (
                run([*curl, "-H", "Expect:", "-T", str(source), f"{hub.url}/v1/connector/s3+bench/up.bin"]),
                stored(),
            )[1],
            "sdk put_file": lambda: (client.file("s3+bench://up.bin").put_file(source), stored())[1],
            "cp up": lambda: (
                run([sys.executable, "-m", "headwater.cli", "cp", str(source), "s3+bench://up.bin"], cli_env),
                stored(),
            )[1],
            "fsspec put": lambda: (fs.put_file(str(source), "s3+bench://up.bin"), stored())[1],
        }
        for round_ in range(args.rounds):
            order = wanted[round_ % len(wanted) :] + wanted[: round_ % len(wanted)]  # rotate who goes first
            for label in order:
                used, started = client_cpu(), time.perf_counter()
                moved = actions[label]()
                elapsed = time.perf_counter() - started
                cpu[label].append(client_cpu() - used)
                assert moved == size, f"{label}: moved {moved} of {size} bytes"
                samples[label].append(size / elapsed / 1e6)
            print(f"round {round_ + 1}: " + ", ".join(f"{p} {samples[p][-1]:.0f}" for p in wanted), file=sys.stderr)
        client.close()
    finally:
        if profiler is not None:
            profiler.terminate()
            profiler.wait()
        if hub is not None:
            hub.stop()
        for floor in floors:
            floor.terminate()
            floor.wait(timeout=10)
        if backend is not None:
            backend.stop()
        shutil.rmtree(spool, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    medians = {p: statistics.median(v) for p, v in samples.items()}
    print(f"object: {args.size_mib} MiB, {args.rounds} rounds, files on {TMPFS}")
    print(f"{'path':<20}{'median MB/s':>12}{'min':>8}{'max':>8}{'client CPU s':>14}   ratio")
    for label in wanted:
        peer = PEERS[label][1]
        ratio = f"{medians[label] / medians[peer]:.2f}x {peer}" if peer in medians else ""
        print(
            f"{label:<20}{medians[label]:>12.0f}{min(samples[label]):>8.0f}{max(samples[label]):>8.0f}"
            f"{statistics.median(cpu[label]):>14.2f}   {ratio}"
        )
    sys.stdout.flush()
    os._exit(0)  # obstore's runtime can abort at interpreter exit; the results are printed


if __name__ == "__main__":
    main()
