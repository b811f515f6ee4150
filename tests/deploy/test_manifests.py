"""The deployment files: deploy/compose.yaml, deploy/kubernetes/ and the Dockerfile say what the README says.

They are parsed, not only read: the Compose files are valid under the Compose Specification's JSON
schema (`compose-spec.json` beside this file, from github.com/compose-spec/compose-spec, Apache-2.0)
and every name they refer to is defined; every service the README's Scale-out section names (in its
table and in its `docker compose` commands) is in the Compose file, every image is built from this
repository's Dockerfile or is a pinned public image, every health check asks `/healthz/ready`, and
every setting they give is one the hub reads. Where `kubectl` or `docker compose` is installed, they
render the files for real.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from headwater import __version__
from headwater.api.app import create_app
from headwater.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
HUB_IMAGE = f"headwater:{__version__}"
READY, LIVE = "/healthz/ready", "/healthz/live"
#: The hub's own storage settings (the object-store work of the same issue defines them in settings.py).
STORAGE = {
    "HEADWATER_STORAGE_URL",
    "HEADWATER_STORAGE_ENDPOINT",
    "HEADWATER_STORAGE_REGION",
    "HEADWATER_STORAGE_ACCESS_KEY_ID",
    "HEADWATER_STORAGE_SECRET_ACCESS_KEY",
}
#: What every replica must be given alike.
SHARED = {"HEADWATER_DATABASE_URL", "HEADWATER_MASTER_KEY", "HEADWATER_DASK_SCHEDULER", *STORAGE}


def compose(name: str = "compose.yaml") -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / name).read_text())


def hubs(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if s.get("command", [])[:2] == ["headwater", "serve"]}


def scale_out_docs() -> str:
    """The README's Scale-out and Replicas sections, where the deployment is documented."""
    text = (ROOT / "README.md").read_text()
    return "".join(text.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0] for title in ("Scale-out", "Replicas"))


def compose_commands() -> list[list[str]]:
    """Every `docker compose ...` command line in the docs' code blocks, as words (continued lines joined)."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", scale_out_docs(), flags=re.MULTILINE | re.DOTALL)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [shlex.split(line.split("#", 1)[0]) for line in lines if line.lstrip().startswith("docker compose ")]


#: `docker compose` options (before or after the subcommand) that take a value.
VALUED = {
    "-f",
    "--file",
    "-p",
    "--project-name",
    "--env-file",
    "--tail",
    "-n",
    "--index",
    "-u",
    "--user",
    "-e",
    "--env",
}


def services_named(words: list[str]) -> list[str]:
    """The services a `docker compose` command names: the words after its subcommand that are neither
    options nor their values (only the first for `exec` and `run`: the rest is the command run inside)."""
    words = words[words.index("compose") + 1 :]
    positional = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in VALUED
        else:
            positional.append(word)
    if not positional or positional[0] not in ("up", "ps", "logs", "exec", "run", "restart", "stop", "start"):
        return []
    return positional[1:2] if positional[0] in ("exec", "run") else positional[1:]


def readme_services() -> set[str]:
    """The services the README's Scale-out section lists (the first column of its table of services)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Scale-out", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([a-z0-9-]+)`", cell)}


def settings_read() -> set[str]:
    """Every HEADWATER_* name headwater/settings.py reads."""
    return set(re.findall(r'"(HEADWATER_[A-Z0-9_]+)"', (ROOT / "headwater" / "settings.py").read_text()))


