"""`/v1/access-keys`: S3 access keys for the S3 front door, narrowed like tokens; the secret is shown once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from pydantic import Field

from headwater.api.deps import CallerDep, HubDep
from headwater.api.routers.tokens import NarrowingIn
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.errors import InvalidInput
from headwater.services import access_keys as service
from headwater.times import parse_duration

router = APIRouter(tags=["access keys"], responses=ERROR_RESPONSES)


class AccessKeyIn(NarrowingIn):
    name: str | None = Field(default=None, max_length=255, description="A name to recognise the key by.")
    expires_in: str | None = Field(
        default=None, max_length=32, description="Instead of expiresAt: a length of time such as 12h, 1d or 2w."
    )


class AccessKeyOut(ApiModel):
    access_key_id: str
    name: str | None
    read_only: bool
    source_ids: list[str] | None
    path_prefix: str | None
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="When the key was last presented (updated at most every 15 min).")
    token_id: str = Field(description="The child token the key acts as; revoking the key revokes it.")


class AccessKeyCreated(AccessKeyOut):
    secret_access_key: str = Field(description="The key's secret: shown this once, never again.")


class AccessKeyList(ApiModel):
    access_keys: list[AccessKeyOut]


def present(view: service.AccessKeyView) -> AccessKeyOut:
    return AccessKeyOut(
        access_key_id=view.id,
        name=view.name,
        read_only=view.read_only,
        source_ids=list(view.source_ids) if view.source_ids is not None else None,
        path_prefix=view.path_prefix,
        expires_at=view.expires_at,
        created_at=view.created_at,
        last_used_at=view.last_used_at,
        token_id=view.token_id,
    )


@router.post(
    "/v1/access-keys",
    status_code=201,
    response_model=AccessKeyCreated,
    summary="Issue an S3 access key for the caller, narrowed at least as the caller's token",
)
async def create_access_key(body: AccessKeyIn, caller: CallerDep, hub: HubDep) -> AccessKeyCreated:
    narrowing = body.narrowing()
    if body.expires_in is not None:
        if body.expires_at is not None:
            raise InvalidInput("give expiresAt or expiresIn, not both")
        narrowing = replace(narrowing, expires_at=datetime.now(UTC) + parse_duration(body.expires_in, "expiresIn"))
    view, secret = await service.create(hub, caller, name=body.name, narrowing=narrowing)
    return AccessKeyCreated(**present(view).model_dump(), secret_access_key=secret)


@router.get("/v1/access-keys", response_model=AccessKeyList, summary="List access keys (never their secrets)")
async def list_access_keys(caller: CallerDep, hub: HubDep) -> AccessKeyList:
    return AccessKeyList(access_keys=[present(view) for view in await service.list_keys(hub, caller)])


@router.delete("/v1/access-keys/{key_id}", status_code=204, summary="Revoke an access key (and its token)")
async def revoke_access_key(key_id: str, caller: CallerDep, hub: HubDep) -> Response:
    await service.revoke(hub, caller, key_id)
    return Response(status_code=204)
