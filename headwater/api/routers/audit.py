"""`/v1/audit`: the audit trail of the caller's organization, filtered and paged, or exported as JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from headwater.api.deps import CallerDep, HubDep
from headwater.api.schemas import ERROR_RESPONSES, ApiModel
from headwater.services.audit import Filters
from headwater.store.models import AuditEvent

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)


class EventOut(ApiModel):
    id: int
    request_id: str
    time: datetime
    user: str | None
    user_id: str | None
    token_id: str | None
    token_hmac: str | None
    method: str
    route: str
    operation: str
    source_id: str | None
    connection: str | None
    path: str | None
    outcome: str
    reason: str | None
    status: int | None
    bytes_in: int
    bytes_out: int
    duration_ms: float | None
    client: str | None


class EventPage(ApiModel):
    events: list[EventOut]
    next: int | None = None


def present(event: AuditEvent) -> EventOut:
    return EventOut(
        id=event.id,
        request_id=event.request_id,
        time=event.time,
        user=event.user_name,
        user_id=event.user_id,
        token_id=event.token_id,
        token_hmac=event.token_hmac,
        method=event.method,
        route=event.route,
        operation=event.operation,
        source_id=event.source_id,
        connection=event.connection,
        path=event.path,
        outcome=event.outcome,
        reason=event.reason,
        status=event.status,
        bytes_in=event.bytes_in or 0,
        bytes_out=event.bytes_out or 0,
        duration_ms=event.duration_ms,
        client=event.client,
    )


@router.get(
    "",
    response_model=EventPage,
    summary="Audit events, oldest first (or newest first with order=desc); pass `after=next` for the next page",
)
def list_events(
    caller: CallerDep,
    hub: HubDep,
    after: Annotated[
        int | None,
        Query(
            ge=0, le=2**62, description="The `next` of the previous page: newer events, or with order=desc older ones"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Annotated[
        Literal["asc", "desc"], Query(description="asc: oldest first (the default); desc: newest first")
    ] = "asc",
    source: Annotated[str | None, Query(description="A source id or connection such as s3+lake")] = None,
    user: str | None = None,
    path_prefix: Annotated[str | None, Query(alias="pathPrefix")] = None,
    operation: str | None = None,
    outcome: Annotated[str | None, Query(pattern="^(allowed|refused|invalid|failed)$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> EventPage:
    wanted = Filters(source, user, path_prefix, operation, outcome, since, until)
    events = hub.audit.query(caller, wanted, after, limit, newest_first=order == "desc")
    return EventPage(events=[present(e) for e in events], next=events[-1].id if len(events) == limit else None)


@router.get("/export", summary="Every matching audit event as JSON lines", response_class=StreamingResponse)
def export_events(
    caller: CallerDep,
    hub: HubDep,
    source: str | None = None,
    user: str | None = None,
    path_prefix: Annotated[str | None, Query(alias="pathPrefix")] = None,
    operation: str | None = None,
    outcome: Annotated[str | None, Query(pattern="^(allowed|refused|invalid|failed)$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    wanted = Filters(source, user, path_prefix, operation, outcome, since, until)

    def lines() -> Iterator[bytes]:
        for event in hub.audit.export(caller, wanted):
            yield (json.dumps(present(event).model_dump(mode="json", by_alias=True)) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")
