"""`headwater jobs` takes the short id it prints (any unique start of an id) and shows progress in human units."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from typer.testing import CliRunner

from headwater.cli.main import app
from tests.fixtures.hub import RunningHub
from tests.services.jobs.helpers import create_job, local_source


def test_jobs_commands_take_a_unique_prefix_and_name_the_candidates_of_an_ambiguous_one(
    jobs_hub: RunningHub, tmp_path: Path
) -> None:
    token = jobs_hub.token()
    env = {"HEADWATER_URL": jobs_hub.url, "HEADWATER_TOKEN": token}
    with jobs_hub.client(token) as api:
        src = local_source(api, tmp_path / "in")
        dst = local_source(api, tmp_path / "out")
        (tmp_path / "in" / "a.csv").write_text("x,y\n1,2\n" * 500)
        ids = [create_job(api, f"{src}://*.csv", f"{dst}://j{i}/")["id"] for i in range(17)]
    runner = CliRunner()

    created = runner.invoke(
        app, ["jobs", "create", "--source", f"{src}://*.csv", "--destination", f"{dst}://w/"], env=env
    )
    assert created.exit_code == 0, created.stderr
    full = created.stdout.strip()
    short = full[:8]
    assert f"Created job {short} " in created.stderr and f"headwater jobs watch {short}" in created.stderr
    assert runner.invoke(app, ["jobs", "run", short], env=env).exit_code == 0
    watched = runner.invoke(app, ["jobs", "watch", short], env=env)
    assert watched.exit_code == 0, watched.stderr
    assert f"{short}: complete (1/1 partitions, 4.0 kB in, " in watched.stderr
    shown = runner.invoke(app, ["jobs", "show", short], env=env)
    assert shown.exit_code == 0 and full in shown.stdout and "1/1 partitions, 4.0 kB in" in shown.stdout
    results = runner.invoke(app, ["jobs", "results", short[:6]], env=env)
    assert results.exit_code == 0 and "a.csv" in results.stdout and "4.0 kB" in results.stdout
    assert json.loads(runner.invoke(app, ["jobs", "show", short.upper(), "--json"], env=env).stdout)["id"] == full

    # 17 other ids: two of them start with the same hex digit.
    first, pair = next(
        (c, [i for i in ids if i[0] == c]) for c, n in collections.Counter(i[0] for i in ids).items() if n > 1
    )
    ambiguous = runner.invoke(app, ["jobs", "cancel", first], env=env)
    assert ambiguous.exit_code == 1 and ambiguous.stderr.startswith("error: ")
    assert "several job ids" in ambiguous.stderr and all(i in ambiguous.stderr for i in pair)
    missing = runner.invoke(app, ["jobs", "show", "zz"], env=env)
    assert missing.exit_code == 1 and "no job's id starts with 'zz'" in missing.stderr
