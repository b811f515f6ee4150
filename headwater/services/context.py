"""Who is calling: the identity a token resolves to, with its narrowing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """An authenticated caller inside one organization."""

    org_id: str
    org_name: str
    user_id: str
    user_name: str
    token_id: str
    admin: bool = False
    read_only: bool = False
    source_ids: tuple[str, ...] | None = None
    path_prefix: str | None = None
