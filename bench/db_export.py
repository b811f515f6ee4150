"""A large PostgreSQL (or, with `--mysql`, MariaDB) table to Parquet: the hub and the drivers used directly, in one run.

Everything is on loopback: the machine's PostgreSQL (trust auth, user postgres) holds a scratch
database made and dropped here; a hub is started here (and, with `--before DIR`, a second hub
running the code checked out in DIR, for a before/after in the same run). The peers take turns,
round after round, so that a noisy machine slows them alike; the medians and ratios are printed,
with each one's peak memory (VmHWM: the hub's over the whole run, a direct exporter's per run in
its own process).

With `--mysql` the table is made in a scratch database on the machine's MariaDB (127.0.0.1:3306,
user root) and the direct peers are ConnectorX's Arrow stream and a plain PyMySQL server-side
cursor (`SSCursor`) whose rows become Arrow batches; `--before` then shows the PyMySQL export
path the hub used before ConnectorX.

    python bench/db_export.py --rows 2000000 --rounds 5 [--before /path/to/main]
    python bench/db_export.py --mysql --rows 1000000 --rounds 3 --before /path/to/main
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pyarrow.parquet as pq
import pymysql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hubprocess import HubProcess, peak_rss_mib, rss_mib, start_hub  # noqa: E402

from tests.fixtures.databases import MARIADB, ensure_mariadb  # noqa: E402
from tests.fixtures.postgres import create_database, drop_database, url_of  # noqa: E402

TABLE = """
CREATE TABLE events AS
SELECT g::bigint AS id, (g % 100000)::integer AS user_id, round((g % 10000) / 7.0, 2)::numeric(12,2) AS amount,
       ((g * 0.37) % 1000)::double precision AS score, 'kind-' || (g % 17) AS kind,
       timestamptz '2024-01-01' + g * interval '1 second' AS created, g % 3 = 0 AS flag
