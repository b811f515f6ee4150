"""Every route of the OpenAPI schema, called by every kind of caller, answers as ONE rights table says.

The table (`TABLE`) is keyed by (METHOD, path template) exactly as the schema names the route; each row holds
one or more cases (a target, a well-formed request) with the outcome expected for each caller: "ok" (2xx), a
status, or a set of statuses where the rights model allows either refusal. Expired tokens and children of a
revoked parent are 401 on every authenticated route. A route in the schema that is missing from the table fails
`test_every_route_of_the_schema_is_in_the_rights_table`: a new route joins the table or the suite is red.
Compat routes (ByteNite, Foundation) carry the rights of their native equivalents; only status codes are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from headwater.services.jobs import driver
from tests.fixtures.databases import ScratchDatabase
from tests.fixtures.hub import RunningHub
from tests.security.rights_world import CALLERS, FILE_TYPE, Src, World, build, ok, unique
from tests.services.jobs.helpers import THREADS

Outcome = str | int | frozenset[int]
NO: frozenset[int] = frozenset({403, 404})  # refused or invisible: the model allows either here
ANY = "any"  # the caller's own organization; any answer but a 5xx or a 401


@dataclass
class Req:
    """One request of a case; `focus` re-narrows the sources/prefix callers to that source (for fresh targets)."""

    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None
    focus: Src | None = None
    prefix_path: str = "team/"


Builder = Callable[[World, str], Req]
Hidden = Callable[[World], list[str]]


@dataclass
class Case:
    target: str
    build: Builder
    expect: dict[str, Outcome]
    hidden: dict[str, Hidden] = field(default_factory=dict)


def E(
    admin: Outcome = "ok",
    member: Outcome = "ok",
    read_only: Outcome = "ok",
    sources: Outcome = "ok",
    prefix: Outcome = "ok",
    other_org: Outcome = 404,
) -> dict[str, Outcome]:
    """Expected outcomes; expired tokens and orphans are always 401."""
    return {
        "admin": admin,
        "member": member,
        "read_only": read_only,
        "sources": sources,
        "prefix": prefix,
        "expired": 401,
        "orphan": 401,
        "other_org": other_org,
    }


#: Everyone in A may; B sees its own (empty) world.
EVERYONE = E(other_org="ok")
#: A thing inside S1's `team/` folder: everyone in A; B gets 404.
VISIBLE = E()
#: A thing outside the narrowed callers' reach.
OUTSIDE = E(sources=404, prefix=404)
#: Configuration changes: admins and members; never a narrowed token.
MANAGE = E(read_only=403, sources=403, prefix=403)
#: Creating configuration: lands in B for B's admin.
CREATE = E(read_only=403, sources=403, prefix=403, other_org="ok")
#: A change on a target the sources/prefix callers cannot see.
MANAGE_OUTSIDE = E(read_only=403, sources=404, prefix=404)
#: A change to a source of an admin-only kind.
ADMIN_ONLY = E(member=403, read_only=403, sources=403, prefix=403)
#: Data work inside S1's team/ folder (writes): narrowed by data, not refused; read-only refused.
WRITE_IN = E(read_only=403)


def hide(*names: str) -> Hidden:
    """Strings a narrowed caller must not see in the answer, read from the world's attributes."""

    def found(w: World) -> list[str]:
        values = []
        for name in names:
            value = getattr(w, name)
            values.append(value.id if isinstance(value, Src) else value)
        return values

    return found


def hide_token(*callers: str) -> Hidden:
    return lambda w: [w.token_ids[c] for c in callers]


NARROW_HIDE_SOURCES = {c: hide("s2", "p1", "f1", "upload_id") for c in ("sources", "prefix")}
NARROW_HIDE_JOBS = {c: hide("job_out", "upload_job") for c in ("sources", "prefix")}


# -- request builders ----------------------------------------------------------------------------------


def at(path: str, **kw: Any) -> Builder:
    """A fixed request; `{org}`, `{s1}`, `{s2}`, ... are filled from the world."""

    def make(w: World, caller: str) -> Req:
        values = {
            "org": w.org,
            "s1": w.s1.id,
            "s2": w.s2.id,
            "p1": w.p1.id,
            "f1": w.f1.id,
            "system": w.system_id,
            "upload": w.upload_id,
            "job_in": w.job_in,
            "job_out": w.job_out,
            "upload_job": w.upload_job,
            "s1c": w.s1.connection,
            "s2c": w.s2.connection,
            "p1c": w.p1.connection,
            "u": unique("n"),
        }
        fields = dict(kw)
        if isinstance(fields.get("json"), dict):
            fields["json"] = {k: v.format(**values) if isinstance(v, str) else v for k, v in fields["json"].items()}
        return Req(path.format(**values), **fields)

    return make


def fresh_source(kind: str, template: str, focus: bool = True, **kw: Any) -> Builder:
    """A request on a source made for this case alone; the narrowed callers are narrowed to it when `focus`."""

    def make(w: World, caller: str) -> Req:
        source = w.fresh_local() if kind == "local" else w.fresh_synthetic()
        return Req(template.format(id=source.id), focus=source if focus else None, **kw)

    return make


def focused(source: str, template: str, prefix_path: str = "team/", **kw: Any) -> Builder:
    """A request on a shared source the narrowed callers are narrowed to (`p1`, `f1`)."""

    def make(w: World, caller: str) -> Req:
        target: Src = getattr(w, source)
        return Req(template.format(id=target.id, c=target.connection), focus=target, prefix_path=prefix_path, **kw)

    return make


