"""`GET /v1/connectors`: the catalogue of kinds, each with its JSON schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from headwater.api.deps import CallerDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.connectors import catalogue
from headwater.connectors.kind import Kind

router = APIRouter(prefix="/v1/connectors", tags=["connectors"], responses=ERROR_RESPONSES)


class KindOut(ApiModel):
    kind: str
    title: str
    description: str
    input: bool
    output: bool
    credentials: str
    secret_types: list[str]
    admin_only: bool
    params_schema: dict[str, Any]


class KindList(ApiModel):
    connectors: list[KindOut]


def present(kind: Kind) -> KindOut:
    return KindOut(
        kind=kind.name,
        title=kind.title,
        description=kind.description,
        input=kind.capabilities.input,
        output=kind.capabilities.output,
        credentials=kind.credentials,
        secret_types=list(kind.secret_types),
        admin_only=kind.admin_only,
        params_schema=kind.schema(),
    )


@router.get("", response_model=KindList, summary="The kinds of connection this hub knows")
def list_kinds(caller: CallerDep) -> KindList:
    return KindList(connectors=[present(k) for k in catalogue.kinds()])


@router.get("/{kind}", response_model=KindOut, summary="One kind with its parameter schema")
def get_kind(kind: str, caller: CallerDep) -> KindOut:
    return present(catalogue.get(kind))
