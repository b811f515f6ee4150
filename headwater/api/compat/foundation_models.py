"""Foundation's documented request shapes (its OpenAPI 3.1 spec, version 3.0.1), snake_case as sent."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from headwater.services.foundation import ENV_KEY_PATTERN

NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_\- ]{2,249}$"
LABEL_PATTERN = r"^[a-zA-Z0-9]{1,3}$"
SOURCE_TYPES = ("origin", "data_source")


class Model(BaseModel):
    """Unknown fields are ignored, as Foundation's FastAPI backend does."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class EntityIn(Model):
    name: str = Field(pattern=NAME_PATTERN)
    entity_type: str
    label: str = Field(pattern=LABEL_PATTERN)
    description: str = Field(max_length=1000)


class EntityInfo(Model):
    owner: str = Field(max_length=255)
    contact_ids: list[str]
    links: list[str]


class ConnectionSecret(Model):
    """`{"env_key": "S3_ACCESS_KEY"}`: a value held by the source's secrets."""

    env_key: str = Field(pattern=ENV_KEY_PATTERN, min_length=1, max_length=250)


class S3Connection(Model):
    connection_type: Literal["s3"]
    url: str | ConnectionSecret
    access_key: ConnectionSecret
    access_secret: ConnectionSecret


class DatabaseConnection(Model):
    connection_type: Literal["database"]
    engine: str = Field(min_length=1, max_length=64)
    host: str | ConnectionSecret
    port: int = Field(ge=1, le=65535)
    db_schema: str | None = Field(default=None, alias="schema")
    database: str = Field(min_length=1, max_length=255)
    user: ConnectionSecret
    password: ConnectionSecret


class SyntheticConnection(Model):
    connection_type: Literal["synthetic"]


Connection = Annotated[S3Connection | DatabaseConnection | SyntheticConnection, Field(discriminator="connection_type")]


class ConnectionRequest(Model):
    connection: Connection


class ParentRef(Model):
    identifier: str
    entity_type: str = "data_system"


class CreateDataSourceRequest(Model):
    entity: EntityIn
    entity_info: EntityInfo | None = None
    parent: ParentRef | None = None
    connection: Connection | None = None
    secrets: dict[str, str] | None = None


class UpdateEntityRequest(Model):
    entity: EntityIn


class Person(Model):
    email: str = Field(max_length=255)
    full_name: str = Field(max_length=255)


class SystemEntityIn(EntityIn):
    owner_person: Person


class CreateDataSystemRequest(Model):
    entity: SystemEntityIn
    entity_info: EntityInfo | None = None


class UpdateDataSystemRequest(Model):
    entity: SystemEntityIn


class ErrorResponse(BaseModel):
    """FastAPI's error body, with the message as a string."""

    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in [
        (401, "No token, or not a valid one"),
        (403, "The token does not belong to the x-org organization, or the operation is not allowed"),
        (404, "Unknown identifier (also for anything of another organization)"),
        (405, "The kind cannot do this"),
        (409, "Conflict with the current state"),
        (413, "Request body too large"),
        (422, "Validation error: the detail names the field"),
        (502, "The backend failed"),
        (503, "The store is unavailable"),
        (504, "The backend timed out"),
    ]
}
