"""Where a `python` app's `module:function` lives, found on the sandbox's module path without importing it.

The hub never imports a module a user named: importing runs code (a package's `__init__`).
The search walks the path finders only, as the sandboxed child's import would, over the
folders the sandbox shows: the Python installation's own module path and HEADWATER_SANDBOX_PATH.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import PathFinder


def module_path(installation: list[str], extra: list[str]) -> list[str]:
    """The child's `sys.path`: the extra folders first, then the hub's entries that lie in the installation."""
    inside = [
        entry
        for entry in sys.path
        if entry
        and os.path.isabs(entry)
        and any(
            os.path.realpath(entry) == d or os.path.realpath(entry).startswith(d.rstrip("/") + "/")
            for d in installation
        )
    ]
    return [*extra, *inside]


def exists(module: str, path: list[str]) -> bool:
    """Whether `module` (dotted) is a module or package found on `path`, without importing any of it."""
    parts = module.split(".")
    spec = PathFinder.find_spec(parts[0], path)
    for depth in range(1, len(parts)):
        locations = spec.submodule_search_locations if spec is not None else None
        if not locations:
            return False
        spec = PathFinder.find_spec(".".join(parts[: depth + 1]), list(locations))
    return spec is not None