def fresh(maker: Callable[[World], str], template: str, **kw: Any) -> Builder:
    def make(w: World, caller: str) -> Req:
        return Req(template.format(id=maker(w)), **kw)

    return make


def fresh_json(maker: Callable[[World], str], template: str, body: Callable[[World], Any]) -> Builder:
    def make(w: World, caller: str) -> Req:
        return Req(template.format(id=maker(w)), json=body(w))

    return make


def linked_system(w: World) -> str:
    return w.fresh_system(linked=w.s1)


def job_in(w: World) -> str:
    return w.fresh_job(inside=True)


def job_out(w: World) -> str:
    return w.fresh_job(inside=False)


def new_local_body(w: World) -> dict[str, Any]:
    folder = w.root / unique("created")
    folder.mkdir()
    return {"protocol": "local", "label": unique("made"), "params": {"path": str(folder)}}


def creating(path: str, body: Callable[[World], Any]) -> Builder:
    return lambda w, caller: Req(path, json=body(w))


def child_token(w: World, caller: str) -> Req:
    return Req(f"/v1/tokens/{w.child_of(caller)}")


def member_token(w: World, caller: str) -> Req:
    return Req(f"/v1/tokens/{w.fresh_member_token()[0]}")


def admin_token(w: World, caller: str) -> Req:
    return Req(f"/v1/tokens/{w.fresh_admin_token()}")


def own_access_key(w: World, caller: str) -> Req:
    return Req(f"/v1/access-keys/{w.fresh_access_key(caller)}")


def member_access_key(w: World, caller: str) -> Req:
    return Req(f"/v1/access-keys/{w.fresh_access_key('member')}")


def admin_access_key(w: World, caller: str) -> Req:
    return Req(f"/v1/access-keys/{w.fresh_access_key('admin')}")


def hide_keys(*callers: str) -> Hidden:
    return lambda w: [w.access_keys[c] for c in callers]


def upload_behind_its_source(w: World, caller: str) -> Req:
    """The complete upload, the narrowed callers narrowed to its own `file` source."""
    return Req(f"/v1/uploads/{w.upload_id}", focus=w.f1, prefix_path="")


BYPASS = {"dataSource": {"dataSourceDescriptor": "bypass"}}
OBJECTS_JOB = {"dataSource": {"dataSourceDescriptor": "bypass"}, "dataDestination": {"dataSourceDescriptor": "bucket"}}
NATIVE_OBJECTS_JOB = {"source": {"dataSourceDescriptor": "bypass"}, "destination": {"dataSourceDescriptor": "bucket"}}


def foundation_source(w: World) -> dict[str, Any]:
    return {
        "entity": {
            "name": "Rights source",
            "entity_type": "origin",
            "label": "RT",
            "description": "made by the rights table",
        },
        "connection": {"connection_type": "synthetic"},
    }


def foundation_system(w: World) -> dict[str, Any]:
    return {
        "entity": {
            "name": unique("Rights system"),
            "entity_type": "data_system",
            "label": "RTS",
            "description": "x",
            "owner_person": {"email": "o@example.com", "full_name": "O"},
        }
    }


FOUNDATION_ENTITY = {
    "entity": {"name": "Renamed source", "entity_type": "origin", "label": "RN", "description": "renamed"}
}
FOUNDATION_INFO = {"owner": "o@example.com", "contact_ids": ["c"], "links": ["example.com"]}
FOUNDATION_SYNTHETIC = {"connection": {"connection_type": "synthetic"}}
FOUNDATION_SECRETS = {"MY_KEY": "my-value"}


def foundation_source_cases(method: str, path: str, body: Any = None) -> list[Case]:
    """A Foundation change of a data source: the rights of PATCH /v1/sources/{id}."""
    query = path + "?identifier={id}"
    return [
        Case("fresh local (narrowed to it)", fresh_source("local", query, json=body), ADMIN_ONLY),
        Case("fresh synthetic (narrowed to it)", fresh_source("synthetic", query, json=body), MANAGE),
        Case("fresh synthetic (not theirs)", fresh_source("synthetic", query, focus=False, json=body), MANAGE_OUTSIDE),
    ]


def foundation_read_cases(path: str) -> list[Case]:
    return [Case("S1", at(path + "?identifier={s1}"), VISIBLE), Case("S2", at(path + "?identifier={s2}"), OUTSIDE)]


def fresh_template(w: World) -> str:
    """A template of organization A made for this case alone (job templates are configuration)."""
    if w.dry:
        return "no-such-template"
    template_id = unique("tpl")
    with w.admin() as admin:
        ok(admin.post("/v1/templates", json={"id": template_id, "app": "copy"}))
    return template_id


def template_rows(create: str, collection: str, one: str) -> dict[tuple[str, str], list[Case]]:
    """Templates: everyone in the organization lists and reads them; creating and deleting is configuring."""
    return {
        ("POST", create): [Case("new", lambda w, c: Req(create, json={"id": unique("tpl"), "app": "copy"}), CREATE)],
        ("GET", collection): [Case("list", at(collection), EVERYONE)],
        ("GET", one): [
            Case("fresh own template", fresh(fresh_template, one.replace("{template_id}", "{id}")), VISIBLE),
            Case("built-in template", at(one.replace("{template_id}", "convert")), EVERYONE),
        ],
        ("DELETE", one): [
            Case("fresh own template", fresh(fresh_template, one.replace("{template_id}", "{id}")), MANAGE)
        ],
    }


