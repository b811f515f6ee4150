"""Convert CSV ⇄ JSONL ⇄ Parquet; outputs into a temporary bucket, fetched through the results' signed links."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for


def write_csvs(folder: Path, files: int, rows: int) -> dict[str, pa.Table]:
    folder.mkdir(parents=True, exist_ok=True)
    tables = {}
    for f in range(files):
        table = pa.table(
            {
                "id": list(range(f * rows, (f + 1) * rows)),
                "name": [f'name "{i}", with comma' if i % 7 == 0 else f"n{i}" for i in range(rows)],
                "score": [i * 0.5 for i in range(rows)],
            }
        )
        pa_csv.write_csv(table, folder / f"part-{f}.csv")
        tables[f"part-{f}"] = table
    return tables


def bucket(api: httpx.Client) -> str:
    label = f"tmp{uuid.uuid4().hex[:8]}"
    response = api.post("/v1/sources", json={"protocol": "bucket", "label": label, "access": "read-write"})
    assert response.status_code == 201, response.text
    return f"bucket+{label}"


def synthetic(api: httpx.Client, rows: int) -> str:
    label = f"syn{uuid.uuid4().hex[:8]}"
    columns = [
        {"name": "id", "type": "int", "min": 0, "max": 10**9},
        {"name": "who", "type": "name"},
        {"name": "score", "type": "float", "min": 0, "max": 1, "decimals": 3},
    ]
    datasets = {
        name: {"rows": rows, "seed": seed, "columns": columns} for seed, name in enumerate(("alpha", "beta", "gamma"))
    }
    response = api.post("/v1/sources", json={"protocol": "synthetic", "label": label, "params": {"datasets": datasets}})
    assert response.status_code == 201, response.text
    return f"synthetic+{label}"


def expected_tables(api: httpx.Client, source: str) -> dict[str, pa.Table]:
    """Each dataset as the Data API serves its CSV, parsed by pyarrow."""
    connection = source.replace("://", "")
    found = {}
    for name in ("alpha", "beta", "gamma"):
        body = api.get(f"/v1/connector/{connection}/{name}.csv")
        assert body.status_code == 200, body.text
        found[name] = pa_csv.read_csv(io.BytesIO(body.content))
    return found


def test_synthetic_csv_to_parquet_into_a_temporary_bucket_downloaded_through_result_links(
    jobs_hub: RunningHub, admin: httpx.Client
) -> None:
    pytest.importorskip("headwater.connectors.hosted_kinds")
    src = synthetic(admin, rows=2000)
    dst = bucket(admin)
    job = create_job(
        admin, f"{src}://*.csv", f"{dst}://parquet/", app="convert", params={"app": {"to": "parquet"}}, run=True
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "complete", done["errorMessage"]
    tables = expected_tables(admin, src)
    results = admin.get(f"/v1/jobs/{job['id']}/results").json()["results"]
    assert sorted(r["name"] for r in results) == ["alpha.parquet", "beta.parquet", "gamma.parquet"]
    with httpx.Client() as anonymous:  # the links need no token
        for result in results:
            assert result["link"].startswith(jobs_hub.url + "/v1/links/") and result["expiresAt"]
            body = anonymous.get(result["link"])
            assert body.status_code == 200 and len(body.content) == result["size"]
            table = pq.read_table(io.BytesIO(body.content))
            assert table.equals(tables[result["name"].removesuffix(".parquet")])


def test_synthetic_csv_to_parquet_into_a_folder(admin: httpx.Client, tmp_path: Path) -> None:
    src = synthetic(admin, rows=3000)
    dst = local_source(admin, tmp_path / "out")
    job = create_job(
        admin, f"{src}://*.csv", f"{dst}://parquet/", app="convert", params={"app": {"to": "parquet"}}, run=True
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "complete", done["errorMessage"]
    tables = expected_tables(admin, src)
    assert sorted(files_under(tmp_path / "out")) == [
        "parquet/alpha.parquet",
        "parquet/beta.parquet",
        "parquet/gamma.parquet",
    ]
    for name, table in tables.items():
        assert pq.read_table(tmp_path / "out" / "parquet" / f"{name}.parquet").equals(table)


def test_csv_files_to_parquet(admin: httpx.Client, tmp_path: Path) -> None:
    tables = write_csvs(tmp_path / "csv", files=4, rows=500)
    src = local_source(admin, tmp_path / "csv", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(admin, f"{src}://*.csv", f"{dst}://", app="convert", params={"app": {"to": "parquet"}}, run=True)
    assert wait_for(admin, job["id"])["state"] == "complete"
    for name, table in tables.items():
        assert pq.read_table(tmp_path / "out" / f"{name}.parquet").equals(table)


def test_rows_partitions_of_one_csv_concatenated_into_one_parquet(
    jobs_hub: RunningHub, admin: httpx.Client, tmp_path: Path
) -> None:
    [table] = write_csvs(tmp_path / "csv", files=1, rows=2500).values()
    src = local_source(admin, tmp_path / "csv", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(
        admin,
        f"{src}://part-0.csv",
        f"{dst}://merged/",
        app="convert",
        partitioner="rows",
        assembler="concatenate",
        params={"app": {"to": "parquet"}, "partitioner": {"rows": 1000}, "assembler": {"name": "all.parquet"}},
        run=True,
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "complete", done["errorMessage"]
    assert done["progress"]["partitionsTotal"] == 3
    assert list(files_under(tmp_path / "out")) == ["merged/all.parquet"]
    assert pq.read_table(tmp_path / "out" / "merged" / "all.parquet").equals(table)
    assert not (jobs_hub.hub.settings.data_dir / "jobs" / job["id"]).exists()  # the staged parts are gone


def test_csv_to_jsonl_and_back_by_rows_with_csv_concatenated(admin: httpx.Client, tmp_path: Path) -> None:
    [table] = write_csvs(tmp_path / "csv", files=1, rows=300).values()
    src = local_source(admin, tmp_path / "csv", access="read")
    mid = local_source(admin, tmp_path / "jsonl")
    job = create_job(admin, f"{src}://*.csv", f"{mid}://", app="convert", params={"app": {"to": "jsonl"}}, run=True)
    assert wait_for(admin, job["id"])["state"] == "complete"
    lines = (tmp_path / "jsonl" / "part-0.jsonl").read_text().splitlines()
    assert len(lines) == 300 and json.loads(lines[7])["name"] == 'name "7", with comma'

    back = local_source(admin, tmp_path / "back")
    job = create_job(
        admin,
        f"{mid}://part-0.jsonl",
        f"{back}://",
        app="convert",
        partitioner="rows",
        assembler="concatenate",
        params={"app": {"to": "csv"}, "partitioner": {"rows": 100}, "assembler": {"name": "again.csv"}},
        run=True,
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "complete", done["errorMessage"]
    assert done["progress"]["partitionsTotal"] == 3
    again = pa_csv.read_csv(tmp_path / "back" / "again.csv")
    assert again.num_rows == 300 and again.column("id").to_pylist() == table.column("id").to_pylist()


def test_parquet_by_row_groups_to_csv_zipped(admin: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "pq").mkdir()
    table = pa.table({"x": list(range(1000)), "y": [str(i) for i in range(1000)]})
    pq.write_table(table, tmp_path / "pq" / "t.parquet", row_group_size=250)
    src = local_source(admin, tmp_path / "pq", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(
        admin,
        f"{src}://t.parquet",
        f"{dst}://",
        app="convert",
        partitioner="rows",
        assembler="zip",
        params={"app": {"to": "csv"}, "partitioner": {"rows": 500}},
        run=True,
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "complete", done["errorMessage"]
    assert done["progress"]["partitionsTotal"] == 2
    with zipfile.ZipFile(tmp_path / "out" / "output.zip") as archive:
        assert archive.namelist() == ["t.part-00000.csv", "t.part-00001.csv"]
        rows = [pa_csv.read_csv(io.BytesIO(archive.read(n))).num_rows for n in archive.namelist()]
    assert rows == [500, 500]


def test_byte_ranges_copied_and_concatenated_are_the_original(admin: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    data = bytes(range(256)) * 4000
    (tmp_path / "in" / "big.bin").write_bytes(data)
    src = local_source(admin, tmp_path / "in", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(
        admin,
        f"{src}://big.bin",
        f"{dst}://",
        partitioner="size",
        assembler="concatenate",
        params={"partitioner": {"bytes": 100_000}, "assembler": {"name": "big.bin"}},
        run=True,
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "complete", done["errorMessage"]
    assert done["progress"]["partitionsTotal"] == 11
    assert files_under(tmp_path / "out") == {"big.bin": data}
