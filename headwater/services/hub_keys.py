"""The hub's shared keys (the link-signing key, the audit HMAC key): the same on every replica.

Each is 32 random bytes sealed under the master key (`headwater.vault`) in the metadata store's
`hub_keys` table. Whichever replica needs a key first creates it with an insert that loses
gracefully to a concurrent creator, and every replica then reads the one row that won. A hub
that kept the key as a file in its data dir (before keys lived in the store) imports that file
on first start, so the links it signed and the audit digests it wrote stay valid. Keys are read
once per process and never logged; `rotate_master_key` re-seals them with the secrets.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from headwater.store.database import Store
from headwater.store.models import HubKey, now
from headwater.store.rows import insert_once
from headwater.vault import Vault

LINKS = "links"
AUDIT = "audit"
#: The file each key was kept in, in the data dir, before it lived in the store.
LEGACY_FILES = {LINKS: "links.key", AUDIT: "audit.key"}
SIZE = 32


def _legacy(data_dir: Path, name: str) -> bytes | None:
    path = data_dir / LEGACY_FILES[name]
    if not path.is_file():
        return None
    return bytes.fromhex(path.read_text().strip())


def shared_key(store: Store, vault: Vault, name: str, data_dir: Path) -> bytes:
    """The hub's key `name`, created (or imported from its old file in `data_dir`) if no replica has yet."""
    with store.session() as session:
        sealed = session.scalar(select(HubKey.ciphertext).where(HubKey.name == name))
        if sealed is None:
            raw = _legacy(data_dir, name) or secrets.token_bytes(SIZE)
            insert_once(
                session, HubKey, {"name": name, "ciphertext": vault.seal_hub_key(name, raw), "created_at": now()}
            )
    if sealed is None:
        with store.session() as session:  # the row that won, ours or a concurrent creator's
            sealed = session.scalar(select(HubKey.ciphertext).where(HubKey.name == name))
    assert sealed is not None
    return vault.open_hub_key(name, sealed)


def reseal(session: Session, vault: Vault, key: bytes) -> int:
    """Seal every shared key again under the master key `key`; return how many."""
    count = 0
    for row in session.scalars(select(HubKey)):
        row.ciphertext = vault.seal_hub_key(row.name, vault.open_hub_key(row.name, row.ciphertext), key=key)
        count += 1
    return count
