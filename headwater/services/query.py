"""Queries: one read-only SQL statement on a database connection, its result streamed as a file.

Rights are decided by `services.data` and `policy`, as for any read: a query may touch
any table, so it needs read access to the whole connection (path restrictions of
`*`, and no token path prefix). The database itself enforces read-only and the time limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from headwater import policy
from headwater.addresses import Address
from headwater.connectors import catalogue
from headwater.connectors.databases.formats import CONTENT_TYPES, check_format
from headwater.connectors.prefetch import first_chunk, resumed
from headwater.errors import InvalidInput, NotSupported, PermissionDenied
from headwater.services import data
from headwater.services.context import Caller
from headwater.services.hub import Hub

MAX_SQL = 100_000


@dataclass
class QueryResult:
    """An opened query: its content type, its byte stream, and the target to close afterwards."""

    content_type: str
    chunks: AsyncIterator[bytes]
    target: data.Target


async def run(
    hub: Hub, caller: Caller, protocol: str, label: str, sql: str, fmt: str, limit: int | None = None
) -> QueryResult:
    """Authorize and start a query; the first chunk is pulled so that errors surface before streaming."""
    check_format(fmt)
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("sql: give one statement")
    if len(sql) > MAX_SQL:
        raise InvalidInput(f"sql: longer than {MAX_SQL} characters")
    if limit is not None and limit < 0:
        raise InvalidInput("limit: must not be negative")
    target = await data.open_target(hub, caller, Address(protocol, label, ""))
    try:
        try:
            target.authorize(policy.Operation.READ, "")
        except PermissionDenied as exc:
            raise PermissionDenied(
                f"a query may read any table, so it needs read access to the whole connection: {exc.message}"
            ) from None
        if target.address.hosted or not catalogue.get(target.address.protocol).capabilities.queries:
            raise NotSupported(f"connection {protocol}+{label} is not a database: it cannot run queries")
        stream = target.connector.query(sql, fmt, limit)
    except BaseException:
        await target.close()
        raise
    first = await first_chunk(stream, target.close)
    return QueryResult(CONTENT_TYPES[fmt], resumed(first, stream, stream.aclose), target)