FROM generate_series(1, %(rows)s) g
"""
QUERY = "SELECT id, user_id, amount, score, kind, created, flag FROM events"

#: What a developer would write with each driver, run in a process of its own (argv: url, out).
DIRECT = {
    "ADBC direct": (
        "import sys, adbc_driver_postgresql.dbapi as adbc, pyarrow.parquet as pq\n"
        "started = time.perf_counter()\n"
        "with adbc.connect(sys.argv[1]) as conn, conn.cursor() as cur:\n"
        f"    cur.execute({QUERY!r})\n"
        "    reader = cur.fetch_record_batch()\n"
        "    with pq.ParquetWriter(sys.argv[2], reader.schema) as writer:\n"
        "        for batch in reader:\n"
        "            writer.write_batch(batch)\n"
    ),
    "ConnectorX direct": (
        "import sys, connectorx as cx, pyarrow.parquet as pq\n"
        "started = time.perf_counter()\n"
        f"table = cx.read_sql(sys.argv[1], {QUERY!r}, return_type='arrow')\n"
        "pq.write_table(table, sys.argv[2])\n"
    ),
}
MYSQL_TABLE = (
    "CREATE TABLE events (id bigint PRIMARY KEY, user_id int, amount decimal(12,2), score double,"
    " kind varchar(32), created timestamp NULL, flag boolean) ENGINE=InnoDB",
    "INSERT INTO events SELECT seq, seq % 100000, ROUND((seq % 10000) / 7.0, 2), (seq * 0.37) % 1000,"
    " CONCAT('kind-', seq % 17), TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, seq % 3 = 0 FROM seq_1_to_%(rows)s",
)
#: The same, for MariaDB (argv: url, out): ConnectorX's bounded stream, and PyMySQL's streamed cursor into Arrow.
MYSQL_DIRECT = {
    "ConnectorX direct": (
        "import sys, connectorx as cx, pyarrow.parquet as pq\n"
        "started = time.perf_counter()\n"
        f"reader = cx.read_sql(sys.argv[1], {QUERY!r}, return_type='arrow_stream', batch_size=10000)\n"
        "with pq.ParquetWriter(sys.argv[2], reader.schema) as writer:\n"
        "    for batch in reader:\n"
        "        writer.write_batch(batch)\n"
    ),
    "SSCursor direct": (
        "import sys, urllib.parse as up, pymysql, pymysql.cursors, pyarrow as pa, pyarrow.parquet as pq\n"
        "started = time.perf_counter()\n"
        "u = up.urlsplit(sys.argv[1])\n"
        "conn = pymysql.connect(host=u.hostname, port=u.port, user=u.username, database=u.path[1:])\n"
        "cur = conn.cursor(pymysql.cursors.SSCursor)\n"
        f"cur.execute({QUERY!r})\n"
        "names = [d[0] for d in cur.description]\n"
        "writer = None\n"
        "while rows := cur.fetchmany(10000):\n"
        "    table = pa.Table.from_arrays([pa.array(c) for c in zip(*rows)], names=names)\n"
        "    writer = writer or pq.ParquetWriter(sys.argv[2], table.schema)\n"
        "    writer.write_table(table)\n"
        "writer.close()\n"
    ),
}
PEAK = "print(time.perf_counter() - started)\nimport pathlib\nprint([l for l in pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0].split()[1])\n"


def run_direct(code: str, url: str, out: Path) -> tuple[float, float]:
    """Run a direct exporter in its own process: seconds from connecting to the file closed
    (the interpreter's start and imports left out), and the process's peak MiB."""
    done = subprocess.run(
        [sys.executable, "-c", "import time\n" + code + PEAK, url, str(out)], capture_output=True, text=True, check=True
    )
    seconds, peak = done.stdout.strip().splitlines()[-2:]
    return float(seconds), int(peak) / 1024


def through_hub(hub: HubProcess, path: str, out: Path) -> float:
    started = time.perf_counter()
    with (
        httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=600) as client,
        client.stream("GET", path) as response,
        out.open("wb") as handle,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes(1024 * 1024):
            handle.write(chunk)
    return time.perf_counter() - started


def register(hub: HubProcess, database: str, protocol: str) -> None:
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=60) as client:
        params = {
            "host": "127.0.0.1",
            "database": database,
            "user": "postgres" if protocol == "postgres" else MARIADB["user"],
        }
        client.post("/v1/sources", json={"protocol": protocol, "label": "bench", "params": params}).raise_for_status()


def mysql_admin() -> pymysql.connections.Connection:
    return pymysql.connect(**MARIADB, autocommit=True)


def make_table(mysql: bool, rows: int) -> tuple[str, str]:
    """A scratch database holding `events`; its name and a URL the direct peers connect with."""
    if not mysql:
        database = create_database()
        with psycopg.connect(url_of(database), autocommit=True) as conn:
            conn.execute(TABLE.replace("%(rows)s", str(int(rows))))
            conn.execute("ANALYZE events")
        return database, url_of(database)
    ensure_mariadb()
    database = f"headwater_bench_{time.time_ns()}"
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{database}`")
        cur.execute(f"USE `{database}`")
        for statement in MYSQL_TABLE:
            cur.execute(statement.replace("%(rows)s", str(int(rows))))
        cur.execute("ANALYZE TABLE events")
    return database, f"mysql://{MARIADB['user']}@{MARIADB['host']}:{MARIADB['port']}/{database}"


def drop_table(mysql: bool, database: str) -> None:
    """Drop the scratch database the benchmark's table lives in."""
    if not mysql:
        drop_database(database)
        return
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{database}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--before", type=Path, help="a checkout of the code to run as a second hub (e.g. main before a change)"
    )
    parser.add_argument("--csv", action="store_true", help="also time the hub's CSV export (COPY) each round")
    parser.add_argument("--mysql", action="store_true", help="export from the machine's MariaDB instead of PostgreSQL")
    args = parser.parse_args()
    protocol = "mysql" if args.mysql else "postgres"
    direct = MYSQL_DIRECT if args.mysql else DIRECT
    where = "mysql+bench/{schema}/events" if args.mysql else "postgres+bench/public/events"
    started = time.perf_counter()
    database, url = make_table(args.mysql, args.rows)
    where = "/v1/connector/" + where.replace("{schema}", database)
    hubs: dict[str, HubProcess] = {}
    try:
        print(f"table: {args.rows:,} rows made in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            hubs["hub"] = start_hub(work / "hub")
            if args.before is not None:
                hubs["hub before"] = start_hub(work / "before", source=args.before.resolve())
            idle = {name: rss_mib(hub.pid) for name, hub in hubs.items()}
            for hub in hubs.values():
                register(hub, database, protocol)
            peers: dict[str, Callable[[Path], tuple[float, float | None]]] = {}
            for name, hub in hubs.items():
                peers[f"{name} parquet"] = lambda out, hub=hub: (through_hub(hub, where + ".parquet", out), None)
                if args.csv:
                    peers[f"{name} csv"] = lambda out, hub=hub: (through_hub(hub, where + ".csv", out), None)
            for name, code in direct.items():
                peers[name] = lambda out, code=code: run_direct(code, url, out)
            times: dict[str, list[float]] = {name: [] for name in peers}
            peaks: dict[str, float] = {}
            sizes: dict[str, int] = {}
            names = list(peers)
            for round_ in range(args.rounds):
                order = names[round_ % len(names) :] + names[: round_ % len(names)]  # rotate who goes first
                for name in order:
                    out = work / f"{name.replace(' ', '_')}.out"
                    seconds, peak = peers[name](out)
                    times[name].append(seconds)
                    sizes[name] = out.stat().st_size
                    if name.endswith("parquet") or name in direct:
                        assert pq.ParquetFile(out).metadata.num_rows == args.rows, name
                    if peak is not None:
                        peaks[name] = max(peaks.get(name, 0.0), peak)
                    out.unlink()
                print(f"round {round_ + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names), flush=True)
            for name, hub in hubs.items():
                for peer in peers:
                    if peer.startswith(name + " "):
                        peaks[peer] = peak_rss_mib(hub.pid)
        print("\nThe machine is shared and noisy: compare medians of one run, not figures across runs.")
        print(f"hub resident memory before the exports: {', '.join(f'{n} {m:.0f} MiB' for n, m in idle.items())}")
        print(f"{'export':22} {'median s':>9} {'min s':>7} {'rows/s':>11} {'MiB out':>8} {'peak MiB':>9}")
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            print(
                f"{name:22} {medians[name]:9.2f} {min(values):7.2f} {args.rows / medians[name]:11,.0f} {sizes[name] / 2**20:8.1f} {peaks.get(name, 0):9.0f}"
            )
        for name, median in medians.items():
            if name.endswith("parquet"):
                print(f"{name} speed " + "; ".join(f"/ {peer}: {medians[peer] / median:.2f}x" for peer in direct))
        if "hub before parquet" in medians:
            print(
                f"hub parquet speed / hub before parquet: {medians['hub before parquet'] / medians['hub parquet']:.2f}x"
            )
        print("(hub peak is the hub process's VmHWM over the whole run: every export above, idle included)")
    finally:
        for hub in hubs.values():
            hub.stop()
        drop_table(args.mysql, database)


if __name__ == "__main__":
    main()
