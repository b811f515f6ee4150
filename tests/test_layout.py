"""The arrows between rooms that the README's Layout section names, checked on the package's imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import headwater

PACKAGE = Path(headwater.__file__).parent
PURE = {"addresses", "policy", "globs", "links", "vault", "errors", "settings", "times"}
#: Room -> the rooms it may import (the package root, for `__version__`, is open to all).
ALLOWED: dict[str, set[str]] = {
    "api": {"api", "services", "store", "connectors", "addresses", "errors", "settings", "times"},
    "cli": {"cli", "client", "api", "services", "store", "vault", "settings", "errors", "addresses"},
    "client": {"client", "addresses", "errors", "settings"},
    "services": {"services", "connectors", "store"} | PURE,
    "connectors": {"connectors"} | PURE,
    "store": {"store", "errors"},  # the one error hierarchy: a store that cannot answer is StoreUnavailable
    **dict.fromkeys(PURE, PURE),
}


def room_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def package_files() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.parent != PACKAGE or p.name != "__init__.py"]


def test_each_room_imports_only_the_rooms_its_arrows_allow() -> None:
    wrong = []
    for path in package_files():
        room = room_of(path)
        for module in imports(path):
            parts = module.split(".")
            if parts[0] != "headwater" or len(parts) == 1 or parts[1] == "__version__":
                continue
            if parts[1] not in ALLOWED[room]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


def test_the_api_holds_no_store_session_and_imports_no_sqlalchemy() -> None:
    wrong = []
    for path in sorted((PACKAGE / "api").rglob("*.py")):
        for module in imports(path):
            if module.split(".")[0] == "sqlalchemy":
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
            if module.startswith("headwater.store.") and not module.startswith("headwater.store.models"):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module} (only the row types of store.models)")
        if ".session()" in path.read_text():
            wrong.append(f"{path.relative_to(PACKAGE)} opens a store session")
    assert wrong == []
