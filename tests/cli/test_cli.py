"""The `headwater` command against a real hub on loopback (CliRunner), plus `serve` as a real process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from headwater.cli.main import app
from headwater.cli.serve import first_start_token
from headwater.services import secrets as secrets_service
from headwater.services import tokens as tokens_service
from headwater.services.hub import Hub
from headwater.settings import Settings
from headwater.vault import generate_key
from tests.fixtures.hub import RunningHub
from tests.fixtures.network import free_port

Run = Callable[..., Result]


@pytest.fixture
def org(sqlite_hub: RunningHub) -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def run(sqlite_hub: RunningHub, org: str) -> Run:
    """Invoke the CLI as an admin of a fresh organization; `ok=True` asserts exit status 0."""
    env = {
        "HEADWATER_URL": sqlite_hub.url,
        "HEADWATER_TOKEN": sqlite_hub.token(org=org),
        "HEADWATER_DATA_DIR": str(sqlite_hub.hub.settings.data_dir),
        "HEADWATER_MASTER_KEY": "",
        "HEADWATER_DATABASE_URL": "",
        "HEADWATER_BOOTSTRAP_TOKEN": "",
    }

    def invoke(*args: str, input: str | bytes | None = None, ok: bool = True, **extra_env: str) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, env={**env, **extra_env}, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr)
        return result

    return invoke


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_token_create_on_the_store(run: Run, sqlite_hub: RunningHub) -> None:
    org = f"boot-{uuid.uuid4().hex[:8]}"
    created = json.loads(run("token", "create", "--org", org, "--user", "bob", "--read-only", "--json").stdout)
    assert created["token"].startswith("hw_") and created["readOnly"] is True
    me = json.loads(run("ls", f"data://{org}", "--json", HEADWATER_TOKEN=created["token"]).stdout)
    assert me == []
    plain = run("token", "create", "--org", org, "--user", "carol", "--admin")
    value = plain.stdout.strip()
    assert value.startswith("hw_") and "\n" not in value and "shown once" in plain.stderr
    with sqlite_hub.client(value) as http:
        me = http.get("/v1/me").json()
    assert (me["organization"], me["user"], me["admin"]) == (org, "carol", True)


def test_secret_values_are_never_printed(run: Run, sqlite_hub: RunningHub) -> None:
    value = f"s3cr3t-{uuid.uuid4().hex}"
    outputs = [
        run(
            "secrets",
            "create",
            "--id",
            "aws-1",
            "--type",
            "aws",
            "--access-key",
            "AKIA1",
            "--secret-key-stdin",
            input=value + "\n",
        ),
        run("secrets", "create", "--id", "aws-2", "--type", "aws", "--secret-key-stdin", "--json", input=value),
        run(
            "secrets",
            "create",
            "--id",
            "kv",
            "--value",
            "API_KEY",
            "--value",
            "OTHER",
            input=f"API_KEY={value}\nOTHER=x=y\n",
        ),
        run("secrets", "create", "--id", "prompted", input=value + "\n"),
        run("secrets", "update", "aws-1", "--name", "renamed", "--secret-key-stdin", input=value + "-2"),
        run("secrets", "list"),
        run("secrets", "show", "kv"),
    ]
    listed = run("secrets", "list", "--json")
    outputs.append(listed)
    for result in outputs:
        assert value not in result.stdout and value not in result.stderr
    secrets = {s["id"]: s for s in json.loads(listed.stdout)}
    assert set(secrets) == {"aws-1", "aws-2", "kv", "prompted"}
    assert secrets["kv"]["valueKeys"] == ["API_KEY", "OTHER"] and secrets["aws-1"]["name"] == "renamed"
    assert "Created secret 'aws-1' (aws); stored values: secretKey" in outputs[0].stderr
    assert json.loads(outputs[1].stdout)["valueKeys"] == ["secretKey"]
    assert not any(value in line for line in sqlite_hub.logs.lines)

    assert "which no --value names" in one_line_error(
        run("secrets", "create", "--id", "x", "--value", "A", input="B=1\n", ok=False)
    )
    assert "use one" in one_line_error(
        run("secrets", "create", "--id", "x", "--value", "A", "--secret-key-stdin", input="", ok=False)
    )
    assert "already exists" in one_line_error(
        run("secrets", "create", "--id", "kv", "--secret-key-stdin", input="v", ok=False)
    )
    run("secrets", "delete", "prompted")
    assert "does not exist" in one_line_error(run("secrets", "show", "prompted", ok=False))


def test_sources_and_systems(run: Run, tmp_path: Path) -> None:
    created = json.loads(
        run(
            "sources",
            "create",
            "--protocol",
            "local",
            "--label",
            "lab",
            "--param",
            f"path={tmp_path}",
            "--access",
            "read-write",
            "--test",
            "--json",
        ).stdout
    )
    assert created["state"]["healthy"] is True and created["access"] == "read-write"
    listed = json.loads(run("sources", "list", "--json").stdout)
    assert [s["id"] for s in listed] == [created["id"]]
    assert "local+lab://" in run("sources", "list").stdout
    shown = json.loads(run("sources", "show", "local+lab", "--json").stdout)
    assert shown["params"] == {"path": str(tmp_path)}
    updated = json.loads(run("sources", "update", "local+lab", "--description", "lab files", "--json").stdout)
    assert updated["description"] == "lab files"
    assert "100" in run("sources", "test", created["id"]).stdout
    run("sources", "update", "local+lab", "--param", f"path={tmp_path / 'missing'}")
    failed = run("sources", "test", "local+lab", ok=False)
    assert failed.exit_code == 1

    system = json.loads(run("systems", "create", "--name", "Lab", "--owner-email", "o@example.org", "--json").stdout)
    linked = json.loads(run("systems", "link", system["id"], "local+lab", "--json").stdout)
    assert [c["id"] for c in linked["links"]["children"]] == [created["id"]]
    assert "lab" in run("systems", "show", system["id"]).stdout
    assert json.loads(run("systems", "list", "--json").stdout)[0]["name"] == "Lab"
    run("systems", "unlink", system["id"], created["id"])
    run("systems", "delete", system["id"])
    assert json.loads(run("systems", "list", "--json").stdout) == []
    run("sources", "delete", "local+lab")
    assert "does not exist" in one_line_error(run("sources", "show", "local+lab", ok=False))


def test_data_commands(run: Run, org: str, tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    run(
        "sources", "create", "--protocol", "local", "--label", "lab", "--param", f"path={lab}", "--access", "read-write"
    )
    payload = os.urandom(3 * 1024 * 1024 + 7)
    local = tmp_path / "big.bin"
    local.write_bytes(payload)

    run("mkdir", "local+lab://in")
    assert "already exists" in one_line_error(run("mkdir", "local+lab://in", ok=False))
    run("mkdir", "-p", "local+lab://in")
    run("cp", str(local), "local+lab://in/")
    assert (lab / "in" / "big.bin").read_bytes() == payload
    copied = json.loads(run("cp", "local+lab://in/big.bin", f"data://{org}/coll/copy.bin", "--json").stdout)
    assert copied == {
        "source": "local+lab://in/big.bin",
        "destination": f"data://{org}/coll/copy.bin",
        "bytes": len(payload),
    }
    out = tmp_path / "out"
    out.mkdir()
    run("cp", f"data://{org}/coll/copy.bin", str(out))
    assert (out / "copy.bin").read_bytes() == payload and sorted(p.name for p in out.iterdir()) == ["copy.bin"]
    run("cp", "-", "local+lab://in/stdin+name %.txt", input=b"from stdin")
    assert (lab / "in" / "stdin+name %.txt").read_bytes() == b"from stdin"
    assert run("cp", "local+lab://in/stdin+name %.txt", "-").stdout_bytes == b"from stdin"
    assert (
        run("cat", "local+lab://in/stdin+name %.txt", "local+lab://in/stdin+name %.txt").stdout_bytes
        == b"from stdin" * 2
    )

    assert run("ls", "local+lab://").stdout.splitlines() == ["in/"]
    assert run("ls", "local+lab://in").stdout.splitlines() == ["big.bin", "stdin+name %.txt"]
    long = run("ls", "-l", "local+lab://in").stdout
    assert str(len(payload)) in long
    entries = json.loads(run("ls", f"data://{org}/coll", "--json").stdout)
    assert [(e["name"], e["isDir"], e["size"]) for e in entries] == [("copy.bin", False, len(payload))]
    assert [e["name"] for e in json.loads(run("ls", f"data://{org}/coll/copy.bin", "--json").stdout)] == ["copy.bin"]

    assert "is a directory: use rm -r" in one_line_error(run("rm", "local+lab://in", ok=False))
    run("rm", f"data://{org}/coll/copy.bin")
    assert json.loads(run("ls", f"data://{org}/coll", "--json").stdout) == []
    removed = json.loads(run("rm", "-r", "local+lab://in", "--json").stdout)
    assert removed == {"deleted": [{"address": "local+lab://in", "files": 2}]}
    assert not (lab / "in").exists()
    assert "both SRC and DST are local" in one_line_error(run("cp", str(local), str(out), ok=False))


def test_errors_are_one_line(run: Run, org: str) -> None:
    assert "does not exist" in one_line_error(run("cat", f"data://{org}/coll/nope", ok=False))
    assert "'..'" in one_line_error(run("ls", "local+lab://a/../b", ok=False))
    assert "not valid" in one_line_error(
        run("ls", f"data://{org}", HEADWATER_TOKEN="hw_no-such-token-anywhere", ok=False)
    )
    assert "no token" in one_line_error(run("ls", f"data://{org}", HEADWATER_TOKEN="", ok=False))
    assert "Connection refused" in one_line_error(run("ls", f"data://{org}", "--url", "http://127.0.0.1:9", ok=False))
    assert "No such file" in one_line_error(run("cp", "/no/such/file", f"data://{org}/c/f", ok=False))
    run("mkdir", f"data://{org}/coll")
    assert "is a directory" in one_line_error(run("cat", f"data://{org}/coll", ok=False))


def test_rotate_master_key(tmp_path: Path) -> None:
    settings = Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)})
    hub = Hub.open(settings)
    with hub.store.session() as session:
        _, value = tokens_service.create_token(session, org_name="acme", user_name="a", admin=True)
        caller = tokens_service.authenticate(session, value)
        secrets_service.create(session, hub.vault, caller, "s1", secrets_service.SecretFields(), {"secretKey": "v1"})
    hub.close()
    before = settings.master_key_file.read_text()
    env = {"HEADWATER_DATA_DIR": str(tmp_path), "HEADWATER_MASTER_KEY": "", "HEADWATER_DATABASE_URL": ""}
    result = CliRunner().invoke(app, ["secrets", "rotate-master-key"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "Re-encrypted 1 secret " in result.stdout
    assert settings.master_key_file.read_text() != before
    assert stat.S_IMODE(settings.master_key_file.stat().st_mode) == 0o600
    assert json.loads(CliRunner().invoke(app, ["secrets", "rotate-master-key", "--json"], env=env).stdout) == {
        "reencrypted": 1
    }
    reopened = Hub.open(settings)
    with reopened.store.session() as session:
        assert secrets_service.credentials(session, reopened.vault, caller.org_id, "s1").secret_key == "v1"
    reopened.close()
    current = settings.master_key_file.read_text().strip()
    refused = CliRunner().invoke(app, ["secrets", "rotate-master-key"], env={**env, "HEADWATER_MASTER_KEY": current})
    assert refused.exit_code == 1 and "NEW,OLD" in refused.stderr
    new = generate_key()
    rotated = CliRunner().invoke(
        app, ["secrets", "rotate-master-key"], env={**env, "HEADWATER_MASTER_KEY": f"{new},{current}"}
    )
    assert rotated.exit_code == 0 and "set it to the new key alone" in rotated.stdout
    newer = generate_key()
    piped = CliRunner().invoke(
        app,
        ["secrets", "rotate-master-key", "--new-key-stdin"],
        input=newer + "\n",
        env={**env, "HEADWATER_MASTER_KEY": new},
    )
    assert piped.exit_code == 0 and newer not in piped.stdout + piped.stderr
    only_newer = Hub.open(Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path), "HEADWATER_MASTER_KEY": newer}))
    with only_newer.store.session() as session:
        assert secrets_service.credentials(session, only_newer.vault, caller.org_id, "s1").secret_key == "v1"
    only_newer.close()


def test_first_start_token_is_made_once(tmp_path: Path) -> None:
    hub = Hub.open(Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)}))
    try:
        value = first_start_token(hub)
        assert value and value.startswith("hw_")
        assert first_start_token(hub) is None
        with hub.store.session() as session:
            caller = tokens_service.authenticate(session, value)
        assert (caller.org_name, caller.user_name, caller.admin) == ("default", "admin", True)
    finally:
        hub.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], str, list[str]]]]:
    """Start `headwater serve` as a real process; returns (process, url, stdout lines so far)."""
    started: list[subprocess.Popen[str]] = []

    def start(**env: str) -> tuple[subprocess.Popen[str], str, list[str]]:
        port = free_port()
        full_env = {**os.environ, "HEADWATER_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1", **env}
        for name in ("HEADWATER_MASTER_KEY", "HEADWATER_DATABASE_URL"):
            full_env.pop(name, None)
        process = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "serve", "--port", str(port), "--log-level", "warning"],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # `serve` starts one worker process per CPU: slow on a busy machine
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return process, url, lines
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError("headwater serve did not answer /healthz")

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_with_bootstrap_token(
    serve: Callable[..., tuple[subprocess.Popen[str], str, list[str]]], tmp_path: Path
) -> None:
    bootstrap = "hw_bootstrap-" + uuid.uuid4().hex
    process, url, lines = serve(HEADWATER_BOOTSTRAP_TOKEN=bootstrap)
    key_file = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    me = httpx.get(url + "/v1/me", headers={"Authorization": f"Bearer {bootstrap}"}).json()
    assert (me["organization"], me["user"], me["admin"]) == ("default", "admin", True)
    process.terminate()
    assert process.wait(timeout=15) == 0
    assert not any("hw_" in line for line in lines)
    assert f"serving {url}" in process.stderr.read()  # type: ignore[union-attr]


def test_serve_prints_a_first_admin_token(serve: Callable[..., tuple[subprocess.Popen[str], str, list[str]]]) -> None:
    process, url, lines = serve(HEADWATER_BOOTSTRAP_TOKEN="")
    printed = "".join(lines)
    assert "shown once" in printed
    value = next(word for word in printed.split() if word.startswith("hw_"))
    assert httpx.get(url + "/v1/me", headers={"Authorization": f"Bearer {value}"}).json()["organization"] == "default"
    process.send_signal(2)
    assert process.wait(timeout=15) == 0


def test_exit_is_clean_when_obstore_is_loaded() -> None:
    code = "import obstore; from headwater.cli.main import app; app(%r)"
    ok = subprocess.run(
        [sys.executable, "-c", code % (["--version"],)], check=False, capture_output=True, text=True, timeout=60
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "headwater 0.1.0")
    bad = subprocess.run(
        [sys.executable, "-c", code % (["ls", "data://x"],)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HEADWATER_TOKEN": ""},
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: no token")
