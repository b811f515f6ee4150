"""Export a large PostgreSQL table to Parquet through the hub, and directly with psycopg + pyarrow, in one run.

Prints rows/s of each and the peak memory (VmHWM) of the hub process and of the direct
exporter (also a separate process). Everything is on loopback: the machine's PostgreSQL
(trust auth, user postgres) and a hub started here.

    python bench/db_export.py --rows 5000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import peak_rss_mib, rss_mib, start_hub  # noqa: E402

from tests.fixtures.postgres import create_database, drop_database, url_of  # noqa: E402

TABLE = """
CREATE TABLE events AS
SELECT g::bigint AS id, (g % 100000)::integer AS user_id, round((g % 10000) / 7.0, 2)::numeric(12,2) AS amount,
       ((g * 0.37) % 1000)::double precision AS score, 'kind-' || (g % 17) AS kind,
       timestamptz '2024-01-01' + g * interval '1 second' AS created, g % 3 = 0 AS flag
FROM generate_series(1, %(rows)s) g
"""


def direct_export(url: str, out: str) -> None:
    """The export a developer would write: a named cursor, batches to Arrow, a Parquet writer."""
    import pyarrow as pa

    schema = pa.schema(
        [("id", pa.int64()), ("user_id", pa.int32()), ("amount", pa.decimal128(12, 2)), ("score", pa.float64()),
         ("kind", pa.string()), ("created", pa.timestamp("us", tz="UTC")), ("flag", pa.bool_())]
    )
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn, conn.cursor(name="direct") as cur:
        cur.execute("SELECT id, user_id, amount, score, kind, created, flag FROM events")
        with pq.ParquetWriter(out, schema) as writer:
            while rows := cur.fetchmany(50_000):
                columns = list(zip(*rows))
                writer.write_batch(pa.record_batch([pa.array(c, type=f.type) for c, f in zip(columns, schema)], schema=schema))


def run_direct(url: str, out: Path) -> tuple[float, float]:
    """Run the direct export in its own process; return seconds and its peak memory (MiB)."""
    code = (
        "import sys, pathlib; sys.path.insert(0, sys.argv[3]); from db_export import direct_export; "
        "direct_export(sys.argv[1], sys.argv[2]); "
        "print([l for l in pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0].split()[1])"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, url, str(out), str(ROOT / "bench")], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, int(done.stdout.strip().splitlines()[-1]) / 1024


def through_hub(client: httpx.Client, path: str, out: Path) -> float:
    started = time.perf_counter()
    with client.stream("GET", path) as response, out.open("wb") as handle:
        response.raise_for_status()
        for chunk in response.iter_bytes(1024 * 1024):
            handle.write(chunk)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    database = create_database()
    try:
        started = time.perf_counter()
        with psycopg.connect(url_of(database), autocommit=True) as conn:
            conn.execute(TABLE.replace("%(rows)s", str(int(args.rows))))
            conn.execute("ANALYZE events")
        print(f"table: {args.rows:,} rows made in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            hub = start_hub(work / "hub")
            try:
                with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=600) as client:
                    params = {"host": "127.0.0.1", "database": database, "user": "postgres"}
                    client.post("/v1/sources", json={"protocol": "postgres", "label": "bench", "params": params}).raise_for_status()
                    idle = rss_mib(hub.pid)
                    results = []
                    for fmt in ("parquet", "csv"):
                        out = work / f"hub.{fmt}"
                        seconds = through_hub(client, f"/v1/connector/postgres+bench/public/events.{fmt}", out)
                        results.append((f"hub GET events.{fmt}", seconds, out.stat().st_size, peak_rss_mib(hub.pid)))
                    assert pq.ParquetFile(work / "hub.parquet").metadata.num_rows == args.rows
            finally:
                hub.stop()
            seconds, peak = run_direct(url_of(database), work / "direct.parquet")
            assert pq.ParquetFile(work / "direct.parquet").metadata.num_rows == args.rows
            results.append(("direct psycopg+pyarrow parquet", seconds, (work / "direct.parquet").stat().st_size, peak))
        print(f"hub resident memory before the exports: {idle:.0f} MiB")
        print(f"{'export':34} {'seconds':>8} {'rows/s':>11} {'MiB out':>8} {'peak MiB':>9}")
        for name, secs, size, peak_mib in results:
            print(f"{name:34} {secs:8.1f} {args.rows / secs:11,.0f} {size / 2**20:8.1f} {peak_mib:9.0f}")
        hub_parquet, direct = results[0][1], results[-1][1]
        print(f"hub parquet / direct parquet time: {hub_parquet / direct:.2f}x")
    finally:
        drop_database(database)


if __name__ == "__main__":
    main()
