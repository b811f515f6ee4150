"""Two organizations on a real hub, furnished for the rights table: sources, secrets, a system, hosted data,
an upload, jobs, and a token for every kind of caller the rights model names.

Organization A holds everything: `S1` (a `local` folder made by its admin, read-write, bound to the secret
`used`), `S2` (a `synthetic` source), `P1` (a PostgreSQL source), a data system linking S1 and S2, a hosted
collection, a complete upload, a job inside S1 and a job outside it. Organization B has only its admin.
Objects a case changes or deletes are made fresh for that case (`fresh_*`), so every cell stands alone.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.databases import ScratchDatabase
from tests.fixtures.hub import RunningHub

FILE_TYPE = "type.googleapis.com/bytenite.data_source.LocalFileDataSource"
CALLERS = ("admin", "member", "read_only", "sources", "prefix", "expired", "orphan", "other_org")
NARROWED = ("read_only", "sources", "prefix")
TERMINAL = ("complete", "failed", "canceled")


@dataclass(frozen=True)
class Src:
    """A data source of organization A as the tests address it."""

    id: str
    protocol: str
    label: str

    @property
    def connection(self) -> str:
        return f"{self.protocol}+{self.label}"


def ok(response: httpx.Response, *codes: int) -> dict[str, Any]:
    """The JSON of a set-up response that must have succeeded."""
    assert response.status_code in (codes or (200, 201, 204)), (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return (
        response.json()
        if response.content and response.headers.get("content-type", "").startswith("application/json")
        else {}
    )


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    """Everything the table's requests point at, and the callers' tokens."""

    hub: RunningHub
    root: Path
    org: str
    other_org_name: str
    tokens: dict[str, str]
    token_ids: dict[str, str]
    s1: Src
    s2: Src
    p1: Src
    f1: Src
    system_id: str
    upload_id: str
    job_in: str
    job_out: str
    upload_job: str
    #: Placeholders instead of fresh objects: for callers that must be refused before any lookup (401).
    dry: bool = False
    #: Access keys issued by the admin's and the member's own tokens (for the keys a listing must hide).
    access_keys: dict[str, str] = field(default_factory=dict)
    _focused: dict[tuple[str, str, str], str] = field(default_factory=dict)

    # -- clients and tokens ------------------------------------------------------------------

    def client(self, token: str | None) -> httpx.Client:
        return self.hub.client(token)

    def admin(self) -> httpx.Client:
        return self.client(self.tokens["admin"])

    def member(self) -> httpx.Client:
        return self.client(self.tokens["member"])

    def token(self, caller: str, focus: Src | None = None, prefix_path: str = "team/") -> str:
        """The caller's token; a `sources`/`prefix` caller focused on another source gets a token narrowed to it."""
        if focus is None or (focus == self.s1 and prefix_path == "team/") or caller not in ("sources", "prefix"):
            return self.tokens[caller]
        key = (caller, focus.id, prefix_path)
        if key not in self._focused:
            body = (
                {"sourceIds": [focus.id]}
                if caller == "sources"
                else {"pathPrefix": f"{focus.connection}://{prefix_path}"}
            )
            with self.member() as member:
                self._focused[key] = ok(member.post("/v1/tokens", json=body))["token"]
        return self._focused[key]

    def org_of(self, caller: str) -> str:
        return self.other_org_name if caller == "other_org" else self.org

    # -- fresh objects, one per case ---------------------------------------------------------

    def placeholders(self) -> World:
        """This world, its fresh objects replaced by ids that exist nowhere (for cells that must answer 401)."""
        return replace(self, dry=True)

    def _nothing(self) -> str:
        return str(uuid.uuid4())

    def fresh_local(self, access: str = "read-write") -> Src:
        if self.dry:
            return Src(self._nothing(), "local", "nothing")
        folder = self.root / unique("fresh")
        (folder / "team").mkdir(parents=True)
        (folder / "team" / "a.txt").write_bytes(b"a")
        label = unique("loc")
        with self.admin() as admin:
            made = ok(
                admin.post(
                    "/v1/sources",
                    json={"protocol": "local", "label": label, "params": {"path": str(folder)}, "access": access},
                )
            )
        return Src(made["id"], "local", label)

    def fresh_synthetic(self) -> Src:
        if self.dry:
            return Src(self._nothing(), "synthetic", "nothing")
        label = unique("syn")
        with self.admin() as admin:
            made = ok(admin.post("/v1/sources", json={"protocol": "synthetic", "label": label}))
        return Src(made["id"], "synthetic", label)

    def fresh_secret(self) -> str:
        if self.dry:
            return "no-such-secret"
        secret_id = unique("fresh-secret")
        with self.admin() as admin:
            ok(admin.post("/v1/secrets", json={"id": secret_id, "secretType": "generic", "values": {"K": "v"}}))
        return secret_id

    def fresh_system(self, linked: Src | None = None) -> str:
        if self.dry:
            return self._nothing()
        with self.admin() as admin:
            system = ok(admin.post("/v1/systems", json={"name": unique("system")}))["id"]
            if linked is not None:
                ok(admin.put(f"/v1/systems/{system}/sources/{linked.id}"))
        return str(system)

    def fresh_open_upload(self, with_part: bool = True) -> str:
        if self.dry:
            return uuid.uuid4().hex
        with self.admin() as admin:
            upload = ok(admin.post("/v1/uploads", json={"filename": "part.txt"}))["uploadId"]
            if with_part:
                ok(admin.put(f"/v1/uploads/{upload}/parts/1", content=b"part one"))
        return str(upload)

    def fresh_job(self, inside: bool = True) -> str:
        """A new job: inside S1's `team/` folder (what the narrowed callers may reach), or S2 → hosted data."""
        if self.dry:
            return self._nothing()
        if inside:
            body = {
                "source": f"{self.s1.connection}://team/in/*.csv",
                "destination": f"{self.s1.connection}://team/{unique('out')}/",
            }
        else:
            body = {
                "source": f"{self.s2.connection}://people.csv",
                "destination": f"data://{self.org}/{unique('jobs')}/",
            }
        with self.admin() as admin:
            return str(ok(admin.post("/v1/jobs", json=body))["id"])

    def fresh_member_token(self) -> tuple[str, str]:
        """A token of the member's user made by the store: its id and value."""
        if self.dry:
            return self._nothing(), ""
        value = self.hub.token(org=self.org, user="mia", admin=False)
        with self.client(value) as client:
            return ok(client.get("/v1/me"))["tokenId"], value

    def fresh_admin_token(self) -> str:
        """The id of an admin's token."""
        if self.dry:
            return self._nothing()
        with self.admin() as admin:
            return str(ok(admin.post("/v1/tokens", json={"name": unique("adm")}))["id"])

    def child_of(self, caller: str) -> str:
        """The id of a token the caller issued itself (falls back to a store-made one where it cannot issue)."""
        if caller in ("expired", "orphan", "other_org"):
            return self.fresh_member_token()[0]
        body: dict[str, Any] = {"name": unique("child")}
        if caller == "read_only":
            body["readOnly"] = True
        if caller == "sources":
            body["sourceIds"] = [self.s1.id]
        if caller == "prefix":
            body["pathPrefix"] = f"{self.s1.connection}://team/"
        with self.client(self.tokens[caller]) as client:
            return str(ok(client.post("/v1/tokens", json=body))["id"])

    def fresh_access_key(self, caller: str) -> str:
        """The id of an access key the caller issued itself (for callers that cannot: one of the member's user)."""
        if self.dry:
            return "HW" + "A" * 18
        token = self.fresh_member_token()[1] if caller in ("expired", "orphan", "other_org") else self.tokens[caller]
        with self.client(token) as client:
            return str(ok(client.post("/v1/access-keys", json={"name": unique("key")}))["accessKeyId"])

    def fresh_hosted_file(self) -> str:
        if self.dry:
            return f"{self.org}/shared/no-such-file.txt"
        path = f"{self.org}/shared/{unique('f')}.txt"
        with self.admin() as admin:
            ok(admin.put(f"/v1/data/{path}", content=b"hosted"))
        return path

    def fresh_s1_file(self) -> str:
        if self.dry:
            return "team/no-such-file.txt"
        name = f"team/{unique('f')}.txt"
        (self.root / "s1" / name).write_bytes(b"s1 file")
        return name


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = ok(client.get(f"/v1/jobs/{job_id}"))
        if job["state"] in TERMINAL and job["settledAt"]:
            return job
        assert time.monotonic() < deadline, f"job {job_id} is still {job['state']}"
        time.sleep(0.05)


