"""`/v1/secrets`: create, list, show, update and delete secrets. Values are write-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services import native
from headwater.services import secrets as service
from headwater.store.models import Secret

router = APIRouter(prefix="/v1/secrets", tags=["secrets"], responses=ERROR_RESPONSES)


class SecretIn(ApiModel):
    id: str = Field(description="Caller-chosen id, unique in the organization.", max_length=128)
    name: str | None = Field(default=None, max_length=255)
    secret_type: str = Field(default="generic", description="aws, gcp, storj, s3, http, database, generic or other")
    access_key: str | None = Field(default=None, max_length=1024, description="The readable half of a key pair.")
    secret_key: str | None = Field(default=None, description="Write-only: never returned.")
    values: dict[str, str] | None = Field(default=None, description="Write-only ENV_KEY: value map (Foundation style).")
    params: dict[str, Any] | None = None
    expires_at: datetime | None = None


class SecretUpdate(ApiModel):
    name: str | None = Field(default=None, max_length=255)
    secret_type: str | None = None
    access_key: str | None = Field(default=None, max_length=1024)
    secret_key: str | None = None
    values: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    expires_at: datetime | None = None


class SecretOut(ApiModel):
    id: str
    name: str | None
    secret_type: str
    access_key: str | None
    params: dict[str, Any]
    expires_at: datetime | None
    expired: bool
    value_keys: list[str] = Field(
        description="The names of the stored values; the values themselves are never returned."
    )
    created_at: datetime
    updated_at: datetime


class SecretList(ApiModel):
    secrets: list[SecretOut]


def present(secret: Secret) -> SecretOut:
    return SecretOut(
        id=secret.secret_id,
        name=secret.name,
        secret_type=secret.secret_type,
        access_key=secret.access_key,
        params=secret.params or {},
        expires_at=secret.expires_at,
        expired=service.is_expired(secret),
        value_keys=list(secret.value_keys or []),
        created_at=secret.created_at,
        updated_at=secret.updated_at,
    )


def values_of(secret_key: str | None, values: dict[str, str] | None) -> dict[str, str] | None:
    if secret_key is None and values is None:
        return None
    merged = dict(values or {})
    if secret_key is not None:
        merged["secretKey"] = secret_key
    return merged


@router.post("", status_code=201, response_model=SecretOut, summary="Create a secret")
def create_secret(body: SecretIn, caller: CallerDep, hub: HubDep) -> SecretOut:
    fields = service.SecretFields(
        name=body.name,
        secret_type=body.secret_type,
        access_key=body.access_key,
        params=body.params,
        expires_at=body.expires_at,
    )
    secret = native.create_secret(hub, caller, body.id, fields, values_of(body.secret_key, body.values) or {})
    return present(secret)


@router.get("", response_model=SecretList, summary="List secrets (never their values)")
def list_secrets(
    caller: CallerDep, hub: HubDep, secret_type: Annotated[str | None, Query(alias="secretType")] = None
) -> SecretList:
    return SecretList(secrets=[present(s) for s in native.list_secrets(hub, caller, secret_type)])


@router.get("/{secret_id}", response_model=SecretOut, summary="Show a secret's readable fields")
def get_secret(secret_id: str, caller: CallerDep, hub: HubDep) -> SecretOut:
    return present(native.get_secret(hub, caller, secret_id))


@router.patch("/{secret_id}", response_model=SecretOut, summary="Update a secret; given values replace the stored ones")
@router.put(
    "/{secret_id}", response_model=SecretOut, summary="Replace a secret's fields and values", include_in_schema=True
)
def update_secret(secret_id: str, body: SecretUpdate, caller: CallerDep, hub: HubDep) -> SecretOut:
    given = body.model_fields_set
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("name", "secret_type", "access_key", "params", "expires_at")
        if name in given
    }
    secret = native.update_secret(hub, caller, secret_id, changes, values_of(body.secret_key, body.values))
    return present(secret)


@router.delete("/{secret_id}", status_code=204, summary="Delete a secret no data source uses")
def delete_secret(secret_id: str, caller: CallerDep, hub: HubDep) -> Response:
    native.delete_secret(hub, caller, secret_id)
    return Response(status_code=204)
