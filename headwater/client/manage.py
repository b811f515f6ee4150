"""Thin helpers over the management API: secrets, sources, systems, tokens, access keys.

Requests are sent in the API's camelCase; responses come back as the hub's JSON
dicts (camelCase keys). Secret values go out and never come back.
"""

from __future__ import annotations

import builtins
import difflib
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from headwater.addresses import parse_connection
from headwater.client.errors import InvalidInputError, NotFoundError
from headwater.errors import InvalidInput

if TYPE_CHECKING:
    from headwater.client.transport import Transport

Json = dict[str, Any]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def body_of(fields: dict[str, Any], *, keep_none: bool = False) -> Json:
    """Snake-case keyword arguments → a camelCase JSON body; None means "not given" unless `keep_none`."""
    body: Json = {}
    for name, value in fields.items():
        if value is None and not keep_none:
            continue
        body[camel(name)] = value.isoformat() if isinstance(value, datetime) else value
    return body


def _seg(value: str) -> str:
    return quote(value, safe="")


class Resource:
    """A collection under `/v1/...`."""

    path: str = ""
    key: str = ""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _item(self, ident: str) -> str:
        return f"{self.path}/{_seg(ident)}"

    def _list(self, **query: Any) -> list[Json]:
        params = {camel(k): v for k, v in query.items() if v is not None}
        body = self._transport.json("GET", self.path, params=params or None)
        return list(body.get(self.key, []))

    def _get(self, ident: str) -> Json:
        result: Json = self._transport.json("GET", self._item(ident))
        return result

    def _delete(self, ident: str) -> None:
        self._transport.send("DELETE", self._item(ident))


class Secrets(Resource):
    """`/v1/secrets`: the values are write-only; responses name only the keys that are stored."""

    path = "/v1/secrets"
    key = "secrets"

    def create(
        self,
        id: str,
        *,
        secret_type: str = "generic",
        name: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        values: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        expires_at: datetime | str | None = None,
    ) -> Json:
        body = body_of(
            {
                "id": id,
                "secret_type": secret_type,
                "name": name,
                "access_key": access_key,
                "secret_key": secret_key,
                "values": values,
                "params": params,
                "expires_at": expires_at,
            }
        )
        result: Json = self._transport.json("POST", self.path, json=body)
        return result

    def list(self, secret_type: str | None = None) -> list[Json]:
        return self._list(secret_type=secret_type)

    def get(self, id: str) -> Json:
        """A secret's readable fields (never its values)."""
        return self._get(id)

    def delete(self, id: str) -> None:
        """Delete a secret no data source uses."""
        self._delete(id)

    def update(self, id: str, **fields: Any) -> Json:
        """Change the given fields (`name`, `secret_type`, `access_key`, `secret_key`, `values`, `params`, `expires_at`)."""
        result: Json = self._transport.json("PATCH", self._item(id), json=body_of(fields, keep_none=True))
        return result


class Sources(Resource):
    """`/v1/sources`: data sources; `get` also takes `protocol+label` instead of an id."""

    path = "/v1/sources"
    key = "sources"

    def create(
        self,
        protocol: str,
        label: str,
        *,
        params: dict[str, Any] | None = None,
        access: str = "read",
        name: str | None = None,
        description: str | None = None,
        secret_id: str | None = None,
        env_secret_ids: list[str] | None = None,
        path_restrictions: list[str] | None = None,
        entity_info: dict[str, Any] | None = None,
    ) -> Json:
        body = body_of(
            {
                "protocol": protocol,
                "label": label,
                "params": params or {},
                "access": access,
                "name": name,
                "description": description,
                "secret_id": secret_id,
                "env_secret_ids": env_secret_ids,
                "path_restrictions": path_restrictions,
                "entity_info": entity_info,
            }
        )
        result: Json = self._transport.json("POST", self.path, json=body)
        return result

    def list(self, protocol: str | None = None) -> list[Json]:
        return self._list(protocol=protocol)

    def get(self, ref: str) -> Json:
        """A source by id, or by its connection `protocol+label` (also `protocol+label://`)."""
        return self._get(self.resolve(ref))

    def resolve(self, ref: str) -> str:
        """The id of a source given by id or by `protocol+label`."""
        connection = ref.removesuffix("/").removesuffix("://").removesuffix(":/")
        if "+" not in connection:
            return ref
        try:
            protocol, label = parse_connection(connection)
        except InvalidInput:
            return ref
        known = self.list()
        for source in known:
            if (source.get("protocol"), source.get("label")) == (protocol, label):
                return str(source["id"])
        close = difflib.get_close_matches(
            f"{protocol}+{label}", [f"{s.get('protocol')}+{s.get('label')}" for s in known], n=1
        )
        hint = f": did you mean {close[0]}?" if close else ""
        raise NotFoundError(f"data source {protocol}+{label} does not exist{hint}", status=404, code="not_found")

    def update(self, ref: str, **fields: Any) -> Json:
        """Change the given fields (`label`, `name`, `params`, `access`, `path_restrictions`, ...)."""
        result: Json = self._transport.json(
            "PATCH", self._item(self.resolve(ref)), json=body_of(fields, keep_none=True)
        )
        return result

    def delete(self, ref: str) -> None:
        self._delete(self.resolve(ref))

    def test(self, ref: str) -> Json:
        """Check the connection for real; the returned source carries the new `state`."""
        result: Json = self._transport.json("POST", self._item(self.resolve(ref)) + "/test")
        return result


