"""Who is calling: the identity a token resolves to, with its narrowing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Caller:
    """An authenticated caller inside one organization. Its rights are decided by `services.authorization`."""

    org_id: str
    org_name: str
    user_id: str
    user_name: str
    token_id: str
    admin: bool = False
    read_only: bool = False
    source_ids: tuple[str, ...] | None = None
    path_prefix: str | None = None
    expires_at: datetime | None = None
