"""Who is calling: the identity a token resolves to, with its narrowing."""

from __future__ import annotations

from dataclasses import dataclass

from headwater.errors import PermissionDenied


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

    def require_writer(self, what: str) -> None:
        """Refuse a change of configuration to a read-only token."""
        if self.read_only:
            raise PermissionDenied(f"this token is read-only: it cannot change {what}")
