"""`python` apps: a user function from an installed package or HEADWATER_SANDBOX_PATH, sandboxed, without credentials."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.services.jobs.helpers import create_job, files_under, local_source, wait_for


def test_a_user_function_transforms_each_partition(admin: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    texts = {f"t{i}.txt": (f"line {i} of hello\n" * (i * 500 + 1)).encode() for i in range(4)}
    for name, body in texts.items():
        (tmp_path / "in" / name).write_bytes(body)
    src = local_source(admin, tmp_path / "in", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(
        admin,
        f"{src}://",
        f"{dst}://upper/",
        app="python",
        params={"app": {"function": "jobs_app.upper:run", "params": {"prefix": ">"}, "suffix": ".up"}},
        run=True,
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "complete", done["errorMessage"]
    expected = {f"upper/{name.replace('.txt', '.up')}": b">" + body.upper() for name, body in texts.items()}
    assert files_under(tmp_path / "out") == expected


def test_the_function_sees_no_hub_environment(admin: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x").write_bytes(b"x")
    src = local_source(admin, tmp_path / "in", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(
        admin,
        f"{src}://x",
        f"{dst}://",
        app="python",
        params={"app": {"function": "jobs_app.upper:environment"}},
        run=True,
    )
    assert wait_for(admin, job["id"])["state"] == "complete"
    names = (tmp_path / "out" / "x").read_text().split()
    assert not [n for n in names if n.startswith(("HEADWATER", "AWS", "PG", "DATABASE"))], names
    assert set(names) <= {
        "PATH",
        "LANG",
        "HOME",
        "TMPDIR",
        "PYTHONDONTWRITEBYTECODE",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "PWD",
    }, names


def test_a_failing_function_fails_the_job_and_leaves_nothing(admin: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"{i}.txt").write_bytes(b"abc" * 100_000)
    src = local_source(admin, tmp_path / "in", access="read")
    dst = local_source(admin, tmp_path / "out")
    job = create_job(
        admin,
        f"{src}://*.txt",
        f"{dst}://",
        app="python",
        params={"app": {"function": "jobs_app.upper:run", "params": {"fail": True}}},
        run=True,
    )
    done = wait_for(admin, job["id"])
    assert done["state"] == "failed"
    assert "exit status 1" in done["errorMessage"] and "RuntimeError: asked to fail" in done["errorMessage"]
    assert files_under(tmp_path / "out") == {}
    levels = [line["level"] for line in admin.get(f"/v1/jobs/{job['id']}/logs").json()["logs"]]
    assert "error" in levels


def test_unknown_functions_are_refused_at_create(admin: httpx.Client, tmp_path: Path) -> None:
    src = local_source(admin, tmp_path / "in", access="read")
    dst = local_source(admin, tmp_path / "out")
    for function in ("no_such_module_xyz:run", "not a reference", "os.path"):
        response = admin.post(
            "/v1/jobs",
            json={
                "source": f"{src}://",
                "destination": f"{dst}://",
                "app": "python",
                "params": {"app": {"function": function}},
            },
        )
        assert response.status_code == 400, response.text
        assert "function" in response.json()["error"]["message"] or "installed" in response.json()["error"]["message"]