def bytenite_job_rows(base: str) -> dict[tuple[str, str], list[Case]]:
    """ByteNite's job routes carry the rights of `/v1/jobs` (a dataSource object: the rights of ad-hoc objects)."""
    return {
        ("POST", f"{base}/jobs"): [
            Case("dataSource objects", lambda w, c: Req(f"{base}/jobs", json=OBJECTS_JOB), CREATE)
        ],
        ("GET", f"{base}/jobs"): [Case("list", at(f"{base}/jobs"), EVERYONE, NARROW_HIDE_JOBS)],
        ("GET", f"{base}/jobs/{{jobId}}"): [
            Case("job in S1", at(f"{base}/jobs/{{job_in}}"), VISIBLE),
            Case("job outside", at(f"{base}/jobs/{{job_out}}"), OUTSIDE),
        ],
        ("DELETE", f"{base}/jobs/{{jobId}}"): [
            Case("fresh job in S1", fresh(job_in, f"{base}/jobs/{{id}}"), WRITE_IN),
            Case("fresh job outside", fresh(job_out, f"{base}/jobs/{{id}}"), MANAGE_OUTSIDE),
        ],
        ("PATCH", f"{base}/jobs/{{jobId}}/datasource"): [
            Case(
                "fresh job in S1",
                fresh(
                    job_in,
                    f"{base}/jobs/{{id}}/datasource",
                    json={"dataDestination": {"dataSourceDescriptor": "bucket"}},
                ),
                MANAGE,
            ),
            Case(
                "fresh job outside",
                fresh(
                    job_out,
                    f"{base}/jobs/{{id}}/datasource",
                    json={"dataDestination": {"dataSourceDescriptor": "bucket"}},
                ),
                MANAGE_OUTSIDE,
            ),
        ],
        ("POST", f"{base}/jobs/{{jobId}}/run"): [
            Case("fresh job in S1", fresh(job_in, f"{base}/jobs/{{id}}/run", json={}), WRITE_IN),
            Case("fresh job outside", fresh(job_out, f"{base}/jobs/{{id}}/run", json={}), MANAGE_OUTSIDE),
        ],
        ("POST", f"{base}/jobs/{{jobId}}/abort"): [
            Case("fresh job in S1", fresh(job_in, f"{base}/jobs/{{id}}/abort"), WRITE_IN),
            Case("fresh job outside", fresh(job_out, f"{base}/jobs/{{id}}/abort"), MANAGE_OUTSIDE),
        ],
        ("GET", f"{base}/jobs/{{jobId}}/results"): [
            Case("complete job in S1", at(f"{base}/jobs/{{job_in}}/results"), VISIBLE),
            Case("complete job outside", at(f"{base}/jobs/{{job_out}}/results"), OUTSIDE),
        ],
        ("POST", f"{base}/jobs/uploadcompleted/{{jobId}}"): [
            Case("upload job", at(f"{base}/jobs/uploadcompleted/{{upload_job}}", json={}), MANAGE_OUTSIDE)
        ],
        ("PATCH", f"{base}/jobs/{{jobId}}/uploadcompleted"): [
            Case("upload job", at(f"{base}/jobs/{{upload_job}}/uploadcompleted"), MANAGE_OUTSIDE)
        ],
        ("GET", f"{base}/jobs/templates"): [Case("list", at(f"{base}/jobs/templates"), EVERYONE)],
        ("POST", f"{base}/datasource/test"): [
            Case("bypass object", at(f"{base}/datasource/test", json=BYPASS), CREATE)
        ],
        ("POST", f"{base}/jobs/datasource/info"): [
            Case("bypass object", at(f"{base}/jobs/datasource/info", json=BYPASS), CREATE)
        ],
    }


def connector_rows(route: str) -> dict[tuple[str, str], list[Case]]:
    """The Data API on S1 (`local+pub`, read-write) and S2: narrowed by data, refused to read-only for writes."""
    s1, s2 = "/v1/connector/{s1c}/", "/v1/connector/{s2c}/"
    return {
        ("GET", route): [
            Case("S1 team file", at(s1 + "team/in/0.csv"), VISIBLE),
            Case("S1 outside the prefix", at(s1 + "other/x.csv"), E(prefix=403)),
            Case("S2 file", at(s2 + "people.csv"), E(sources=404, prefix=NO)),
        ],
        ("HEAD", route): [
            Case("S1 team file", at(s1 + "team/in/0.csv"), VISIBLE),
            Case("S1 outside the prefix", at(s1 + "other/x.csv"), E(prefix=403)),
        ],
        ("PUT", route): [
            Case("S1 team new file", at(s1 + "team/{u}.txt", content=b"new"), WRITE_IN),
            Case("S1 outside the prefix", at(s1 + "other/{u}.txt", content=b"new"), E(read_only=403, prefix=403)),
        ],
        ("POST", route): [Case("S1 team mkdir", at(s1 + "team/", json={"name": "{u}"}), WRITE_IN)],
        ("DELETE", route): [
            Case(
                "S1 team fresh file", lambda w, c: Req(f"/v1/connector/{w.s1.connection}/{w.fresh_s1_file()}"), WRITE_IN
            )
        ],
        # ACLs belong to hosted collections: on a connection every caller the rights let through gets 400.
        ("PATCH", route): [
            Case(
                "S1 team acl",
                at(s1 + "team/", json={"acl": {"read": []}}),
                E(admin=400, member=400, read_only=frozenset({400, 403}), sources=400, prefix=frozenset({400, 403})),
            )
        ],
    }


