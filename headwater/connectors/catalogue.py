"""The catalogue of kinds: each kind's name, parameter schema, capabilities and builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.connectors.base import Capabilities, Connector, Credentials, Params
from headwater.connectors.local import LocalConnector, LocalParams
from headwater.errors import InvalidInput


@dataclass(frozen=True)
class BuildContext:
    """What a builder may know about the hub: never the store, never a token."""

    hosted_dir: Path
    allow_private_endpoints: bool = False
    chunk_size: int = 1024 * 1024
    data_dir: Path | None = None  # the hub's data dir (uploads, buckets, the link key)
    org_id: str | None = None  # the organization of the source being built
    source_id: str | None = None  # the source being built


Builder = Callable[[Any, Credentials | None, BuildContext], Connector]


@dataclass(frozen=True)
class Kind:
    """One kind of connection as the catalogue describes it."""

    name: str
    title: str
    description: str
    params: type[Params]
    capabilities: Capabilities
    build: Builder
    credentials: str = "none"  # "none", "optional" or "required"
    secret_types: tuple[str, ...] = ()
    admin_only: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()


def _build_local(params: LocalParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    return LocalConnector(Path(params.path), chunk_size=ctx.chunk_size)


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    _KINDS[kind.name] = kind
    return kind


register(
    Kind(
        name="local",
        title="Folder on the hub",
        description="A folder on the hub's own disk. Only administrators may create one.",
        params=LocalParams,
        capabilities=LocalConnector.capabilities,
        build=_build_local,
        admin_only=True,
    )
)


def _load_optional_kinds() -> None:
    """Kinds in their own modules register themselves on import."""
    import importlib

    for module in ("headwater.connectors.s3", "headwater.connectors.http", "headwater.connectors.hosted_kinds", "headwater.connectors.databases", "headwater.connectors.synthetic"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def kinds() -> list[Kind]:
    _load_optional_kinds()
    return sorted(_KINDS.values(), key=lambda k: k.name)


def get(name: str) -> Kind:
    _load_optional_kinds()
    kind = _KINDS.get(name) or next((k for k in _KINDS.values() if name in k.aliases), None)
    if kind is None:
        known = ", ".join(sorted(_KINDS))
        raise InvalidInput(f"unknown kind {name!r}: known kinds are {known}")
    return kind
