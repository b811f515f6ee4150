"""`POST /v1/connector/{protocol}+{label}/-/query`: one read-only statement, its result streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from headwater.addresses import decode_path, parse_connection
from headwater.api.content_safety import SEALED
from headwater.api.deps import CallerDep, HubDep
from headwater.api.limits import json_model
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services import query as service

router = APIRouter(tags=["query"], responses=ERROR_RESPONSES)


class QueryIn(ApiModel):
    sql: str = Field(
        description="One read-only statement (SELECT, WITH, ...).", min_length=1, max_length=service.MAX_SQL
    )
    format: Literal["csv", "jsonl", "parquet"] = "jsonl"
    limit: int | None = Field(default=None, ge=0, description="At most this many rows.")


@router.post(
    "/v1/connector/{connection}/-/query",
    summary="Run a read-only query on a database connection",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": QueryIn.model_json_schema()}}}
    },
    response_class=StreamingResponse,
)
async def run_query(connection: str, request: Request, caller: CallerDep, hub: HubDep) -> StreamingResponse:
    protocol, label = parse_connection(decode_path(connection))
    body = await json_model(request, QueryIn, hub.settings.max_json_body)
    assert label is not None
    result = await service.run(hub, caller, protocol, label, body.sql, body.format, body.limit)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in result.chunks:
                yield chunk
        finally:
            await result.target.close()

    return StreamingResponse(chunks(), media_type=result.content_type, headers=SEALED)
