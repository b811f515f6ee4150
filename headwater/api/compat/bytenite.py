"""ByteNite's documented routes, translated onto the hub's own services.

Secrets (`/v1/auth/secrets`) are native secrets: one created here is listed by
`/v1/secrets` and usable by any data source, and the reverse. A `dataSource` object
(`/v1/customer/datasource/test`, `/v1/customer/jobs/datasource/info`) is an
ephemeral connection opened by `services.ephemeral` with the caller's secret and
the usual rights. Every `/v1/customer/...` route is served under `/v1/computing/...`
too (ByteNite's 2025-09 rename). Auth: `Authorization: <token>` or `Bearer <token>`.

Errors on `/v1/auth/`, `/v1/customer/`, `/v1/computing/` and `/v1/dev/` use ByteNite's generic
response: `{"ok": false, "requestId", "message", "error": {"code": <HTTP status>,
"message": <reason phrase>, "description": <what went wrong>}}`.

Choices where ByteNite documents nothing ([guess]): creating a secret whose id exists
is 409 (no silent overwrite; rotate through `/v1/secrets/{id}`); `aws` and `s3` are
one secret type; `DELETE /v1/auth/secrets/{type}/{id}` with a type that does not fit
the secret is 404; inline credentials in `params` are refused (use `secret_id`);
`params.endpoint` (Headwater's one addition) points an S3-family descriptor at any
S3-compatible store, `aws`/`s3` then opening the generic `s3` kind (path style);
credentials refused by the store are 403 and a store that fails is 503 (the statuses
ByteNite documents), the hub's own `error.description` saying which.

The job routes (`/v1/customer/jobs...`) are `bytenite_jobs`, the templates
(`/v1/customer/jobs/templates`, `/v1/dev/templates`) `bytenite_templates`, both included in this router.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from headwater.api.compat import bytenite_jobs, bytenite_templates
from headwater.api.compat.bytenite_models import (
    CUSTOMER_BASES,
    ERROR_RESPONSES,
    CreateSecretRequest,
    DataSourceInfoRequest,
    Translated,
    generic,
    request_id,
    translate,
)
from headwater.api.deps import CallerDep, HubDep
from headwater.api.errors import header_text, register_renderer
from headwater.connectors.base import Entry
from headwater.services import bytenite as service
from headwater.services import ephemeral, native
from headwater.services import secrets as secrets_service
from headwater.store.models import Secret
from headwater.times import iso

PREFIXES = ("/v1/auth/", "/v1/customer/", "/v1/computing/", "/v1/dev/")
#: ByteNite documents 400, 401, 403, 404, 500 and 503: the store's refusals are 403, its failures 503.
STATUS_BY_CODE = {
    "upstream_auth_failed": 403,
    "upstream_permission_denied": 403,
    "upstream_unavailable": 503,
    "upstream_timeout": 503,
    "upstream_tls_error": 503,
    "upstream_error": 503,
}

router = APIRouter(tags=["bytenite"], responses=ERROR_RESPONSES)


def render_error(request: Request, status: int, code: str, message: str) -> Response:
    """ByteNite's generic response with `ok: false`."""
    status = STATUS_BY_CODE.get(code, status)
    headers = {"X-Error-Message": header_text(message)}
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type="application/json")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = {
        "ok": False,
        "requestId": request_id(request),
        "message": "Request failed",
        "error": {"code": status, "message": phrase, "description": message},
    }
    return JSONResponse(body, status_code=status, headers=headers)


for _prefix in PREFIXES:
    register_renderer(_prefix, render_error)


# -- secrets ----------------------------------------------------------------------------


def present_secret(secret: Secret) -> dict[str, Any]:
    """`Secret` without its write-only values (protobuf JSON: empty fields left out)."""
    shown: dict[str, Any] = {"id": secret.secret_id, "secretType": secret.secret_type}
    if secret.name:
        shown["name"] = secret.name
    if secret.access_key:
        shown["accessKey"] = secret.access_key
    if secret.expires_at is not None:
        shown["expiresAt"] = iso(secret.expires_at)
    if secret.params:
        shown["params"] = {k: str(v) for k, v in secret.params.items()}
    return shown


