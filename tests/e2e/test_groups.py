"""Groups in Chromium (issue 22, first step): Anna creates a group from the sidebar with two
people picked; they see it live; she renames it, makes Boris an admin and removes Vera from the
group panel; the audit log shows it all to her and is not offered to a member; on a phone, in
Ukrainian, for Boris."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import register, unique

PHONE = {"width": 390, "height": 844}


def _pick(page, login_name: str) -> None:
    page.fill(".new-group-search input", login_name)
    page.locator(".pick", has_text=login_name).click()
    expect(page.locator(".picked", has_text=login_name)).to_be_visible()


def test_create_rename_promote_remove_and_the_audit_log(new_page, browser, app_server, shots):
    a, b, v = unique("ga"), unique("gb"), unique("gv")
    anna = new_page()
    register(anna, a)
    ctx_b = browser.new_context(base_url=app_server.url, viewport=PHONE, locale="uk-UA")
    ctx_v = browser.new_context(base_url=app_server.url, viewport={"width": 1000, "height": 700}, locale="en-US")
    try:
        boris, vera = ctx_b.new_page(), ctx_v.new_page()
        register(boris, b)
        register(vera, v)

        anna.click("#new-group")
        expect(anna.locator("#new-group-dialog")).to_be_visible()
        anna.fill("#new-group-name", "Launch crew")
        _pick(anna, b)
        _pick(anna, v)
        shots(anna, "new-group-picked")
        anna.click("#new-group-create")
        expect(anna.locator("#room-title")).to_have_text("Launch crew")
        expect(anna.locator("#room-members")).to_have_text("3 members")
        expect(anna.locator(".system-message")).to_contain_text(f"{a} created the group “Launch crew”")

        entry = boris.locator(".chat-entry", has_text="Launch crew")
        expect(entry).to_be_visible()
        expect(entry.locator(".chat-preview")).to_contain_text("створив(ла) групу")
        entry.click()
        expect(boris.locator("#room-members")).to_have_text("3 учасники")
        shots(boris, "phone-group-uk")
        vera.locator(".chat-entry", has_text="Launch crew").click()

        # Anna's panel: rename, make Boris an admin, remove Vera.
        anna.click("#room-menu")
        anna.click("#menu-group")
        panel = anna.locator("#group-panel")
        expect(panel.locator(".member")).to_have_count(3)
        expect(panel.locator(".member", has_text=a).locator(".role-badge")).to_have_text("owner")
        anna.fill("#group-name", "Launch team")
        anna.click("#group-rename")
        expect(anna.locator("#room-title")).to_have_text("Launch team")
        expect(boris.locator("#room-title")).to_have_text("Launch team")
        panel.locator(".member", has_text=b).locator(".member-menu").click()
        anna.locator(".make-admin").click()
        expect(panel.locator(".member", has_text=b).locator(".role-badge")).to_have_text("admin")
        panel.locator(".member", has_text=v).locator(".member-menu").click()
        anna.locator(".remove-member").click()
        expect(panel.locator(".member")).to_have_count(2)
        expect(vera.locator(".chat-entry", has_text="Launch team")).to_have_count(0)
        expect(vera.locator("#room-title")).to_have_count(0)
        expect(boris.locator("#room-members")).to_have_text("2 учасники")
        expect(boris.locator(".system-message", has_text=re.compile("видалив\\(ла\\)"))).to_be_visible()

        anna.click("#log-tab")
        log = anna.locator("#group-log .log-entry")
        expect(log.first).to_contain_text(f"{a} removed {v}")
        expect(log).to_have_count(6)  # create, 2 x add, rename, promote, remove
        expect(anna.locator("#group-log")).to_contain_text(f"{a} renamed the group from “Launch crew” to “Launch team”")
        shots(anna, "audit-log")

        # Boris is an admin now: he sees the log too; a member would not (services refuse it too).
        boris.click("#room-menu")
        boris.click("#menu-group")
        expect(boris.locator("#log-tab")).to_be_visible()
        shots(boris, "phone-panel-admin-uk")
    finally:
        ctx_b.close()
        ctx_v.close()