def pinned(image: str) -> bool:
    """A public image named by a version tag (or a digest), never `latest` or a bare name."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and re.match(r"^v?\d+(\.\d+)+", tag) is not None


def kubernetes_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    return [
        doc for name in kustomization["resources"] for doc in yaml.safe_load_all((KUBERNETES / name).read_text()) if doc
    ]


def of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] == kind]


# -- Compose -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["compose.yaml", "compose.sandbox.yaml"])
def test_the_compose_files_are_valid_under_the_compose_specification(name: str) -> None:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(compose(name))
    ]
    assert not errors, errors


def test_the_schema_check_catches_a_misspelt_key() -> None:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    broken = compose()
    broken["services"]["hub-1"]["healthcheck"]["intervall"] = "5s"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_every_service_volume_and_config_the_compose_file_refers_to_is_defined() -> None:
    document = compose()
    services = document["services"]
    for name, service in services.items():
        assert set(service.get("depends_on") or {}) <= set(services), name
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in document["volumes"], f"{name}: volume {source!r} is not declared"
            else:
                assert (DEPLOY / source).exists(), f"{name}: {source} is not in deploy/"
        for config in service.get("configs") or []:
            assert config["source"] in document["configs"], name
    assert set(compose("compose.sandbox.yaml")["services"]) <= set(services)


def test_every_service_a_documented_docker_compose_command_names_exists() -> None:
    services = set(compose()["services"])
    commands = compose_commands()
    assert len(commands) >= 5  # up, ps, exec, logs, the rolling restarts
    for words in commands:
        for name in services_named(words):
            if name == "$s":  # a loop's variable: the loop's list is checked below
                continue
            assert name in services, f"the README runs `{shlex.join(words)}` on {name!r}, which compose.yaml lacks"
    loops = re.findall(r"^for s in ([a-z0-9 -]+); do$", scale_out_docs(), flags=re.MULTILINE)
    assert loops, "the README's rolling restarts are loops over services"
    for loop in loops:
        assert set(loop.split()) <= services, loop


def test_the_compose_file_names_every_service_the_readme_lists_and_no_other() -> None:
    listed, services = readme_services(), set(compose()["services"])
    assert {
        "load-balancer",
        "hub-1",
        "hub-2",
        "hub-3",
        "postgres",
        "seaweedfs",
        "dask-scheduler",
        "dask-worker-1",
        "dask-worker-2",
    } <= listed
    assert listed == services, (
        f"in the README only: {sorted(listed - services)}; in compose.yaml only: {sorted(services - listed)}"
    )


def test_three_hub_replicas_answer_the_load_balancer_and_their_health_checks_ask_ready() -> None:
    services = compose()["services"]
    replicas = hubs(services)
    assert sorted(replicas) == ["hub-1", "hub-2", "hub-3"]
    for name, service in replicas.items():
        assert READY in " ".join(service["healthcheck"]["test"]), name
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams is not None and upstreams.group(1).split() == [f"{name}:8000" for name in sorted(replicas)]
    assert re.search(rf"^\s*health_uri {READY}$", caddyfile, flags=re.MULTILINE)
    mounted = services["load-balancer"]["volumes"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in mounted
    assert set(services["load-balancer"]["depends_on"]) == set(replicas)


def test_every_image_is_built_from_the_repository_dockerfile_or_a_pinned_public_image() -> None:
    for name, service in compose()["services"].items():
        if "build" in service:
            assert (DEPLOY / service["build"]["context"]).resolve() == ROOT, name
            assert service["build"]["dockerfile"] == "Dockerfile" and (ROOT / "Dockerfile").is_file()
            assert service["image"] == HUB_IMAGE, name
        else:
            assert pinned(service["image"]), f"{name}: {service['image']} is not a pinned image"


def test_every_replica_and_worker_gets_the_same_shared_settings_and_only_settings_the_hub_reads() -> None:
    services = compose()["services"]
    runs_hub_code = {n: s for n, s in services.items() if "HEADWATER_DATABASE_URL" in (s.get("environment") or {})}
    assert set(runs_hub_code) == {"hub-1", "hub-2", "hub-3", "dask-worker-1", "dask-worker-2"}
    known = settings_read() | STORAGE
    first = next(iter(runs_hub_code.values()))["environment"]
    for name, service in runs_hub_code.items():
        environment = service["environment"]
        assert set(environment) >= SHARED, f"{name} lacks {sorted(SHARED - set(environment))}"
        assert all(environment[key] == first[key] for key in SHARED), name
        unknown = {key for key in environment if key.startswith("HEADWATER_")} - known
        assert not unknown, f"{name} sets variables the hub does not read: {sorted(unknown)}"
    assert first["HEADWATER_STORAGE_URL"].startswith("s3://")
    assert first["HEADWATER_DASK_SCHEDULER"] == "tls://dask-scheduler:8786"
    for worker in ("dask-worker-1", "dask-worker-2"):
        assert services[worker]["command"][:3] == ["dask", "worker", first["HEADWATER_DASK_SCHEDULER"]]
    assert services["dask-scheduler"]["command"][:4] == ["dask", "scheduler", "--protocol", "tls"]


def test_secrets_come_from_the_environment_never_from_the_compose_file() -> None:
    environment = compose()["services"]["hub-1"]["environment"]
    for key in ("HEADWATER_MASTER_KEY", "HEADWATER_BOOTSTRAP_TOKEN", "HEADWATER_STORAGE_SECRET_ACCESS_KEY"):
        assert re.fullmatch(r"\$\{" + key + r":\?[^}]*\}", environment[key]), key
    assert "${HEADWATER_DB_PASSWORD:?" in environment["HEADWATER_DATABASE_URL"]


def test_the_sandbox_override_names_only_services_of_the_compose_file() -> None:
    override = compose("compose.sandbox.yaml")["services"]
    services = compose()["services"]
    assert set(override) == set(hubs(services)) | {"dask-worker-1", "dask-worker-2"}
    assert all(service["user"] == "0:0" for service in override.values())


def test_the_routes_the_health_checks_ask_exist(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"HEADWATER_DATA_DIR": str(tmp_path)}))
    assert {READY, LIVE, "/healthz"} <= set(app.openapi()["paths"])


# -- the image -----------------------------------------------------------------------------------------


def test_the_dockerfile_builds_on_python_slim_with_bubblewrap_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    assert "bubblewrap" in dockerfile
    assert re.search(r"^USER headwater$", dockerfile, flags=re.MULTILINE)
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not ignored & {"headwater", "pyproject.toml", "README.md"}  # what the image is built from
    assert {".git", "tests"} <= ignored


# -- Kubernetes ----------------------------------------------------------------------------------------


def test_the_kubernetes_deployment_runs_three_replicas_probed_live_and_ready() -> None:
    documents = kubernetes_documents()
    (deployment,) = of_kind(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == READY
    assert container["livenessProbe"]["httpGet"]["path"] == LIVE
    assert container["startupProbe"]["httpGet"]["path"] == LIVE
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    assert container["image"] == image["name"] == "headwater" and f"headwater:{image['newTag']}" == HUB_IMAGE
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (service,) = of_kind(documents, "Service")
    assert service["spec"]["selector"].items() <= labels.items()


def test_the_kubernetes_settings_are_a_config_map_and_a_secret_holding_the_master_key() -> None:
    documents = kubernetes_documents()
    (config_map,), (secret,) = of_kind(documents, "ConfigMap"), of_kind(documents, "Secret")
    (deployment,) = of_kind(documents, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    referenced = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]}
    assert referenced == {config_map["metadata"]["name"], secret["metadata"]["name"]}
    given = set(config_map["data"]) | set(secret["stringData"])
    assert given >= SHARED
    assert {"HEADWATER_MASTER_KEY", "HEADWATER_DATABASE_URL", "HEADWATER_STORAGE_SECRET_ACCESS_KEY"} <= set(
        secret["stringData"]
    )
    assert not {key for key in given if key.startswith("HEADWATER_")} - settings_read() - STORAGE


def test_kubectl_renders_the_kustomization() -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    done = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    rendered = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert {doc["kind"] for doc in rendered} == {
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    }
    (deployment,) = of_kind(rendered, "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == HUB_IMAGE


def test_docker_compose_accepts_the_compose_files() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30, check=False).returncode != 0
    ):
        pytest.skip("docker compose is not installed")
    environment = {
        **os.environ,
        "HEADWATER_DB_PASSWORD": "p",
        "HEADWATER_MASTER_KEY": "k",
        "HEADWATER_BOOTSTRAP_TOKEN": "t",
        "HEADWATER_STORAGE_ACCESS_KEY_ID": "a",
        "HEADWATER_STORAGE_SECRET_ACCESS_KEY": "s",
    }
    done = subprocess.run(
        [
            docker,
            "compose",
            "-f",
            str(DEPLOY / "compose.yaml"),
            "-f",
            str(DEPLOY / "compose.sandbox.yaml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