def hosted_rows(route: str) -> dict[tuple[str, str], list[Case]]:
    """Hosted data of organization A (named explicitly, so B's admin reaches nothing): no access for data-narrowed tokens."""
    hosted = "/v1/data/{org}/shared/"
    read = E(sources=403, prefix=403)
    return {
        ("GET", route): [
            Case("hosted file", at(hosted + "hello.txt"), read),
            Case("S1 team file through /v1/data", at("/v1/data/{s1c}://team/in/0.csv"), VISIBLE),
        ],
        ("HEAD", route): [Case("hosted file", at(hosted + "hello.txt"), read)],
        ("PUT", route): [Case("hosted new file", at(hosted + "{u}.txt", content=b"new"), MANAGE)],
        ("POST", route): [Case("hosted mkdir", at(hosted, json={"name": "{u}"}), MANAGE)],
        ("DELETE", route): [Case("hosted fresh file", lambda w, c: Req("/v1/data/" + w.fresh_hosted_file()), MANAGE)],
        ("PATCH", route): [
            Case("hosted collection acl", at("/v1/data/{org}/shared", json={"acl": {"read": ["algo://.my/*"]}}), MANAGE)
        ],
    }


TABLE: dict[tuple[str, str], list[Case]] = {
    # -- who am I, connectors ------------------------------------------------------------------------------
    ("GET", "/v1/me"): [Case("me", at("/v1/me"), EVERYONE)],
    ("GET", "/v1/connectors"): [Case("kinds", at("/v1/connectors"), EVERYONE)],
    ("GET", "/v1/connectors/{kind}"): [Case("local", at("/v1/connectors/local"), EVERYONE)],
    # -- audit ---------------------------------------------------------------------------------------------
    ("GET", "/v1/audit"): [
        Case(
            "page",
            at("/v1/audit", params={"limit": 1000}),
            EVERYONE,
            {
                "member": hide_token("admin"),
                **{c: hide_token("admin", "member") for c in ("read_only", "sources", "prefix")},
            },
        )
    ],
    ("GET", "/v1/audit/export"): [
        Case(
            "export",
            at("/v1/audit/export"),
            EVERYONE,
            {
                "member": hide_token("admin"),
                **{c: hide_token("admin", "member") for c in ("read_only", "sources", "prefix")},
            },
        )
    ],
    # -- tokens --------------------------------------------------------------------------------------------
    ("GET", "/v1/tokens"): [
        Case(
            "list",
            at("/v1/tokens"),
            EVERYONE,
            {
                "member": hide_token("admin"),
                **{c: hide_token("admin", "member") for c in ("read_only", "sources", "prefix")},
            },
        )
    ],
    ("POST", "/v1/tokens"): [
        Case(
            "child within every narrowing",
            lambda w, c: Req(
                "/v1/tokens",
                json={"readOnly": True, "sourceIds": [w.s1.id], "pathPrefix": f"{w.s1.connection}://team/sub/"},
            ),
            E(other_org=ANY),
        ),
        Case("un-narrowed child", at("/v1/tokens", json={"name": "plain"}), CREATE),
        Case(
            "admin token",
            at("/v1/tokens", json={"admin": True}),
            E(member=403, read_only=403, sources=403, prefix=403, other_org="ok"),
        ),
    ],
    ("DELETE", "/v1/tokens/{token_id}"): [
        Case("its own child", child_token, VISIBLE),
        Case("another token of the member's user", member_token, E(read_only=404, sources=404, prefix=404)),
        Case("an admin's token", admin_token, E(member=404, read_only=404, sources=404, prefix=404)),
    ],
    # -- S3 access keys: the rights of tokens (a key is a child token) --------------------------------------
    ("GET", "/v1/access-keys"): [
        Case(
            "list",
            at("/v1/access-keys"),
            EVERYONE,
            {
                "member": hide_keys("admin"),
                **{c: hide_keys("admin", "member") for c in ("read_only", "sources", "prefix")},
            },
        )
    ],
    ("POST", "/v1/access-keys"): [
        Case("inheriting the caller's narrowing", at("/v1/access-keys", json={"name": "k"}), EVERYONE),
        Case(
            "within every narrowing",
            lambda w, c: Req(
                "/v1/access-keys",
                json={"readOnly": True, "sourceIds": [w.s1.id], "pathPrefix": f"{w.s1.connection}://team/sub/"},
            ),
            E(other_org=ANY),
        ),
        Case(
            "sources beyond the caller's",
            lambda w, c: Req("/v1/access-keys", json={"sourceIds": [w.s2.id]}),
            E(sources=403, other_org=ANY),
        ),
    ],
    ("DELETE", "/v1/access-keys/{key_id}"): [
        Case("its own key", own_access_key, VISIBLE),
        Case("a key of the member's user", member_access_key, E(read_only=404, sources=404, prefix=404)),
        Case("an admin's key", admin_access_key, E(member=404, read_only=404, sources=404, prefix=404)),
    ],
    # -- secrets -------------------------------------------------------------------------------------------
    ("POST", "/v1/secrets"): [
        Case(
            "new",
            lambda w, c: Req("/v1/secrets", json={"id": unique("s"), "secretType": "generic", "values": {"K": "v"}}),
            CREATE,
        )
    ],
    ("GET", "/v1/secrets"): [
        Case("list", at("/v1/secrets"), EVERYONE, {c: lambda w: ['"unused"', '"db"'] for c in ("sources", "prefix")})
    ],
    ("GET", "/v1/secrets/{secret_id}"): [
        Case("used by S1", at("/v1/secrets/used"), VISIBLE),
        Case("unused", at("/v1/secrets/unused"), OUTSIDE),
    ],
    ("PUT", "/v1/secrets/{secret_id}"): [
        Case("used by S1", at("/v1/secrets/used", json={"name": "used by S1"}), MANAGE),
        Case(
            "fresh unused",
            fresh(lambda w: w.fresh_secret(), "/v1/secrets/{id}", json={"name": "x"}),
            E(read_only=403, sources=NO, prefix=NO),
        ),
    ],
    ("PATCH", "/v1/secrets/{secret_id}"): [
        Case("used by S1", at("/v1/secrets/used", json={"name": "used by S1"}), MANAGE),
        Case(
            "fresh unused",
            fresh(lambda w: w.fresh_secret(), "/v1/secrets/{id}", json={"name": "x"}),
            E(read_only=403, sources=NO, prefix=NO),
        ),
    ],
    ("DELETE", "/v1/secrets/{secret_id}"): [
        Case(
            "used by S1 (in use: 409 for those who may)",
            at("/v1/secrets/used"),
            E(admin=409, member=409, read_only=403, sources=403, prefix=403),
        ),
        Case(
            "fresh unused",
            fresh(lambda w: w.fresh_secret(), "/v1/secrets/{id}"),
            E(read_only=403, sources=NO, prefix=NO),
        ),
    ],
    # -- sources -------------------------------------------------------------------------------------------
    ("POST", "/v1/sources"): [
        Case(
            "synthetic",
            lambda w, c: Req("/v1/sources", json={"protocol": "synthetic", "label": unique("made")}),
            CREATE,
        ),
        Case(
            "local (admin-only kind)",
            lambda w, c: Req("/v1/sources", json=new_local_body(w)),
            E(member=403, read_only=403, sources=403, prefix=403, other_org="ok"),
        ),
    ],
    ("GET", "/v1/sources"): [Case("list", at("/v1/sources"), EVERYONE, NARROW_HIDE_SOURCES)],
    ("GET", "/v1/sources/{source_id}"): [
        Case("S1", at("/v1/sources/{s1}"), VISIBLE),
        Case("S2", at("/v1/sources/{s2}"), OUTSIDE),
        Case("upload's file source", at("/v1/sources/{f1}"), OUTSIDE),
    ],
    ("PATCH", "/v1/sources/{source_id}"): [
        Case(
            "fresh local (narrowed to it)",
            fresh_source("local", "/v1/sources/{id}", json={"description": "changed"}),
            ADMIN_ONLY,
        ),
        Case(
            "fresh synthetic (narrowed to it)",
            fresh_source("synthetic", "/v1/sources/{id}", json={"description": "changed"}),
            MANAGE,
        ),
        Case(
            "fresh synthetic (not theirs)",
            fresh_source("synthetic", "/v1/sources/{id}", focus=False, json={"description": "changed"}),
            MANAGE_OUTSIDE,
        ),
    ],
    ("DELETE", "/v1/sources/{source_id}"): [
        Case("fresh local (narrowed to it)", fresh_source("local", "/v1/sources/{id}"), ADMIN_ONLY),
        Case("fresh synthetic (narrowed to it)", fresh_source("synthetic", "/v1/sources/{id}"), MANAGE),
        Case(
            "fresh synthetic (not theirs)", fresh_source("synthetic", "/v1/sources/{id}", focus=False), MANAGE_OUTSIDE
        ),
    ],
    ("POST", "/v1/sources/{source_id}/test"): [
        Case("S1", at("/v1/sources/{s1}/test"), E(read_only=403)),
        Case("S2", at("/v1/sources/{s2}/test"), MANAGE_OUTSIDE),
    ],
    # -- systems -------------------------------------------------------------------------------------------
    ("GET", "/v1/systems"): [Case("list", at("/v1/systems"), EVERYONE, {c: hide("s2") for c in ("sources", "prefix")})],
    ("POST", "/v1/systems"): [Case("new", lambda w, c: Req("/v1/systems", json={"name": unique("sys")}), CREATE)],
    ("GET", "/v1/systems/{system_id}"): [
        Case("system of S1 and S2", at("/v1/systems/{system}"), VISIBLE, {c: hide("s2") for c in ("sources", "prefix")})
    ],
    ("PATCH", "/v1/systems/{system_id}"): [
        Case("fresh", fresh(lambda w: w.fresh_system(), "/v1/systems/{id}", json={"description": "x"}), MANAGE)
    ],
    ("DELETE", "/v1/systems/{system_id}"): [
        Case("fresh", fresh(lambda w: w.fresh_system(), "/v1/systems/{id}"), MANAGE)
    ],
    ("PUT", "/v1/systems/{system_id}/sources/{source_id}"): [
        Case("fresh system, S1", lambda w, c: Req(f"/v1/systems/{w.fresh_system()}/sources/{w.s1.id}"), MANAGE),
        Case(
            "fresh system, S2",
            lambda w, c: Req(f"/v1/systems/{w.fresh_system()}/sources/{w.s2.id}"),
            E(read_only=403, sources=NO, prefix=NO),
        ),
    ],
    ("DELETE", "/v1/systems/{system_id}/sources/{source_id}"): [
        Case(
            "fresh system linked to S1", lambda w, c: Req(f"/v1/systems/{linked_system(w)}/sources/{w.s1.id}"), MANAGE
        ),
    ],
    # -- jobs ----------------------------------------------------------------------------------------------
    ("POST", "/v1/jobs"): [
        Case(
            "inside S1's team/",
            lambda w, c: Req(
                "/v1/jobs",
                json={
                    "source": f"{w.s1.connection}://team/in/*.csv",
                    "destination": f"{w.s1.connection}://team/{unique('out')}/",
                },
            ),
            WRITE_IN,
        ),
        Case(
            "S2 to hosted data",
            lambda w, c: Req(
                "/v1/jobs",
                json={"source": f"{w.s2.connection}://people.csv", "destination": f"data://{w.org}/{unique('jobs')}/"},
            ),
            E(read_only=403, sources=NO, prefix=NO),
        ),
        Case("dataSource objects", at("/v1/jobs", json=NATIVE_OBJECTS_JOB), CREATE),
    ],
    ("GET", "/v1/jobs"): [Case("list", at("/v1/jobs"), EVERYONE, NARROW_HIDE_JOBS)],
    ("GET", "/v1/jobs/catalog"): [Case("apps, partitioners, assemblers", at("/v1/jobs/catalog"), EVERYONE)],
    ("GET", "/v1/jobs/{job_id}"): [
        Case("job in S1", at("/v1/jobs/{job_in}"), VISIBLE),
        Case("job outside", at("/v1/jobs/{job_out}"), OUTSIDE),
    ],
    ("DELETE", "/v1/jobs/{job_id}"): [
        Case("fresh job in S1", fresh(job_in, "/v1/jobs/{id}"), WRITE_IN),
        Case("fresh job outside", fresh(job_out, "/v1/jobs/{id}"), MANAGE_OUTSIDE),
    ],
    ("POST", "/v1/jobs/{job_id}/run"): [
        Case("fresh job in S1", fresh(job_in, "/v1/jobs/{id}/run"), WRITE_IN),
        Case("fresh job outside", fresh(job_out, "/v1/jobs/{id}/run"), MANAGE_OUTSIDE),
    ],
    ("POST", "/v1/jobs/{job_id}/cancel"): [
        Case("fresh job in S1", fresh(job_in, "/v1/jobs/{id}/cancel"), WRITE_IN),
        Case("fresh job outside", fresh(job_out, "/v1/jobs/{id}/cancel"), MANAGE_OUTSIDE),
    ],
    ("GET", "/v1/jobs/{job_id}/results"): [
        Case("complete job in S1", at("/v1/jobs/{job_in}/results"), VISIBLE),
        Case("complete job outside", at("/v1/jobs/{job_out}/results"), OUTSIDE),
    ],
    ("GET", "/v1/jobs/{job_id}/logs"): [
        Case("job in S1", at("/v1/jobs/{job_in}/logs"), VISIBLE),
        Case("job outside", at("/v1/jobs/{job_out}/logs"), OUTSIDE),
    ],
    # -- read-only SQL -------------------------------------------------------------------------------------
    ("POST", "/v1/connector/{connection}/-/query"): [
        Case(
            "P1, narrowed to the whole connection",
            focused("p1", "/v1/connector/{c}/-/query", prefix_path="", json={"sql": "SELECT 1 AS one"}),
            VISIBLE,
        ),
        Case(
            "P1, prefix below the connection",
            focused("p1", "/v1/connector/{c}/-/query", prefix_path="public/", json={"sql": "SELECT 1 AS one"}),
            E(prefix=403),
        ),
        Case(
            "P1, narrowed to S1",
            at("/v1/connector/{p1c}/-/query", json={"sql": "SELECT 1 AS one"}),
            E(sources=404, prefix=NO),
        ),
    ],
    # -- uploads -------------------------------------------------------------------------------------------
    ("POST", "/v1/uploads"): [Case("start", at("/v1/uploads", json={"filename": "started.txt"}), CREATE)],
    ("PUT", "/v1/uploads/{upload_id}/parts/{number}"): [
        Case(
            "fresh open upload",
            fresh(lambda w: w.fresh_open_upload(False), "/v1/uploads/{id}/parts/1", content=b"part"),
            MANAGE,
        )
    ],
    ("GET", "/v1/uploads/{upload_id}"): [
        Case("complete upload, narrowed to S1", at("/v1/uploads/{upload}"), OUTSIDE),
        Case("complete upload, narrowed to its source", upload_behind_its_source, VISIBLE),
    ],
    ("POST", "/v1/uploads/{upload_id}/complete"): [
        Case("fresh open upload", fresh(lambda w: w.fresh_open_upload(), "/v1/uploads/{id}/complete", json={}), MANAGE)
    ],
    ("DELETE", "/v1/uploads/{upload_id}"): [
        Case("fresh open upload", fresh(lambda w: w.fresh_open_upload(), "/v1/uploads/{id}"), MANAGE)
    ],
    ("PUT", "/v1/uploads/{filename}"): [Case("whole file", at("/v1/uploads/whole.txt", content=b"whole"), CREATE)],
    # -- ByteNite secrets ----------------------------------------------------------------------------------
    ("POST", "/v1/auth/secrets"): [
        Case(
            "new",
            lambda w, c: Req(
                "/v1/auth/secrets",
                json={
                    "secret": {"id": unique("bn"), "secretType": "s3", "accessKey": "AKID"},
                    "secretKey": "bn-secret-value",
                },
            ),
            CREATE,
        )
    ],
    ("GET", "/v1/auth/secrets"): [
        Case(
            "list", at("/v1/auth/secrets"), EVERYONE, {c: lambda w: ['"unused"', '"db"'] for c in ("sources", "prefix")}
        )
    ],
    ("DELETE", "/v1/auth/secrets/{secret_type}/{secret_id}"): [
        Case(
            "used by S1 (in use: 409 for those who may)",
            at("/v1/auth/secrets/generic/used"),
            E(admin=409, member=409, read_only=403, sources=403, prefix=403),
        ),
        Case(
            "fresh unused",
            fresh(lambda w: w.fresh_secret(), "/v1/auth/secrets/generic/{id}"),
            E(read_only=403, sources=NO, prefix=NO),
        ),
    ],
    # -- Foundation (x-org) --------------------------------------------------------------------------------
    ("POST", "/api/data/data_source"): [
        Case("synthetic", creating("/api/data/data_source", foundation_source), CREATE)
    ],
    ("GET", "/api/data/data_source"): foundation_read_cases("/api/data/data_source"),
    ("PUT", "/api/data/data_source"): foundation_source_cases("PUT", "/api/data/data_source", FOUNDATION_ENTITY),
    ("DELETE", "/api/data/data_source"): foundation_source_cases("DELETE", "/api/data/data_source"),
    ("GET", "/api/data/data_source/list"): [
        Case("list", at("/api/data/data_source/list"), EVERYONE, NARROW_HIDE_SOURCES)
    ],
    ("GET", "/api/data/data_source/info"): foundation_read_cases("/api/data/data_source/info"),
    ("PUT", "/api/data/data_source/info"): foundation_source_cases(
        "PUT", "/api/data/data_source/info", FOUNDATION_INFO
    ),
    ("GET", "/api/data/data_source/link"): foundation_read_cases("/api/data/data_source/link"),
    ("PUT", "/api/data/data_source/connection"): foundation_source_cases(
        "PUT", "/api/data/data_source/connection", FOUNDATION_SYNTHETIC
    ),
    ("GET", "/api/data/data_source/connection"): foundation_read_cases("/api/data/data_source/connection"),
    ("POST", "/api/data/data_source/secret"): foundation_source_cases(
        "POST", "/api/data/data_source/secret", FOUNDATION_SECRETS
    ),
    ("PUT", "/api/data/data_source/secret"): foundation_source_cases(
        "PUT", "/api/data/data_source/secret", FOUNDATION_SECRETS
    ),
    ("POST", "/api/data/data_system"): [Case("new", creating("/api/data/data_system", foundation_system), CREATE)],
    ("GET", "/api/data/data_system"): [
        Case(
            "system of S1 and S2",
            at("/api/data/data_system?identifier={system}"),
            VISIBLE,
            {c: hide("s2") for c in ("sources", "prefix")},
        )
    ],
    ("PUT", "/api/data/data_system"): [
        Case(
            "fresh",
            fresh_json(lambda w: w.fresh_system(), "/api/data/data_system?identifier={id}", foundation_system),
            MANAGE,
        )
    ],
    ("DELETE", "/api/data/data_system"): [
        Case("fresh", fresh(lambda w: w.fresh_system(), "/api/data/data_system?identifier={id}"), MANAGE)
    ],
    ("GET", "/api/data/data_system/list"): [
        Case("list", at("/api/data/data_system/list"), EVERYONE, {c: hide("s2") for c in ("sources", "prefix")})
    ],
    ("GET", "/api/data/data_system/info"): [
        Case("system", at("/api/data/data_system/info?identifier={system}"), VISIBLE)
    ],
    ("PUT", "/api/data/data_system/info"): [
        Case(
            "fresh",
            fresh(lambda w: w.fresh_system(), "/api/data/data_system/info?identifier={id}", json=FOUNDATION_INFO),
            MANAGE,
        )
    ],
    ("GET", "/api/data/data_system/link"): [
        Case(
            "system of S1 and S2",
            at("/api/data/data_system/link?identifier={system}"),
            VISIBLE,
            {c: hide("s2") for c in ("sources", "prefix")},
        )
    ],
    ("POST", "/api/data/link/data_system/data_source"): [
        Case(
            "fresh system, S1",
            lambda w, c: Req(
                f"/api/data/link/data_system/data_source?identifier={w.fresh_system()}&child_identifier={w.s1.id}"
            ),
            MANAGE,
        ),
    ],
    ("DELETE", "/api/data/link/data_system/data_source"): [
        Case(
            "fresh system linked to S1",
            lambda w, c: Req(
                f"/api/data/link/data_system/data_source?identifier={linked_system(w)}&child_identifier={w.s1.id}"
            ),
            MANAGE,
        ),
    ],
    # -- the Data API --------------------------------------------------------------------------------------
    **connector_rows("/v1/connector/{connection}/{path}"),
    **hosted_rows("/v1/data/{path}"),
    # -- job templates (native and ByteNite's developer API) ----------------------------------------------
    **template_rows("/v1/templates", "/v1/templates", "/v1/templates/{template_id}"),
    **template_rows("/v1/dev/templates", "/v1/dev/templates", "/v1/dev/templates/{template_id}"),
    **bytenite_job_rows("/v1/customer"),
    **bytenite_job_rows("/v1/computing"),
}

