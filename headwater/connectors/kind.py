"""What a kind is: its name, parameter schema, capabilities and builder, as a package declares it.

A package (this one or another) makes one `Kind` per kind and names it in the `headwater.kinds`
entry-point group; `headwater.connectors.catalogue` finds them there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.connectors.base import Capabilities, Connector, Credentials, Params

if TYPE_CHECKING:
    from headwater.connectors.storage import Storage


@dataclass(frozen=True)
class BuildContext:
    """What a builder may know about the hub: never the store, never a token."""

    hosted_dir: Path
    allow_private_endpoints: bool = False
    chunk_size: int = 1024 * 1024
    data_dir: Path | None = None  # the hub's data dir (uploads, buckets, the link key)
    org_id: str | None = None  # the organization of the source being built
    source_id: str | None = None  # the source being built
    storage: Storage | None = None  # the hub's own storage (hosted kinds); None: the data dir as a folder


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