class Systems(Resource):
    """`/v1/systems`: groupings that data sources link under."""

    path = "/v1/systems"
    key = "systems"

    def create(
        self,
        name: str,
        *,
        label: str | None = None,
        description: str | None = None,
        entity_info: dict[str, Any] | None = None,
        owner_person: dict[str, str] | None = None,
    ) -> Json:
        body = body_of(
            {
                "name": name,
                "label": label,
                "description": description,
                "entity_info": entity_info,
                "owner_person": owner_person,
            }
        )
        result: Json = self._transport.json("POST", self.path, json=body)
        return result

    def list(self) -> list[Json]:
        return self._list()

    def get(self, id: str) -> Json:
        return self._get(id)

    def update(self, id: str, **fields: Any) -> Json:
        result: Json = self._transport.json("PATCH", self._item(id), json=body_of(fields, keep_none=True))
        return result

    def delete(self, id: str, force: bool = False) -> None:
        self._transport.send("DELETE", self._item(id), params={"force": "true"} if force else None)

    def link(self, system_id: str, source_id: str) -> Json:
        result: Json = self._transport.json("PUT", f"{self._item(system_id)}/sources/{_seg(source_id)}")
        return result

    def unlink(self, system_id: str, source_id: str) -> Json:
        result: Json = self._transport.json("DELETE", f"{self._item(system_id)}/sources/{_seg(source_id)}")
        return result


class Tokens(Resource):
    """`/v1/tokens`: issue narrowed tokens (the value is in the response, once), list, revoke."""

    path = "/v1/tokens"
    key = "tokens"

    def create(
        self,
        *,
        user: str | None = None,
        name: str | None = None,
        admin: bool = False,
        read_only: bool = False,
        source_ids: list[str] | None = None,
        path_prefix: str | None = None,
        expires_at: datetime | str | None = None,
    ) -> Json:
        body = body_of(
            {
                "user": user,
                "name": name,
                "admin": admin,
                "read_only": read_only,
                "source_ids": source_ids,
                "path_prefix": path_prefix,
                "expires_at": expires_at,
            }
        )
        result: Json = self._transport.json("POST", self.path, json=body)
        return result

    def list(self) -> list[Json]:
        return self._list()

    def revoke(self, id: str) -> None:
        self._transport.send("DELETE", self._item(id))


class AccessKeys(Resource):
    """`/v1/access-keys`: S3 access keys narrowed like tokens (the secret is in the create response, once), list, revoke."""

    path = "/v1/access-keys"
    key = "accessKeys"

    def create(
        self,
        *,
        name: str | None = None,
        read_only: bool = False,
        source_ids: list[str] | None = None,
        path_prefix: str | None = None,
        expires_at: datetime | str | None = None,
        expires_in: str | None = None,
    ) -> Json:
        body = body_of(
            {
                "name": name,
                "read_only": read_only,
                "source_ids": source_ids,
                "path_prefix": path_prefix,
                "expires_at": expires_at,
                "expires_in": expires_in,
            }
        )
        result: Json = self._transport.json("POST", self.path, json=body)
        return result

    def list(self) -> list[Json]:
        return self._list()

    def revoke(self, id: str) -> None:
        self._delete(id)