#: Routes the link itself authorizes: checked by `test_unauthenticated_routes_*`, never with a token's rights.
UNAUTHENTICATED = {
    ("GET", "/healthz"),
    ("GET", "/healthz/live"),
    ("GET", "/healthz/ready"),
    ("GET", "/v1/links/{token}"),
    ("HEAD", "/v1/links/{token}"),
    ("PUT", "/v1/uploads/signed/{token}"),
}

# -- running the table ---------------------------------------------------------------------------------


def cells() -> Iterator[Any]:
    for (method, route), cases in TABLE.items():
        for index, case in enumerate(cases):
            for caller in CALLERS:
                yield pytest.param(method, route, index, caller, id=f"{method} {route} [{case.target}] {caller}")


@pytest.fixture(scope="module")
def world(sqlite_hub: RunningHub, pg_db: ScratchDatabase, tmp_path_factory: pytest.TempPathFactory) -> World:
    engine = driver.engine_for(sqlite_hub.hub)
    if engine._executor is None and engine.config is None:
        driver.configure(sqlite_hub.hub, THREADS)
    return build(sqlite_hub, tmp_path_factory.mktemp("rights"), pg_db)


def matches(expected: Outcome, status: int) -> bool:
    if expected == "ok":
        return 200 <= status < 300
    if expected == ANY:
        return status < 500 and status != 401
    if isinstance(expected, frozenset):
        return status in expected
    return status == expected


