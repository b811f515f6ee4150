"""ByteNite's documented request and response shapes; the `dataSource` → kind translation is `services.ephemeral`'s.

Field names are lowerCamelCase as ByteNite's grpc-gateway sends them (except
`params.secret_id`); unknown top-level fields are ignored as grpc-gateway does, while
unknown `params` reach the kind's schema, which names them. uint64 sizes are strings.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from headwater.services.ephemeral import Translated, translate_object

CUSTOMER_BASES = ("/v1/customer", "/v1/computing")


def request_id(request: Request) -> str:
    """The request's id (the audit trail's when there is one)."""
    pending = getattr(request.state, "audit", None)
    found = getattr(pending, "request_id", None)
    return found if isinstance(found, str) else str(uuid.uuid4())


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

    def as_sent(self) -> dict[str, Any]:
        """The object as the caller wrote it (its known fields), to show back unchanged."""
        return self.model_dump(by_alias=True, exclude_unset=True, include={"data_source_descriptor", "params"})


class DataSourceInfoRequest(Model):
    """`jobsDataSourceInfoRequest`: `{"dataSource": {...}, "listFiles": bool}`."""

    data_source: DataSourceShape = Field(alias="dataSource")
    list_files: bool = Field(default=False, alias="listFiles")


class JobParamsShape(Model):
    """`jobJob.params`: the app's, partitioner's and assembler's params (`preset` is accepted and ignored)."""

    preset: str | None = None
    app: dict[str, Any] = Field(default_factory=dict)
    partitioner: dict[str, Any] = Field(default_factory=dict)
    assembler: dict[str, Any] = Field(default_factory=dict)


class CreateJobRequest(Model):
    """`POST /jobs`: ByteNite's fields, `data_source`/`data_destination` as the 2023 clients spell them, and two
    Headwater additions: `partitioner` and `assembler`, the names of the building blocks (default object, passthrough)."""

    job_id: str | None = Field(default=None, alias="jobId", max_length=36)
    template_id: str | None = Field(default=None, alias="templateId", max_length=128)
    app: str | None = Field(default=None, max_length=64)
    name: str = Field(default="", max_length=255)
    description: str = Field(default="", max_length=4000)
    data_source: DataSourceShape | None = Field(default=None, alias="dataSource")
    data_destination: DataSourceShape | None = Field(default=None, alias="dataDestination")
    params: JobParamsShape = Field(default_factory=JobParamsShape)
    partitioner: str = Field(default="object", max_length=32)
    assembler: str = Field(default="passthrough", max_length=32)


class TemplateParamsShape(Model):
    """`jobJobTemplate.params`: the fixed params of the app, the partitioner and the assembler."""

    app: dict[str, Any] = Field(default_factory=dict)
    partitioner: dict[str, Any] = Field(default_factory=dict)
    assembler: dict[str, Any] = Field(default_factory=dict)


class TemplateRequest(Model):
    """`jobJobTemplate` as `POST /v1/dev/templates` takes it. Read-only fields (`createdAt`, `updatedAt`,
    `userName`, `owner`) and `config` are accepted and ignored; `isPublic: true`, `dataSource` and
    `dataDestination` are refused ([guess]: templates are private to an organization and carry no data)."""

    id: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=4000)
    app: str = Field(min_length=1, max_length=64)
    partitioner: str = Field(default="object", min_length=1, max_length=32)
    assembler: str = Field(default="passthrough", min_length=1, max_length=32)
    params: TemplateParamsShape = Field(default_factory=TemplateParamsShape)
    is_public: bool = Field(default=False, alias="isPublic")
    data_source: dict[str, Any] | None = Field(default=None, alias="dataSource")
    data_destination: dict[str, Any] | None = Field(default=None, alias="dataDestination")


class SetDataSourceRequest(Model):
    """`PATCH /jobs/{jobId}/datasource`: either or both sides."""

    data_source: DataSourceShape | None = Field(default=None, alias="dataSource")
    data_destination: DataSourceShape | None = Field(default=None, alias="dataDestination")


class RunConfig(Model):
    """`jobJob.config`; numbers may come as strings (grpc-gateway int64). Accepted, not enforced."""

    task_timeout: int | str | None = Field(default=None, alias="taskTimeout")
    job_timeout: int | str | None = Field(default=None, alias="jobTimeout")
    is_test_job: bool | None = Field(default=None, alias="isTestJob")


class RunRequest(RunConfig):
    """`POST /jobs/{jobId}/run`: the config flat (the guide) or under `config` (the 2025 demo client)."""

    config: RunConfig | None = None


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
    for status, text in list[tuple[int | str, str]](
        [
            (400, "The user sent a malformed request"),
            (401, "The user is not authenticated"),
            (403, "The user lacks permission for the resource, or the store refused the credentials"),
            (404, "The resource does not exist"),
            (405, "The kind cannot do this"),
            (409, "Conflict with the current state"),
            (413, "Request body too large"),
            (503, "The resource is temporarily unavailable"),
            ("default", "An unexpected error response"),
        ]
    )
}


def generic(request_id: str, message: str) -> dict[str, Any]:
    """`commonGenericResponse` for a success."""
    return {"ok": True, "requestId": request_id, "message": message}


def translate(source: DataSourceShape) -> Translated:
    """The transient connection a `dataSource` object describes, or `InvalidInput` naming the field."""
    return translate_object(source.data_source_descriptor, source.params)
