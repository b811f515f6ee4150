"""Specification of secret encryption: AES-256-GCM, bound to its row, rotatable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from headwater.vault import Keyring, Vault, VaultError, generate_key


def test_sealed_values_open_with_the_same_org_and_id() -> None:
    vault = Vault(Keyring.parse(generate_key()))
    sealed = vault.seal({"secretKey": "s3cr3t"}, org_id="o1", secret_id="a")
    assert "s3cr3t" not in sealed
    assert vault.open_values(sealed, org_id="o1", secret_id="a") == {"secretKey": "s3cr3t"}


def test_every_seal_uses_a_fresh_nonce() -> None:
    vault = Vault(Keyring.parse(generate_key()))
    assert vault.seal({"k": "v"}, org_id="o", secret_id="a") != vault.seal({"k": "v"}, org_id="o", secret_id="a")


@pytest.mark.parametrize("org, secret", [("o1", "b"), ("o2", "a")])
def test_a_ciphertext_moved_to_another_row_fails_to_decrypt(org: str, secret: str) -> None:
    vault = Vault(Keyring.parse(generate_key()))
    sealed = vault.seal({"secretKey": "x"}, org_id="o1", secret_id="a")
    with pytest.raises(VaultError, match="another row"):
        vault.open_values(sealed, org_id=org, secret_id=secret)


def test_a_key_file_is_generated_with_mode_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    Vault.open(key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_the_environment_key_overrides_the_file(tmp_path: Path) -> None:
    key = generate_key()
    vault = Vault.open(tmp_path / "master.key", override=key)
    assert not (tmp_path / "master.key").exists()
    assert vault.keyring.keys == Keyring.parse(key).keys


def test_a_vault_reloads_its_key_file_when_it_meets_an_unknown_key(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    reader = Vault.open(key_file)
    writer = Vault.open(key_file)
    new = Keyring.parse(generate_key())
    from headwater.vault import write_key_file

    write_key_file(key_file, new)
    writer.keyring = new
    sealed = writer.seal({"k": "v"}, org_id="o", secret_id="s")
    assert reader.open_values(sealed, org_id="o", secret_id="s") == {"k": "v"}


def test_a_wrong_key_is_refused_without_revealing_the_value() -> None:
    sealed = Vault(Keyring.parse(generate_key())).seal({"secretKey": "hidden-value"}, org_id="o", secret_id="s")
    with pytest.raises(VaultError) as info:
        Vault(Keyring.parse(generate_key())).open_values(sealed, org_id="o", secret_id="s")
    assert "hidden-value" not in str(info.value)
