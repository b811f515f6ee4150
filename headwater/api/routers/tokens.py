"""`/v1/tokens` and `/v1/me`: who the caller is, and narrowed tokens for handing to jobs."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from pydantic import Field

from headwater.addresses import parse_address
from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services import tokens as service
from headwater.store.models import Token

router = APIRouter(tags=["tokens"], responses=ERROR_RESPONSES)


class MeOut(ApiModel):
    organization: str
    user: str
    token_id: str
    admin: bool
    read_only: bool
    source_ids: list[str] | None
    path_prefix: str | None


class NarrowingIn(ApiModel):
    """The narrowing fields a caller asks for a token or an access key (`authorization.child_narrowing` grants them)."""

    read_only: bool = False
    source_ids: list[str] | None = None
    path_prefix: str | None = Field(
        default=None, max_length=1100, description="An address prefix such as s3+prod://bucket/dir/"
    )
    expires_at: datetime | None = None

    def narrowing(self) -> service.Narrowing:
        """The narrowing asked for, its prefix parsed and normalised by the one address parser (an expiry without a
        zone is UTC)."""
        prefix = str(parse_address(self.path_prefix)) if self.path_prefix else None
        if prefix is not None and self.path_prefix and self.path_prefix.endswith("/") and not prefix.endswith("/"):
            prefix += "/"
        return service.Narrowing(
            read_only=self.read_only,
            source_ids=tuple(self.source_ids) if self.source_ids is not None else None,
            path_prefix=prefix,
            expires_at=self.expires_at.replace(tzinfo=UTC)
            if self.expires_at and not self.expires_at.tzinfo
            else self.expires_at,
        )


class TokenIn(NarrowingIn):
    user: str | None = Field(
        default=None, max_length=255, description="Another user of the organization (admins only)."
    )
    name: str | None = Field(default=None, max_length=255)
    admin: bool = False


class TokenOut(ApiModel):
    id: str
    name: str | None
    admin: bool
    read_only: bool
    source_ids: list[str] | None
    path_prefix: str | None
    expires_at: datetime | None
    created_at: datetime


class TokenCreated(TokenOut):
    token: str = Field(description="The token's value: shown this once, never stored.")


class TokenList(ApiModel):
    tokens: list[TokenOut]


def present(token: Token) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        admin=token.admin,
        read_only=token.read_only,
        source_ids=token.source_ids,
        path_prefix=token.path_prefix,
        expires_at=token.expires_at,
        created_at=token.created_at,
    )


@router.get("/v1/me", response_model=MeOut, summary="The caller's organization, user and token narrowing")
def me(caller: CallerDep) -> MeOut:
    return MeOut(
        organization=caller.org_name,
        user=caller.user_name,
        token_id=caller.token_id,
        admin=caller.admin,
        read_only=caller.read_only,
        source_ids=list(caller.source_ids) if caller.source_ids is not None else None,
        path_prefix=caller.path_prefix,
    )


@router.post(
    "/v1/tokens", status_code=201, response_model=TokenCreated, summary="Issue a token, never broader than the caller's"
)
def create_token(body: TokenIn, caller: CallerDep, hub: HubDep) -> TokenCreated:
    token, value = service.issue_token(
        hub, caller, user_name=body.user, admin=body.admin, name=body.name, narrowing=body.narrowing()
    )
    return TokenCreated(**present(token).model_dump(), token=value)


@router.get("/v1/tokens", response_model=TokenList, summary="List tokens (never their values)")
def list_tokens(caller: CallerDep, hub: HubDep) -> TokenList:
    return TokenList(tokens=[present(t) for t in service.list_tokens(hub, caller)])


@router.delete("/v1/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: str, caller: CallerDep, hub: HubDep) -> Response:
    service.revoke_token(hub, caller, token_id)
    return Response(status_code=204)
