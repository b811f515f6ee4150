"""ByteNite's documented request and response shapes, and the `dataSource` → kind translation.

Field names are lowerCamelCase as ByteNite's grpc-gateway sends them (except
`params.secret_id`); unknown top-level fields are ignored as grpc-gateway does, while
unknown `params` reach the kind's schema, which names them. uint64 sizes are strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from headwater.errors import InvalidInput
from headwater.services.ephemeral import TransientSpec

TYPE_PREFIX = "type.googleapis.com/bytenite.data_source."
S3_TYPE = TYPE_PREFIX + "S3DataSource"
HTTP_TYPE = TYPE_PREFIX + "HttpDataSource"
FILE_TYPE = TYPE_PREFIX + "LocalFileDataSource"
STORJ_LEGACY_TYPE = TYPE_PREFIX + "StorjDataSource"


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SecretShape(Model):
    """`Secret`: the readable fields of a secret (the secretKey travels beside it, write-only)."""

    id: str = Field(min_length=1, max_length=128)
    name: str | None = Field(default=None, max_length=255)
    secret_type: str = Field(alias="secretType", min_length=1)
    access_key: str | None = Field(default=None, alias="accessKey", max_length=1024)
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    params: dict[str, str] | None = None


class CreateSecretRequest(Model):
    """`POST /v1/auth/secrets`: `{"secret": Secret, "secretKey": "..."}`; secretKey is required."""

    secret: SecretShape
    secret_key: str = Field(alias="secretKey", min_length=1)


class DataSourceShape(Model):
    """`data_sourceDataSource`: a descriptor and its `params` (a protobuf Any with `@type`)."""

    data_source_descriptor: str = Field(alias="dataSourceDescriptor", min_length=1)
    params: dict[str, Any] | None = None


class DataSourceInfoRequest(Model):
    """`jobsDataSourceInfoRequest`: `{"dataSource": {...}, "listFiles": bool}`."""

    data_source: DataSourceShape = Field(alias="dataSource")
    list_files: bool = Field(default=False, alias="listFiles")


class ErrorDetail(BaseModel):
    code: int
    message: str
    description: str


class ErrorResponse(BaseModel):
    """`commonGenericResponse` with `ok: false`: every error on ByteNite's paths."""

    ok: bool
    request_id: str = Field(alias="requestId")
    message: str
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in list[tuple[int | str, str]]([
        (400, "The user sent a malformed request"),
        (401, "The user is not authenticated"),
        (403, "The user lacks permission for the resource, or the store refused the credentials"),
        (404, "The resource does not exist"),
        (405, "The kind cannot do this"),
        (409, "Conflict with the current state"),
        (413, "Request body too large"),
        (503, "The resource is temporarily unavailable"),
        ("default", "An unexpected error response"),
    ])
}


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def generic(request_id: str, message: str) -> dict[str, Any]:
    """`commonGenericResponse` for a success."""
    return {"ok": True, "requestId": request_id, "message": message}


@dataclass(frozen=True)
class Descriptor:
    """One `dataSourceDescriptor`: the kind it opens and the `@type`s its params may carry."""

    kind: str
    types: tuple[str, ...]
    s3: bool = False


DESCRIPTORS: dict[str, Descriptor] = {
    "aws": Descriptor("aws", (S3_TYPE,), s3=True),
    "s3": Descriptor("aws", (S3_TYPE,), s3=True),  # the old name of aws
    "gcp": Descriptor("gcp", (S3_TYPE,), s3=True),
    "storj": Descriptor("storj", (S3_TYPE, STORJ_LEGACY_TYPE), s3=True),
    "url": Descriptor("url", (HTTP_TYPE,)),
    "file": Descriptor("file", (FILE_TYPE,)),
    "local": Descriptor("file", (FILE_TYPE,)),  # the old name of file
    "bucket": Descriptor("bucket", ()),
    "bypass": Descriptor("bypass", ()),
}

#: Inline credentials some legacy clients send: refused, since credentials live in secrets.
INLINE_CREDENTIALS = ("accessKey", "secretKey", "access_key", "secret_key", "username", "password")
#: Legacy fields sent empty by old clients, accepted and ignored when empty.
IGNORED_WHEN_EMPTY = ("name", "username", "password", "tempUrl")


@dataclass(frozen=True)
class Translated:
    """A `dataSource` as the hub opens it: the transient connection, the path in it, what to echo back."""

    spec: TransientSpec
    path: str
    shown_path: str
    properties: dict[str, str]


def _string(params: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = params.pop(name, None)
        if value is not None and value != "":
            if not isinstance(value, str):
                raise InvalidInput(f"params.{name} must be a string")
            return value
    return None


def _check_type(name: str, descriptor: Descriptor, params: dict[str, Any]) -> None:
    given = params.pop("@type", None)
    if given is None or given == "":
        return
    if given not in descriptor.types:
        expected = " or ".join(descriptor.types) or "no @type"
        raise InvalidInput(f"params.@type {given!r} does not fit dataSourceDescriptor {name!r}: use {expected}")


def _refuse_inline(params: dict[str, Any]) -> None:
    for name in INLINE_CREDENTIALS:
        if params.get(name):
            raise InvalidInput(f"params.{name}: credentials are not accepted inline: create a secret and give its secret_id")
        params.pop(name, None)


def _drop_empty(params: dict[str, Any]) -> None:
    for name in IGNORED_WHEN_EMPTY:
        if name in params and not params[name]:
            del params[name]


def _s3(name: str, descriptor: Descriptor, params: dict[str, Any]) -> Translated:
    bucket = _string(params, "bucketName", "bucket_name")
    if bucket is None:
        raise InvalidInput("params.bucketName: field required")
    region = _string(params, "cloudRegion", "cloud_region")
    key = _string(params, "name") or ""
    secret_id = _string(params, "secret_id", "secretId")
    endpoint = _string(params, "endpoint")
    _refuse_inline(params)
    kind = descriptor.kind
    if endpoint is not None and kind == "aws":
        kind = "s3"  # an S3-compatible store at the given endpoint (path-style addressing)
    native: dict[str, Any] = {"bucket": bucket, **params}
    if endpoint is not None:
        native["endpoint"] = endpoint
    if region is not None and kind != "gcp":  # GCS signs with region "auto"; ByteNite's zone is informative
        native["region"] = region
    properties = {"bucketName": bucket, **({"cloudRegion": region} if region else {})}
    return Translated(TransientSpec(kind, native, secret_id), key, key, properties)


def translate(source: DataSourceShape) -> Translated:
    """The transient connection a `dataSource` object describes, or `InvalidInput` naming the field."""
    name = source.data_source_descriptor
    descriptor = DESCRIPTORS.get(name)
    if descriptor is None:
        raise InvalidInput(f"dataSourceDescriptor {name!r} is not supported: use one of {', '.join(DESCRIPTORS)}")
    params = dict(source.params or {})
    _check_type(name, descriptor, params)
    if descriptor.s3:
        return _s3(name, descriptor, params)
    secret_id = _string(params, "secret_id", "secretId")
    _drop_empty(params)
    _refuse_inline(params)
    if descriptor.kind == "url":
        url = _string(params, "url")
        if url is None:
            raise InvalidInput("params.url: field required")
        return Translated(TransientSpec("url", {"url": url, **params}, secret_id), "", url, {"url": url})
    if descriptor.kind == "file":
        params.pop("tempUrl", None)  # set by the server on a job's file source: informative here
    path = params.get("filename") if descriptor.kind == "file" else None
    return Translated(TransientSpec(descriptor.kind, params, secret_id), path or "", path or "", {})
