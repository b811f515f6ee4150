"""Stream one large object through the hub (GET and PUT) and directly from S3, in the same run.

Prints throughput of each and the hub's peak memory growth while it streams (target: under 64 MiB
whatever the size). Everything runs on loopback: SeaweedFS and the hub are started here.

    python bench/stream.py --size-mib 1024
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import obstore as obs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import CHUNK, add_s3_source, pattern, put_large, rss_mib, start_hub, start_seaweedfs  # noqa: E402


class PeakRss:
    """Samples a process's resident memory every 50 ms while a block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.base = rss_mib(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> float:
        return max(0.0, self.peak - self.base)


def timed(label: str, size: int, action) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    moved = action()
    elapsed = time.perf_counter() - started
    assert moved == size, f"{label}: moved {moved} of {size} bytes"
    return label, size / elapsed / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * CHUNK
    with tempfile.TemporaryDirectory() as scratch:
        backend = start_seaweedfs(Path(scratch) / "seaweedfs", "bench")
        hub = start_hub(Path(scratch) / "hub")
        try:
            store = backend.store()
            rows: list[tuple[str, float, str]] = []

            def direct_put() -> int:
                put_large(store, "direct.bin", size)
                return size

            def direct_get() -> int:
                return sum(len(chunk) for chunk in obs.get(store, "direct.bin").stream(min_chunk_size=CHUNK))

            for label, action in (("direct S3 PUT", direct_put), ("direct S3 GET", direct_get)):
                rows.append((*timed(label, size, action), "-"))

            add_s3_source(hub, backend.server, backend.bucket, access="read-write")
            headers = {"Authorization": f"Bearer {hub.token}"}
            with httpx.Client(base_url=hub.url, headers=headers, timeout=600) as api:

                def hub_put() -> int:
                    api.put("/v1/connector/s3+bench/through.bin", content=pattern(size)).raise_for_status()
                    return size

                def hub_get() -> int:
                    with api.stream("GET", "/v1/connector/s3+bench/through.bin") as response:
                        response.raise_for_status()
                        return sum(len(chunk) for chunk in response.iter_bytes(CHUNK))

                for label, action in (("hub PUT", hub_put), ("hub GET", hub_get)):
                    with PeakRss(hub.pid) as memory:
                        result = timed(label, size, action)
                    rows.append((*result, f"{memory.growth:.1f}"))
        finally:
            hub.stop()
            backend.stop()
    print(f"object: {args.size_mib} MiB")
    print(f"{'path':<16}{'MB/s':>10}{'hub peak growth (MiB)':>26}")
    for label, rate, growth in rows:
        print(f"{label:<16}{rate:>10.0f}{growth:>26}")
    direct = {label.split()[-1]: rate for label, rate, _ in rows if label.startswith("direct")}
    for label, rate, _ in rows:
        if label.startswith("hub"):
            verb = label.split()[-1]
            print(f"{label} / direct {verb}: {rate / direct[verb]:.2f}")
    sys.stdout.flush()
    os._exit(0)  # obstore's runtime can abort at interpreter exit; the results are printed


if __name__ == "__main__":
    main()