def build(hub: RunningHub, root: Path, pg: ScratchDatabase) -> World:
    """Furnish organization A (and B's admin) through the HTTP API, as their users would."""
    org, other = unique("rights-a"), unique("rights-b")
    tokens = {
        "admin": hub.token(org=org, user="root", admin=True),
        "member": hub.token(org=org, user="mia", admin=False),
        "other_org": hub.token(org=other, user="bob", admin=True),
    }
    past = datetime.now(UTC) - timedelta(minutes=5)
    tokens["expired"] = hub.token(org=org, user="mia", admin=False, expires_at=past)
    s1_dir = root / "s1"
    for name in ("team/in", "other"):
        (s1_dir / name).mkdir(parents=True)
    for i in range(2):
        (s1_dir / "team" / "in" / f"{i}.csv").write_text(f"a,b\n{i},{i}\n")
    (s1_dir / "other" / "x.csv").write_text("a\n1\n")
    with hub.client(tokens["admin"]) as admin:
        ok(admin.post("/v1/secrets", json={"id": "used", "secretType": "generic", "values": {"USED": "used-value"}}))
        ok(
            admin.post(
                "/v1/secrets", json={"id": "unused", "secretType": "generic", "values": {"UNUSED": "unused-value"}}
            )
        )
        ok(
            admin.post(
                "/v1/secrets",
                json={"id": "db", "secretType": "database", "accessKey": pg.user, "secretKey": pg.password},
            )
        )
        s1 = ok(
            admin.post(
                "/v1/sources",
                json={
                    "protocol": "local",
                    "label": "pub",
                    "params": {"path": str(s1_dir)},
                    "access": "read-write",
                    "secretId": "used",
                },
            )
        )
        s2 = ok(admin.post("/v1/sources", json={"protocol": "synthetic", "label": "syn"}))
        p1 = ok(
            admin.post(
                "/v1/sources",
                json={
                    "protocol": "postgres",
                    "label": "pg",
                    "params": {"host": pg.host, "port": pg.port, "database": pg.name},
                    "secretId": "db",
                },
            )
        )
        system = ok(admin.post("/v1/systems", json={"name": "linked-system"}))["id"]
        for source in (s1, s2):
            ok(admin.put(f"/v1/systems/{system}/sources/{source['id']}"))
        ok(admin.put(f"/v1/data/{org}/shared/hello.txt", content=b"hello"))
        upload = ok(admin.put("/v1/uploads/report.csv", content=b"id\n1\n"))
        job_in = ok(
            admin.post(
                "/v1/jobs",
                json={"source": "local+pub://team/in/*.csv", "destination": "local+pub://team/out/", "run": True},
            )
        )["id"]
        job_out = ok(
            admin.post(
                "/v1/jobs",
                json={"source": "synthetic+syn://people.csv", "destination": f"data://{org}/jobs/", "run": True},
            )
        )["id"]
        for job in (job_in, job_out):
            assert wait_for_job(admin, job)["state"] == "complete"
        upload_job = ok(
            admin.post(
                "/v1/customer/jobs",
                json={
                    "dataSource": {"dataSourceDescriptor": "file", "params": {"@type": FILE_TYPE}},
                    "dataDestination": {"dataSourceDescriptor": "bucket"},
                },
            )
        )["job"]
        ok(httpx.put(upload_job["dataSource"]["params"]["tempUrl"], content=b"uploaded input"))
    with hub.client(tokens["member"]) as member:
        tokens["read_only"] = ok(member.post("/v1/tokens", json={"readOnly": True}))["token"]
        tokens["sources"] = ok(member.post("/v1/tokens", json={"sourceIds": [s1["id"]]}))["token"]
        tokens["prefix"] = ok(member.post("/v1/tokens", json={"pathPrefix": "local+pub://team/"}))["token"]
    parent = hub.token(org=org, user="mia", admin=False)
    with hub.client(parent) as client:
        parent_id = ok(client.get("/v1/me"))["tokenId"]
        tokens["orphan"] = ok(client.post("/v1/tokens", json={"name": "orphan"}))["token"]
    with hub.client(tokens["admin"]) as admin:
        ok(admin.delete(f"/v1/tokens/{parent_id}"))
    token_ids: dict[str, str] = {}
    for caller in ("admin", "member", "read_only", "sources", "prefix", "other_org"):
        with hub.client(tokens[caller]) as client:
            token_ids[caller] = ok(client.get("/v1/me"))["tokenId"]
    keys: dict[str, str] = {}
    for caller in ("admin", "member"):
        with hub.client(tokens[caller]) as client:
            keys[caller] = ok(client.post("/v1/access-keys", json={"name": caller}))["accessKeyId"]
    file_source = upload["source"]
    return World(
        hub=hub,
        root=root,
        org=org,
        other_org_name=other,
        tokens=tokens,
        token_ids=token_ids,
        s1=Src(s1["id"], "local", "pub"),
        s2=Src(s2["id"], "synthetic", "syn"),
        p1=Src(p1["id"], "postgres", "pg"),
        f1=Src(file_source["id"], "file", file_source["label"]),
        system_id=system,
        upload_id=upload["uploadId"],
        job_in=job_in,
        job_out=job_out,
        upload_job=upload_job["id"],
        access_keys=keys,
    )
