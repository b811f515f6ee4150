"""Small requests through two versions of the hub, interleaved in one run: what the audit trail costs.

Each round starts a hub from each source tree in turn (alternating which goes first) on a fresh
store, then sends small requests (`GET /v1/me` and a 4 KiB hosted GET) at a fixed concurrency and
records requests per second and per-request latency. Prints medians over the rounds, per store.

    git archive <old-commit> | (mkdir -p /tmp/hw-before && tar -x -C /tmp/hw-before)
    python bench/audit.py --before /tmp/hw-before --after . --rounds 3

Everything runs on loopback; PostgreSQL is the machine's (127.0.0.1:5432), in throwaway databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import start_hub  # noqa: E402

from tests.fixtures.postgres import create_database, drop_database, url_of  # noqa: E402

WORKLOADS = {"me": "/v1/me", "get4k": "/v1/data/.my/bench/small.bin"}


async def measure(url: str, token: str, path: str, requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    next_index = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits
    ) as client:
        for _ in range(concurrency):  # warm connections and caches
            await client.get(path)

        async def worker() -> None:
            nonlocal next_index, errors
            while next_index < requests:
                next_index += 1
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
    }


def one_hub(
    source: Path, store: str, requests: int, concurrency: int, env: dict[str, str]
) -> dict[str, dict[str, float]]:
    database = create_database() if store == "postgres" else None
    with tempfile.TemporaryDirectory() as data_dir:
        extra = dict(env)
        if database:
            extra["HEADWATER_DATABASE_URL"] = url_of(database)
        hub = start_hub(Path(data_dir), source=source, **extra)
        try:
            auth = {"Authorization": f"Bearer {hub.token}"}
            with httpx.Client(base_url=hub.url, headers=auth, timeout=60) as setup:
                setup.post("/v1/data/.my", json={"name": "bench"}).raise_for_status()
                setup.put("/v1/data/.my/bench/small.bin", content=os.urandom(4096)).raise_for_status()
            return {
                name: asyncio.run(measure(hub.url, hub.token, path, requests, concurrency))
                for name, path in WORKLOADS.items()
            }
        finally:
            hub.stop()
            if database:
                drop_database(database)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="source tree of the version to compare against")
    parser.add_argument("--after", type=Path, default=ROOT, help="source tree of this version")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the 'after' hub (repeatable)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    after_env = dict(item.split("=", 1) for item in args.env)
    versions = {"before": (args.before.resolve(), {}), "after": (args.after.resolve(), after_env)}
    results: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    for store in args.stores.split(","):
        for round_ in range(args.rounds):
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for version in order:
                source, env = versions[version]
                for workload, figures in one_hub(source, store, args.requests, args.concurrency, env).items():
                    results.setdefault((store, workload, version), []).append(figures)
                    print(
                        f"# {store} round {round_ + 1} {version:6} {workload:5} {figures['rps']:7.1f} req/s  "
                        f"p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms  errors {figures['errors']}",
                        file=sys.stderr,
                        flush=True,
                    )
    summary = []
    for (store, workload, version), runs in results.items():
        summary.append(
            {
                "store": store,
                "workload": workload,
                "version": version,
                "rounds": len(runs),
                **{key: round(statistics.median(r[key] for r in runs), 1) for key in ("rps", "p50", "p99", "errors")},
            }
        )
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{'store':9} {'workload':8} {'version':7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  (medians of {args.rounds} rounds, concurrency {args.concurrency})"
        )
        for row in summary:
            print(
                f"{row['store']:9} {row['workload']:8} {row['version']:7} {row['rps']:8.1f} {row['p50']:8.1f} {row['p99']:8.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
