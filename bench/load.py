"""Bounded load test of one hub on loopback: concurrent clients mixing small GETs, PUTs, listings
and large streams. Prints throughput, errors and the hub's memory at start and end.

    python bench/load.py --clients 50 --duration 600

Targets only 127.0.0.1 and stops by itself after --duration seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hubprocess import rss_mib, start_hub

LARGE = 8 * 1024 * 1024


async def client_loop(index: int, url: str, token: str, until: float, counts: Counter[str], moved: list[int]) -> None:
    rng = random.Random(index)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        while time.monotonic() < until:
            roll = rng.random()
            try:
                if roll < 0.45:
                    response = await client.get(f"/v1/data/.my/load/small-{rng.randrange(200)}.txt")
                    kind = "small_get"
                elif roll < 0.70:
                    body = os.urandom(rng.randrange(1, 64 * 1024))
                    response = await client.put(f"/v1/data/.my/load/put-{index}-{rng.randrange(20)}.bin", content=body)
                    moved[0] += len(body)
                    kind = "put"
                elif roll < 0.90:
                    response = await client.get("/v1/data/.my/load")
                    kind = "list"
                else:
                    size = 0
                    async with client.stream("GET", "/v1/data/.my/load/large.bin") as streamed:
                        async for chunk in streamed.aiter_bytes():
                            size += len(chunk)
                        response = streamed
                    if size != LARGE:
                        counts["short_stream"] += 1
                    moved[0] += size
                    kind = "large_get"
                counts[kind] += 1
                if response.status_code != 200:
                    counts[f"error_{response.status_code}"] += 1
            except httpx.HTTPError as exc:
                counts[f"error_{type(exc).__name__}"] += 1


async def sample_rss(pid: int, until: float, samples: list[float]) -> None:
    while time.monotonic() < until:
        samples.append(rss_mib(pid))
        await asyncio.sleep(1)


async def run(
    url: str, token: str, clients: int, duration: float, pid: int
) -> tuple[Counter[str], int, float, list[float]]:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as setup:
        await setup.post("/v1/data/.my", json={"name": "load"})
        for i in range(200):
            await setup.put(f"/v1/data/.my/load/small-{i}.txt", content=os.urandom(1024))
        await setup.put("/v1/data/.my/load/large.bin", content=os.urandom(LARGE))
    counts: Counter[str] = Counter()
    moved = [0]
    started = time.monotonic()
    until = started + duration
    samples: list[float] = []
    await asyncio.gather(
        sample_rss(pid, until, samples), *(client_loop(i, url, token, until, counts, moved) for i in range(clients))
    )
    return counts, moved[0], time.monotonic() - started, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        hub = start_hub(Path(data_dir))
        try:
            start_rss = rss_mib(hub.pid)
            counts, moved, elapsed, samples = asyncio.run(run(hub.url, hub.token, args.clients, args.duration, hub.pid))
            end_rss = rss_mib(hub.pid)
        finally:
            hub.stop()
    requests = sum(v for k, v in counts.items() if not k.startswith(("error_", "short_")))
    errors = sum(v for k, v in counts.items() if k.startswith(("error_", "short_")))
    result = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": requests,
        "errors": errors,
        "requests_per_s": round(requests / elapsed, 1),
        "mib_per_s": round(moved / elapsed / 2**20, 1),
        "rss_start_mib": round(start_rss, 1),
        "rss_warm_mib": round(samples[len(samples) // 5], 1) if samples else None,
        "rss_end_mib": round(end_rss, 1),
        "by_kind": dict(counts),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>15}: {value}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
