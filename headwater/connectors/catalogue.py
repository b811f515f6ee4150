"""The catalogue of kinds, found in the `headwater.kinds` entry-point group as fsspec finds its implementations.

Every kind, this package's own included, is an entry point of the group whose name is the kind's name
and whose object is a `Kind` (pyproject.toml: `[project.entry-points."headwater.kinds"]`). An entry point
that fails to load, is not a `Kind`, or takes a name (or alias) already taken — a built-in's above all —
is logged and skipped: an installed package never stops the hub.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import EntryPoint, entry_points

from headwater.addresses import HOSTED, check_protocol
from headwater.connectors.kind import Kind
from headwater.errors import InvalidInput

GROUP = "headwater.kinds"
#: The distribution whose entry points are the built-in kinds.
BUILTIN = "headwater"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_loaded: dict[str, Kind] | None = None


def _distribution(entry: EntryPoint) -> str:
    dist = entry.dist
    return dist.name if dist is not None else "?"


def _refusal(entry: EntryPoint, taken: dict[str, Kind], builtins: set[str]) -> tuple[Kind | None, str | None]:
    """Load one entry point: its kind, or why it is refused."""
    try:
        kind = entry.load()
    except Exception as exc:  # an installed package's import error must not stop the hub
        return None, f"failed to load ({type(exc).__name__}: {exc})"
    if not isinstance(kind, Kind):
        return None, f"is {type(kind).__name__}, not a headwater Kind"
    if kind.name != entry.name:
        return None, f"names kind {kind.name!r}: an entry point's name must be its kind's name"
    for name in (kind.name, *kind.aliases):
        try:
            if check_protocol(name) != name or name == HOSTED:
                raise InvalidInput(f"{name!r} is reserved")
        except InvalidInput as exc:
            return None, f"cannot be named {name!r}: {exc.message}"
        owner = next((k for k in taken.values() if name == k.name or name in k.aliases), None)
        if owner is not None:
            which = "the built-in kind" if owner.name in builtins else "the kind"
            return None, f"takes the name {name!r} of {which} {owner.name!r}"
    return kind, None


def _discover() -> dict[str, Kind]:
    """Every kind the installed distributions declare: the built-ins first, so none can be displaced."""
    found = sorted(entry_points(group=GROUP), key=lambda e: (_distribution(e) != BUILTIN, _distribution(e), e.name))
    taken: dict[str, Kind] = {}
    builtins: set[str] = set()
    for entry in found:
        kind, refusal = _refusal(entry, taken, builtins)
        origin = _distribution(entry)
        if kind is None:
            log.error("kind %r of package %r is refused: it %s", entry.name, origin, refusal)
            continue
        taken[kind.name] = kind
        if origin == BUILTIN:
            builtins.add(kind.name)
        else:
            log.info("kind %r registered by package %r", kind.name, origin)
    if not builtins:
        log.error(
            "no built-in kind is registered: the installed metadata of %r lacks its %r entry points; "
            "reinstall it (pip install -e .)",
            BUILTIN,
            GROUP,
        )
    return taken


def _kinds() -> dict[str, Kind]:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _discover()
    return _loaded


def refresh() -> None:
    """Read the entry points again (after a package that declares kinds was installed into this process)."""
    global _loaded
    with _lock:
        _loaded = _discover()


def kinds() -> list[Kind]:
    return sorted(_kinds().values(), key=lambda k: k.name)


def get(name: str) -> Kind:
    known = _kinds()
    kind = known.get(name) or next((k for k in known.values() if name in k.aliases), None)
    if kind is None:
        raise InvalidInput(f"unknown kind {name!r}: known kinds are {', '.join(sorted(known))}")
    return kind