def send(world: World, method: str, caller: str, req: Req) -> httpx.Response:
    token = world.token(caller, req.focus, req.prefix_path)
    headers = {"x-org": world.org_of(caller)} if req.path.startswith("/api/") else {}
    with world.client(token) as client:
        return client.request(method, req.path, params=req.params, json=req.json, content=req.content, headers=headers)


@pytest.mark.parametrize(("method", "route", "index", "caller"), list(cells()))
def test_the_route_answers_each_caller_as_the_rights_table_says(
    world: World, method: str, route: str, index: int, caller: str
) -> None:
    case = TABLE[(method, route)][index]
    expected = case.expect[caller]
    req = case.build(world.placeholders() if expected == 401 else world, caller)
    response = send(world, method, caller, req)
    assert matches(expected, response.status_code), (
        f"{caller} on {method} {route} [{case.target}]: expected {expected}, got {response.status_code}: {response.text[:300]}"
    )
    if caller in case.hidden and 200 <= response.status_code < 300:
        shown = [value for value in case.hidden[caller](world) if value in response.text]
        assert not shown, f"{caller} on {method} {route} sees what its narrowing hides: {shown}"


def test_every_route_of_the_schema_is_in_the_rights_table(sqlite_hub: RunningHub) -> None:
    schema = sqlite_hub.server.config.app.openapi()  # type: ignore[attr-defined]
    routes = {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods}
    missing = routes - set(TABLE) - UNAUTHENTICATED
    stale = set(TABLE) - routes
    assert not missing, f"routes with no row in the rights table: {sorted(missing)}"
    assert not stale, f"rows of the rights table with no route: {sorted(stale)}"
    assert all(set(case.expect) == set(CALLERS) for cases in TABLE.values() for case in cases)


