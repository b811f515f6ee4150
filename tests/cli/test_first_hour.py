"""What a new user trips on in the first hour with the CLI: each test is one of those stumbles, fixed."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.cli.main import app
from headwater.settings import Settings
from tests.cli.test_cli import Run, one_line_error, org, run  # noqa: F401  (fixtures)
from tests.fixtures import postgres
from tests.fixtures.hub import RunningHub, start_hub
from tests.fixtures.seaweedfs import SeaweedFS


@pytest.fixture(scope="module")
def public_only_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub whose operator has not allowed private endpoints (the default)."""
    running = start_hub(tmp_path_factory.mktemp("hub-public"), HEADWATER_ALLOW_PRIVATE_ENDPOINTS="0")
    yield running
    running.stop()


def _s3_secret(run: Run, seaweedfs: SeaweedFS, secret_id: str, secret_key: str) -> None:
    run(
        "secrets",
        "create",
        "--id",
        secret_id,
        "--type",
        "s3",
        "--access-key",
        seaweedfs.rw.access_key,
        "--secret-key-stdin",
        input=secret_key,
    )


def test_sources_create_warns_at_once_when_the_hub_would_refuse_the_endpoint(public_only_hub: RunningHub) -> None:
    env = {"HEADWATER_URL": public_only_hub.url, "HEADWATER_TOKEN": public_only_hub.token()}
    created = CliRunner().invoke(
        app,
        [
            "sources",
            "create",
            "--protocol",
            "s3",
            "--label",
            "local",
            "--param",
            "endpoint=http://127.0.0.1:8333",
            "--param",
            "region=us-east-1",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.stderr
    warning = next(line for line in created.stderr.splitlines() if line.startswith("warning: "))
    assert (
        "127.0.0.1" in warning
        and "--allow-private-endpoints" in warning
        and "HEADWATER_ALLOW_PRIVATE_ENDPOINTS" in warning
    )
    assert "restart" in warning
    with public_only_hub.client(env["HEADWATER_TOKEN"]) as api:
        body = api.post(
            "/v1/sources", json={"protocol": "url", "label": "intranet", "params": {"url": "http://10.1.2.3/x.csv"}}
        ).json()
        assert len(body["warnings"]) == 1 and body["warnings"][0].startswith("params.url: address 10.1.2.3")
        fine = api.post("/v1/sources", json={"protocol": "synthetic", "label": "gen"}).json()
        assert fine["warnings"] == []
        # The test answers 308 with a reason that names both ways to allow it.
        tested = api.post(f"/v1/sources/{body['id']}/test").json()["state"]
        assert tested["code"] == "308"
        assert (
            "--allow-private-endpoints" in tested["reason"] and "HEADWATER_ALLOW_PRIVATE_ENDPOINTS" in tested["reason"]
        )


def test_no_warning_when_private_endpoints_are_allowed(run: Run) -> None:
    created = run(
        "sources", "create", "--protocol", "url", "--label", "lan", "--param", "url=http://127.0.0.1:9/x", "--json"
    )
    assert json.loads(created.stdout)["warnings"] == [] and "warning" not in created.stderr


def test_sources_create_with_test_exits_non_zero_when_the_test_fails(run: Run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    failed = run(
        "sources",
        "create",
        "--protocol",
        "local",
        "--label",
        "gone",
        "--param",
        f"path={tmp_path / 'missing'}",
        "--test",
        ok=False,
    )
    assert failed.exit_code == 1 and "Created local+gone://" in failed.stderr and "303" in failed.stderr
    healthy = run(
        "sources", "create", "--protocol", "local", "--label", "here", "--param", f"path={tmp_path}", "--test"
    )
    assert "100" in healthy.stderr


def test_sources_list_shows_each_states_reason(run: Run) -> None:
    run("sources", "create", "--protocol", "s3", "--label", "half")  # no endpoint: requires configuration
    listed = run("sources", "list").stdout
    row = next(line for line in listed.splitlines() if "s3+half://" in line)
    assert "001" in row and "params.endpoint" in row


def test_help_shows_flags_without_a_type() -> None:
    commands = [["sources", "create"], ["jobs", "create"], ["cp"], ["rm"], ["token", "create"], ["serve"], []]
    for command in commands:
        shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.stdout
        assert "<bool>" not in shown.stdout, (command, shown.stdout)
    assert "--allow-private-endpoints" in CliRunner().invoke(app, ["serve", "--help"]).stdout


def test_a_read_with_a_wrong_secret_says_bad_credentials(run: Run, seaweedfs: SeaweedFS) -> None:
    bucket = seaweedfs.create_bucket()
    seaweedfs.store(bucket).put("a.txt", b"hello")  # type: ignore[attr-defined]
    _s3_secret(run, seaweedfs, "wrong", "not-the-secret-" + uuid.uuid4().hex)
    run(
        "sources",
        "create",
        "--protocol",
        "s3",
        "--label",
        "lake",
        "--secret-id",
        "wrong",
        "--param",
        f"endpoint={seaweedfs.endpoint}",
        "--param",
        f"region={seaweedfs.region}",
    )
    tested = run("sources", "test", "s3+lake", ok=False)
    assert "301" in tested.stdout and "credentials" in tested.stdout
    for command in (
        ["cat", f"s3+lake://{bucket}/a.txt"],
        ["ls", f"s3+lake://{bucket}/"],
        ["cp", f"s3+lake://{bucket}/a.txt", "-"],
    ):
        line = one_line_error(run(*command, ok=False))
        assert "refused the credentials" in line and "not allowed" not in line, (command, line)


def test_an_unknown_label_suggests_the_closest_one(run: Run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run("sources", "create", "--protocol", "local", "--label", "lake", "--param", f"path={tmp_path}")
    assert "did you mean local+lake?" in one_line_error(run("ls", "local+laek://", ok=False))
    assert "did you mean local+lake?" in one_line_error(run("sources", "show", "local+lak", ok=False))
    assert "did you mean" not in one_line_error(run("ls", "local+zzzzzz://", ok=False))


def test_an_unknown_label_never_suggests_a_source_the_token_cannot_see(sqlite_hub: RunningHub, tmp_path) -> None:  # type: ignore[no-untyped-def]
    org_name = f"org-{uuid.uuid4().hex[:8]}"
    admin = sqlite_hub.token(org=org_name)
    with sqlite_hub.client(admin) as api:
        seen = api.post("/v1/sources", json={"protocol": "synthetic", "label": "seen"}).json()
        api.post("/v1/sources", json={"protocol": "synthetic", "label": "secret-lake"}).raise_for_status()
    narrowed = sqlite_hub.token(org=org_name, source_ids=(seen["id"],))
    with sqlite_hub.client(narrowed) as api:
        message = api.get("/v1/connector/synthetic+secret-lak/").json()["error"]["message"]
    assert "secret-lake" not in message and "no connection" in message


def test_a_missing_colon_says_what_is_wrong_with_the_address(run: Run) -> None:
    line = one_line_error(run("ls", "s3+lake//bucket/x", ok=False))
    assert "missing the ':' after 's3+lake'" in line and "s3+lake://bucket/x" in line
    line = one_line_error(run("cp", "s3+lake//bucket/x", "-", ok=False))
    assert "missing the ':'" in line


def test_token_create_refuses_to_create_a_store_and_names_the_one_it_looked_for(tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-the-hub"
    env = {"HEADWATER_DATA_DIR": str(elsewhere), "HEADWATER_MASTER_KEY": "", "HEADWATER_DATABASE_URL": ""}
    refused = CliRunner().invoke(app, ["token", "create", "--org", "o", "--user", "u"], env=env)
    line = one_line_error(refused)
    assert str(elsewhere) in line and "--init" in line and "HEADWATER_DATA_DIR" in line
    assert not elsewhere.exists() and "hw_" not in refused.stdout
    rotate = CliRunner().invoke(app, ["secrets", "rotate-master-key"], env=env)
    assert "no hub store at" in one_line_error(rotate) and not elsewhere.exists()

    made = CliRunner().invoke(app, ["token", "create", "--org", "o", "--user", "u", "--init"], env=env)
    assert made.exit_code == 0, made.stderr
    assert f"Creating a new store in {elsewhere}" in made.stderr and made.stdout.startswith("hw_")
    again = CliRunner().invoke(app, ["token", "create", "--org", "o", "--user", "v"], env=env)
    assert (
        again.exit_code == 0 and f"Using the store in {elsewhere} (SQLite {elsewhere / 'headwater.db'})" in again.stderr
    )


def test_a_store_without_its_master_key_file_is_refused(tmp_path: Path) -> None:
    env = {"HEADWATER_DATA_DIR": str(tmp_path / "d"), "HEADWATER_MASTER_KEY": "", "HEADWATER_DATABASE_URL": ""}
    assert CliRunner().invoke(app, ["token", "create", "--org", "o", "--user", "u", "--init"], env=env).exit_code == 0
    (tmp_path / "d" / "master.key").unlink()
    line = one_line_error(CliRunner().invoke(app, ["token", "create", "--org", "o", "--user", "u"], env=env))
    assert "master key file" in line and not (tmp_path / "d" / "master.key").exists()


def test_the_store_a_command_names_never_shows_a_database_password(tmp_path: Path) -> None:
    name = postgres.create_database()
    try:
        url = postgres.url_of(name).replace("postgresql://postgres@", "postgresql://postgres:pw-never-shown@")
        env = {"HEADWATER_DATA_DIR": str(tmp_path / "d"), "HEADWATER_MASTER_KEY": "", "HEADWATER_DATABASE_URL": url}
        refused = CliRunner().invoke(app, ["token", "create", "--org", "o", "--user", "u"], env=env)
        assert "no hub store" in one_line_error(refused) and "postgres:***@" in refused.stderr
        made = CliRunner().invoke(app, ["token", "create", "--org", "o", "--user", "u", "--init"], env=env)
        assert made.exit_code == 0, made.stderr
        assert f"Creating a new store in {tmp_path / 'd'} (database postgresql+psycopg://postgres:***@" in made.stderr
        for result in (refused, made):
            assert "pw-never-shown" not in result.stderr + result.stdout
    finally:
        postgres.drop_database(name)


def test_the_default_data_dir_is_the_users_not_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).data_dir == tmp_path / "xdg" / "headwater"


def test_cp_recursive_copies_folders_both_ways_and_sums_up(run: Run, org: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "empty").mkdir()
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(70_000), "sub/deeper/c x+%.csv": b"x,y\n1,2\n"}
    for name, data in files.items():
        (tree / name).write_bytes(data)

    up = run("cp", "-r", str(tree), f"data://{org}/coll/")
    summary = up.stderr.strip().splitlines()[-1]
    total = sum(len(d) for d in files.values())
    assert summary.startswith(f"Copied 3 files, {total / 1000:.1f} kB in ") and summary.endswith("/s)"), summary
    listed = json.loads(run("ls", f"data://{org}/coll/tree/sub", "--json").stdout)
    assert sorted((e["name"], e["isDir"]) for e in listed) == [("b.bin", False), ("deeper", True)]
    assert json.loads(run("ls", f"data://{org}/coll/tree/empty", "--json").stdout) == []

    out = tmp_path / "out"
    out.mkdir()
    down = run("cp", "-r", f"data://{org}/coll/tree", str(out))
    assert down.stderr.strip().splitlines()[-1].startswith("Copied 3 files, ")
    for name, data in files.items():
        assert (out / "tree" / name).read_bytes() == data
    assert (out / "tree" / "empty").is_dir()
    again = json.loads(run("cp", "-r", f"data://{org}/coll/tree/sub", str(tmp_path / "fresh"), "--json").stdout)
    assert again["files"] == 2 and again["bytes"] == len(files["sub/b.bin"]) + len(files["sub/deeper/c x+%.csv"])
    assert (tmp_path / "fresh" / "deeper" / "c x+%.csv").read_bytes() == files["sub/deeper/c x+%.csv"]

    between = json.loads(run("cp", "-r", f"data://{org}/coll/tree", f"data://{org}/copy", "--json").stdout)
    assert between == {
        "source": f"data://{org}/coll/tree",
        "destination": f"data://{org}/copy/",
        "bytes": total,
        "files": 3,
    }
    assert run("cat", f"data://{org}/copy/sub/deeper/c x+%.csv").stdout_bytes == files["sub/deeper/c x+%.csv"]

    assert "use cp -r" in one_line_error(run("cp", f"data://{org}/coll/tree", str(out), ok=False))
    assert "use cp -r" in one_line_error(run("cp", str(tree), f"data://{org}/coll/", ok=False))


def test_cp_names_a_missing_local_folder_never_a_temporary_name(run: Run, org: str, tmp_path: Path) -> None:
    run("cp", "-", f"data://{org}/c/f.txt", input=b"data")
    for command in (
        ["cp", f"data://{org}/c/f.txt", str(tmp_path / "nope") + "/"],
        ["cp", f"data://{org}/c/f.txt", str(tmp_path / "nope" / "f.txt")],
        ["cp", "-r", f"data://{org}/c", str(tmp_path / "nope" / "deeper")],
        ["cp", "-r", str(tmp_path / "nope"), f"data://{org}/c/"],
    ):
        line = one_line_error(run(*command, ok=False))
        assert f"local folder {tmp_path / 'nope'} does not exist" in line and ".part" not in line, (command, line)
    assert not (tmp_path / "nope").exists()


def test_downloaded_files_follow_the_umask(run: Run, org: str, tmp_path: Path) -> None:
    run("cp", "-", f"data://{org}/c/f.txt", input=b"data")
    previous = os.umask(0o027)
    try:
        run("cp", f"data://{org}/c/f.txt", str(tmp_path / "f.txt"))
        run("cp", "-r", f"data://{org}/c", str(tmp_path / "tree"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "tree" / "f.txt").stat().st_mode) == 0o640