class Audit(Resource):
    """`/v1/audit`: the organization's audit trail, oldest first (or newest first with `order="desc"`)."""

    path = "/v1/audit"
    key = "events"

    def page(self, *, after: int | None = None, limit: int = 100, order: str = "asc", **filters: Any) -> Json:
        params = {
            camel(k): v.isoformat() if isinstance(v, datetime) else v for k, v in filters.items() if v is not None
        }
        params.update({"limit": limit} if after is None else {"limit": limit, "after": after})
        if order != "asc":
            params["order"] = order
        result: Json = self._transport.json("GET", self.path, params=params)
        return result

    def events(self, *, order: str = "asc", **filters: Any) -> list[Json]:
        """Every matching event, following the pages to the end."""
        found: list[Json] = []
        after: int | None = None
        while True:
            page = self.page(after=after, limit=1000, order=order, **filters)
            found += page["events"]
            after = page.get("next")
            if not after:
                return found


class Jobs(Resource):
    """`/v1/jobs`: a data source in, an app over partitions, a data destination out."""

    path = "/v1/jobs"
    key = "jobs"
    TERMINAL = ("complete", "failed", "canceled")

    def create(
        self,
        source: str,
        destination: str,
        *,
        app: str = "copy",
        partitioner: str = "object",
        assembler: str = "passthrough",
        app_params: dict[str, Any] | None = None,
        partitioner_params: dict[str, Any] | None = None,
        assembler_params: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        run: bool = False,
    ) -> Json:
        params = {"app": app_params or {}, "partitioner": partitioner_params or {}, "assembler": assembler_params or {}}
        body = body_of(
            {
                "source": source,
                "destination": destination,
                "app": app,
                "partitioner": partitioner,
                "assembler": assembler,
                "params": params,
                "name": name,
                "description": description,
                "run": run,
            }
        )
        result: Json = self._transport.json("POST", self.path, json=body)
        return result

    def list(self, state: str | None = None, limit: int | None = None, offset: int | None = None) -> list[Json]:
        return self._list(state=state, limit=limit, offset=offset)

    def get(self, id: str) -> Json:
        return self._get(id)

    ID_LENGTH = 36
    PAGE = 500

    def resolve(self, ref: str) -> str:
        """The id of the job `ref` names: its whole id, or a unique prefix of it (the short id the CLI shows)."""
        ref = ref.strip().lower()
        if len(ref) == self.ID_LENGTH:
            return ref
        if not ref:
            raise InvalidInputError("no job id given", status=400, code="invalid_input")
        matches: list[str] = []
        offset = 0
        while True:
            page = self.list(limit=self.PAGE, offset=offset)
            matches += [str(job["id"]) for job in page if str(job["id"]).startswith(ref)]
            if len(page) < self.PAGE:
                break
            offset += self.PAGE
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(f"no job's id starts with {ref!r}", status=404, code="not_found")
        shown = ", ".join(matches[:10]) + (f" and {len(matches) - 10} more" if len(matches) > 10 else "")
        raise InvalidInputError(
            f"{ref!r} is the start of several job ids ({shown}): give more of the id", status=400, code="invalid_input"
        )

    def run(self, id: str) -> Json:
        result: Json = self._transport.json("POST", self._item(id) + "/run")
        return result

    def cancel(self, id: str) -> Json:
        """Stop the job; its outputs are removed from the destination."""
        result: Json = self._transport.json("POST", self._item(id) + "/cancel")
        return result

    def delete(self, id: str) -> None:
        self._delete(id)

    def results(self, id: str) -> builtins.list[Json]:
        """Names, sizes and links (or addresses) of a complete job's outputs."""
        return list(self._transport.json("GET", self._item(id) + "/results").get("results", []))

    def logs(self, id: str, after: int = 0, limit: int = 1000) -> Json:
        result: Json = self._transport.json("GET", self._item(id) + "/logs", params={"after": after, "limit": limit})
        return result

    def wait(self, id: str, timeout: float | None = None, poll: float = 0.5) -> Json:
        """Poll until the job is complete, failed or canceled and settled; return it."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(id)
            if job["state"] in self.TERMINAL and job.get("settledAt"):
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {id} is still {job['state']}")
            time.sleep(poll)