# -- the routes a link authorizes ------------------------------------------------------------------------


def test_unauthenticated_routes_answer_alike_with_no_token_and_with_any_token(world: World) -> None:
    with world.admin() as admin:
        temp_url = ok(admin.get(f"/v1/uploads/{world.upload_id}"))["tempUrl"]
    tokens = [
        None,
        "hw_not-a-token-at-all-0000",
        world.tokens["expired"],
        world.tokens["orphan"],
        world.tokens["other_org"],
        world.tokens["read_only"],
    ]
    for token in tokens:
        with world.client(token) as client:
            for health in ("/healthz", "/healthz/live", "/healthz/ready"):
                assert client.get(health).status_code == 200, (token, health)
            got = client.get(temp_url)
            assert got.status_code == 200 and got.content == b"id\n1\n", (token, got.status_code)
            assert client.head(temp_url).status_code == 200
            forged = client.get(temp_url[:-4] + "AAAA")
            assert forged.status_code == 403, (token, forged.status_code)
        with world.admin() as admin:
            job = ok(
                admin.post(
                    "/v1/customer/jobs",
                    json={
                        "dataSource": {"dataSourceDescriptor": "file", "params": {"@type": FILE_TYPE}},
                        "dataDestination": {"dataSourceDescriptor": "bucket"},
                    },
                )
            )["job"]
        signed = job["dataSource"]["params"]["tempUrl"]
        with world.client(token) as client:
            assert client.put(signed, content=b"bytes").status_code == 200, token
            assert client.put(signed.replace("/signed/", "/signed/x"), content=b"forged").status_code == 403