@router.post("/v1/auth/secrets", summary="ByteNite: create a secret")
def bytenite_create_secret(
    body: CreateSecretRequest, request: Request, caller: CallerDep, hub: HubDep
) -> dict[str, Any]:
    fields = secrets_service.SecretFields(
        name=body.secret.name,
        secret_type=body.secret.secret_type,
        access_key=body.secret.access_key,
        params=dict(body.secret.params or {}),
        expires_at=body.secret.expires_at,
    )
    service.create_secret(hub, caller, body.secret.id, fields, body.secret_key)
    return generic(request_id(request), f"secret {body.secret.id!r} created")


@router.get("/v1/auth/secrets", summary="ByteNite: list secrets (never their secretKey)")
def bytenite_list_secrets(
    caller: CallerDep, hub: HubDep, secret_type: Annotated[str | None, Query(alias="secretType")] = None
) -> dict[str, Any]:
    return {"secrets": [present_secret(s) for s in native.list_secrets(hub, caller, secret_type)]}


@router.delete("/v1/auth/secrets/{secret_type}/{secret_id}", summary="ByteNite: delete a secret")
def bytenite_delete_secret(
    secret_type: str, secret_id: str, request: Request, caller: CallerDep, hub: HubDep
) -> dict[str, Any]:
    service.delete_secret(hub, caller, secret_type, secret_id)
    return generic(request_id(request), f"secret {secret_id!r} deleted")


# -- data sources ----------------------------------------------------------------------


def _slash(path: str) -> str:
    return "/" + path.lstrip("/")


def _file(path: str, entry: Entry) -> dict[str, Any]:
    """`jobsFile`: the object's key is its id."""
    return {"id": path, "name": entry.name, "path": _slash(path), "size": str(entry.size or 0)}


def _directory(tree: ephemeral.Tree) -> dict[str, Any]:
    """`jobsDirectory`, recursively."""
    return {
        "name": tree.path.rsplit("/", 1)[-1],
        "path": _slash(tree.path),
        "directories": [_directory(child) for child in tree.folders],
        "files": [_file(path, entry) for path, entry in tree.files],
    }


def _complete(tree: ephemeral.Tree) -> bool:
    return tree.complete and all(_complete(child) for child in tree.folders)


def info_body(translated: Translated, found: ephemeral.Inspection, base_url: str) -> dict[str, Any]:
    """`jobsDataSourceInfoResponse`; a hub-relative temporary URL is made absolute."""
    entry = found.entry
    properties = dict(translated.properties)
    properties["type"] = "directory" if entry.is_dir else "file"
    if entry.content_type:
        properties["contentType"] = entry.content_type
    if entry.etag:
        properties["etag"] = entry.etag
    if entry.modified is not None:
        properties["lastModified"] = iso(entry.modified) or ""
    temp_url = found.temp_url
    if temp_url is None and translated.spec.protocol == "url" and not entry.is_dir:
        temp_url = translated.shown_path  # a public resource is its own download URL
    if temp_url and temp_url.startswith("/"):
        temp_url = base_url.rstrip("/") + temp_url
    body: dict[str, Any] = {
        "filename": "" if entry.is_dir else (entry.name or found.path.rsplit("/", 1)[-1]),
        "path": translated.shown_path,
        "size": str(entry.size or 0),
        "properties": properties,
        "tempUrl": temp_url or "",
    }
    if found.tree is not None:
        body["files"] = _directory(found.tree)
        if not _complete(found.tree):
            properties["filesTruncated"] = "true"
    return body


async def bytenite_datasource_info(
    body: DataSourceInfoRequest, request: Request, caller: CallerDep, hub: HubDep
) -> dict[str, Any]:
    """Test a `dataSource` object and describe what it points at (and, with listFiles, the files beside it)."""
    translated = await anyio.to_thread.run_sync(translate, body.data_source)
    found = await ephemeral.inspect(hub, caller, translated.spec, translated.path, list_files=body.list_files)
    return info_body(translated, found, str(request.base_url))


for _base in CUSTOMER_BASES:
    for _path, _name in (("/datasource/test", "test"), ("/jobs/datasource/info", "info")):
        router.add_api_route(
            _base + _path,
            bytenite_datasource_info,
            methods=["POST"],
            name=f"bytenite_datasource_{_name}",
            operation_id=f"bytenite_datasource_{_name}_{_base.rsplit('/', 1)[-1]}",
            summary=f"ByteNite: {'test' if _name == 'test' else 'get information about'} a data source",
        )

router.include_router(bytenite_templates.router)  # before the jobs: `/jobs/templates` is not a job id
router.include_router(bytenite_jobs.router)
router.include_router(bytenite_jobs.signed_uploads)
