"""The portal's Access keys page: create a key (its secret shown once, gone on the next render), list, revoke."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from headwater.errors import AccessKeyUnknown
from headwater.services import access_keys
from tests.portal.conftest import Portal


def test_an_access_key_is_created_with_its_secret_shown_once_then_listed_and_revoked(portal: Portal) -> None:
    page = portal.page
    token = portal.hub.token(admin=False)
    portal.sign_in(token)
    page.get_by_role("link", name="Access keys").click()
    portal.heading("Access keys")
    expect(page.get_by_text("No access keys yet.")).to_be_visible()
    portal.snap("keys-empty", shot=True)

    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Read-only").check()
    page.get_by_label("Expires").select_option("1d")
    page.get_by_role("button", name="Create access key").click()
    panel = page.get_by_role("region", name=re.compile(r"^New access key HW"))
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("shown this once")
    secret = page.locator("#new-key-secret").inner_text().strip()
    key_id = panel.get_by_role("heading").inner_text().rsplit(" ", 1)[1]
    assert len(secret) == 40 and len(key_id) == 20
    expect(panel.locator("pre")).to_contain_text(f"export AWS_ACCESS_KEY_ID={key_id}")
    portal.shots("keys-created")  # screenshots only: the secret is meant to be on this one page
    acting, resolved = access_keys.resolve_blocking(portal.hub.hub, key_id)
    assert resolved == secret and acting.read_only

    row = page.get_by_role("row", name=re.compile(key_id))
    expect(row).to_contain_text("laptop")
    expect(row).to_contain_text("Read-only")
    panel.get_by_role("button", name="Done").click()
    expect(page.get_by_role("region", name=re.compile(r"^New access key"))).to_have_count(0)
    portal.snap("keys-listed", shot=True)
    portal.goto("keys")
    portal.heading("Access keys")
    portal.snap("keys-reloaded")

    page.get_by_role("row", name=re.compile(key_id)).get_by_role("button", name=f"Revoke access key {key_id}").click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Revoke").click()
    expect(portal.flash()).to_contain_text(f"Revoked access key {key_id}")
    expect(page.get_by_text("No access keys yet.")).to_be_visible()
    portal.snap("keys-revoked")
    with pytest.raises(AccessKeyUnknown):
        access_keys.resolve_blocking(portal.hub.hub, key_id)
    portal.assert_never_shown(secret)  # on no page but the one that created it
