"""Encryption of secret values under the master key (AES-256-GCM).

Each ciphertext records the id of the key that sealed it, so several keys can be
held at once: that is what lets `rotate-master-key` re-encrypt rows while the hub
keeps reading. The associated data binds a ciphertext to its organization and
secret id, so a ciphertext copied to another row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as pysecrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from headwater.errors import VaultError

FORMAT = "v1"


def generate_key() -> str:
    """A new 256-bit master key, URL-safe base64 encoded."""
    return base64.urlsafe_b64encode(pysecrets.token_bytes(32)).decode()


def _decode_key(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    if len(raw) != 32:
        raise ValueError("a master key must be 32 bytes, URL-safe base64 encoded")
    return raw


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"headwater-key-id" + key).hexdigest()[:12]


@dataclass
class Keyring:
    """Master keys by id; the first is the one new ciphertexts are sealed with."""

    keys: list[bytes]

    @classmethod
    def parse(cls, text: str) -> Keyring:
        keys = [_decode_key(part) for part in text.replace("\n", ",").split(",") if part.strip()]
        if not keys:
            raise ValueError("no master key given")
        return cls(keys)

    def dump(self) -> str:
        return "\n".join(base64.urlsafe_b64encode(k).decode() for k in self.keys) + "\n"

    @property
    def primary(self) -> bytes:
        return self.keys[0]

    def find(self, kid: str) -> bytes | None:
        for key in self.keys:
            if key_id(key) == kid:
                return key
        return None


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Write the keyring with mode 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keyring.dump())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def create_key_file(path: Path) -> None:
    """A new key file with one generated key, unless one exists already: of processes starting at
    once (`serve --workers`), exactly one creates it and every other keeps that one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{pysecrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(Keyring([_decode_key(generate_key())]).dump())
    try:
        os.link(tmp, path)  # fails when another process created the key first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


class Vault:
    """Seals and opens secret values. Reloads its key file when it meets an unknown key id."""

    def __init__(self, keyring: Keyring, key_file: Path | None = None) -> None:
        self.keyring = keyring
        self.key_file = key_file

    @classmethod
    def open(cls, key_file: Path, override: str | None = None) -> Vault:
        """The vault of a hub: `override` (HEADWATER_MASTER_KEY) or the key file, created on first use."""
        if override:
            return cls(Keyring.parse(override))
        if not key_file.exists():
            create_key_file(key_file)
        return cls(Keyring.parse(key_file.read_text()), key_file)

    def reload(self) -> None:
        if self.key_file is not None and self.key_file.exists():
            self.keyring = Keyring.parse(self.key_file.read_text())

    @staticmethod
    def _aad(org_id: str, secret_id: str) -> bytes:
        return f"headwater-secret:{org_id}:{secret_id}".encode()

    def seal(self, values: dict[str, str], *, org_id: str, secret_id: str, key: bytes | None = None) -> str:
        plaintext = json.dumps(values, separators=(",", ":")).encode()
        return self._seal(plaintext, self._aad(org_id, secret_id), key)

    def _seal(self, plaintext: bytes, aad: bytes, key: bytes | None) -> str:
        key = key or self.keyring.primary
        nonce = pysecrets.token_bytes(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext, aad)
        return f"{FORMAT}:{key_id(key)}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def key_id_of(self, ciphertext: str) -> str:
        try:
            fmt, kid, _ = ciphertext.split(":", 2)
        except ValueError as exc:
            raise VaultError("the stored secret is not in a known format") from exc
        if fmt != FORMAT:
            raise VaultError("the stored secret is not in a known format")
        return kid

    def _open(self, ciphertext: str, aad: bytes, what: str) -> bytes:
        kid = self.key_id_of(ciphertext)
        key = self.keyring.find(kid)
        if key is None:
            self.reload()
            key = self.keyring.find(kid)
        if key is None:
            raise VaultError(f"{what} was sealed with a master key this hub does not hold")
        blob = base64.urlsafe_b64decode(ciphertext.split(":", 2)[2])
        try:
            return AESGCM(key).decrypt(blob[:12], blob[12:], aad)
        except InvalidTag as exc:
            raise VaultError(f"{what} failed to decrypt: it was altered or belongs to another row") from exc

    def open_values(self, ciphertext: str, *, org_id: str, secret_id: str) -> dict[str, str]:
        plaintext = self._open(ciphertext, self._aad(org_id, secret_id), f"secret {secret_id!r}")
        values: dict[str, str] = json.loads(plaintext)
        return values

    def seal_hub_key(self, name: str, raw: bytes, key: bytes | None = None) -> str:
        """Seal one of the hub's shared keys (`headwater.services.hub_keys`), bound to its name."""
        return self._seal(raw, f"headwater-hub-key:{name}".encode(), key)

    def open_hub_key(self, name: str, ciphertext: str) -> bytes:
        return self._open(ciphertext, f"headwater-hub-key:{name}".encode(), f"the hub key {name!r}")

    def seal_access_key(self, secret: str, *, org_id: str, key_id: str, key: bytes | None = None) -> str:
        """Seal an S3 access key's secret (SigV4 needs it in the clear to verify), bound to its organization and id."""
        return self._seal(secret.encode(), f"headwater-access-key:{org_id}:{key_id}".encode(), key)

    def open_access_key(self, ciphertext: str, *, org_id: str, key_id: str) -> str:
        aad = f"headwater-access-key:{org_id}:{key_id}".encode()
        return self._open(ciphertext, aad, f"access key {key_id!r}").decode()
