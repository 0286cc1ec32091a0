"""Groups in Chromium (issue 22, first step): Anna creates a group from the sidebar with two
people picked; they see it live; she renames it, makes Boris an admin and removes Vera from the
group's settings page (/group/<id>, removing after confirming); the audit log shows it all to
her; on a phone, in Ukrainian, for Boris. Then the photo, the log by person and the refusals."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import checkered_png, pick_person, register, unique

PHONE = {"width": 390, "height": 844}


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
        pick_person(anna, b)
        pick_person(anna, v)
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

        # Anna's settings page: rename, make Boris an admin, remove Vera (after confirming).
        anna.click("#room-menu")
        anna.click("#menu-group")
        expect(anna).to_have_url(re.compile(r"/group/\d+$"))
        panel = anna.locator("#group-page")
        expect(panel.locator(".member")).to_have_count(3)
        expect(panel.locator(".member", has_text=a).locator(".role-badge")).to_have_text("owner")
        anna.fill("#group-name", "Launch team")
        anna.click("#group-rename")
        expect(anna.locator("#group-title")).to_have_text("Launch team")
        expect(boris.locator("#room-title")).to_have_text("Launch team")
        panel.locator(".member", has_text=b).locator(".member-menu").click()
        anna.locator(".make-admin").click()
        expect(panel.locator(".member", has_text=b).locator(".role-badge")).to_have_text("admin")
        panel.locator(".member", has_text=v).locator(".member-menu").click()
        anna.locator(".remove-member").click()
        expect(anna.locator("#confirm-dialog")).to_contain_text(v)
        anna.click("#confirm-cancel")  # changed her mind: nothing happens
        expect(panel.locator(".member")).to_have_count(3)
        panel.locator(".member", has_text=v).locator(".member-menu").click()
        anna.locator(".remove-member").click()
        anna.click("#confirm-ok")
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

        # Boris is an admin now: he reads the log too; a member is refused (test below).
        boris.click("#room-menu")
        boris.click("#menu-group")
        boris.click("#log-tab")
        expect(boris.locator("#group-log .log-entry").first).to_be_visible()
        shots(boris, "phone-page-admin-uk")
        # Vera's old address of the group: she is no member any more.
        vera.goto(anna.url)
        expect(vera.locator("#group-refused")).to_be_visible()
    finally:
        ctx_b.close()
        ctx_v.close()


def _group(anna, a: str, name: str, *people: str) -> None:
    anna.click("#new-group")
    anna.fill("#new-group-name", name)
    for p in people:
        pick_person(anna, p)
    anna.click("#new-group-create")
    expect(anna.locator("#room-title")).to_have_text(name)


def test_settings_page_photo_live_remove_confirmed_log_by_person_and_refusals(browser, app_server, shots, tmp_path):
    a, b, v, o = unique("pa"), unique("pb"), unique("pv"), unique("po")
    langs = {"en": "en-US", "uk": "uk-UA", "ru": "ru-RU"}
    ctx = {k: browser.new_context(base_url=app_server.url, viewport={"width": 1100, "height": 760}, locale=loc)
           for k, loc in langs.items()}
    ctx["phone"] = browser.new_context(base_url=app_server.url, viewport=PHONE, locale="ru-RU")
    try:
        anna, boris, vera, olga = ctx["en"].new_page(), ctx["uk"].new_page(), ctx["phone"].new_page(), \
            ctx["ru"].new_page()
        for page, login in ((anna, a), (boris, b), (vera, v), (olga, o)):
            register(page, login)
        _group(anna, a, "Photo club", b, v)
        expect(boris.locator(".chat-entry", has_text="Photo club")).to_be_visible()
        expect(vera.locator(".chat-entry", has_text="Photo club")).to_be_visible()

        anna.click("#room-menu")
        anna.click("#menu-group")
        page = anna.locator("#group-page")
        expect(page.locator(".member")).to_have_count(3)
        # The photo: chosen, cropped, saved; Boris's chat list shows it without a reload.
        chosen = checkered_png(tmp_path / "club.png", (200, 60, 30))
        anna.locator(".group-photo-upload input[type=file]").set_input_files(chosen)
        expect(anna.locator(".cropper-face")).to_be_visible()
        anna.click("#group-photo-save")
        photo = re.compile(r"^/api/avatar/[0-9a-f]{32}/64$")
        expect(anna.locator("#group-page img").first).to_have_attribute("src", photo)
        entry = boris.locator(".chat-entry", has_text="Photo club")
        expect(entry.locator("img")).to_have_attribute("src", photo)
        expect(entry.locator(".chat-preview")).to_contain_text("фото групи")
        src = entry.locator("img").get_attribute("src")
        assert boris.request.get(src).status == 200  # a member's browser gets it
        assert olga.request.get(src).status == 404  # a non-member's does not
        shots(anna, "page-en")
        shots(boris, "chat-list-photo-uk")

        # Remove Vera after confirming: her tab (a phone) loses the group at once.
        page.locator(".member", has_text=v).locator(".member-menu").click()
        anna.locator(".remove-member").click()
        expect(anna.locator("#confirm-dialog")).to_contain_text(v)
        anna.click("#confirm-ok")
        expect(page.locator(".member")).to_have_count(2)
        expect(vera.locator(".chat-entry", has_text="Photo club")).to_have_count(0)

        # The log, newest first, then filtered by person (Vera: her add and her removal).
        anna.click("#log-tab")
        log = anna.locator("#group-log .log-entry")
        expect(log.first).to_contain_text(f"{a} removed {v}")
        expect(log).to_have_count(5)  # create, 2 x add, photo, remove
        anna.click("#log-person")
        anna.get_by_role("option", name=v).click()
        expect(log).to_have_count(2)
        expect(log.first).to_contain_text(f"{a} removed {v}")
        expect(log.nth(1)).to_contain_text(f"{a} added {v}")
        shots(anna, "page-log-by-person-en")

        # Boris, a member: his page works but the log tab refuses; in Ukrainian.
        group_url = anna.url
        boris.goto(group_url)
        expect(boris.locator("#group-page .member")).to_have_count(2)
        expect(boris.locator(".remove-member")).to_have_count(0)
        expect(boris.locator("#group-photo")).to_have_count(0)  # not his to change
        shots(boris, "page-member-uk")
        boris.click("#log-tab")
        expect(boris.locator("#log-refused")).to_be_visible()
        expect(boris.locator("#group-log")).to_have_count(0)
        shots(boris, "page-log-refused-uk")

        # Olga (not a member) and a forged id: a clear refusal, in Russian; Olga's phone too.
        olga.goto(group_url)
        expect(olga.locator("#group-refused")).to_contain_text("Такой группы здесь нет")
        shots(olga, "page-refused-ru")
        olga.goto("/group/99999999999")
        expect(olga.locator("#group-refused")).to_be_visible()
        olga.goto("/group/abc")
        expect(olga.locator("#group-refused")).to_be_visible()

        # Anna makes Olga a member, then Olga's page in Russian on a phone (390 x 844).
        anna.click("#log-tab")
        anna.locator("#group-page").get_by_role("radio").first.click()
        anna.fill(".add-people-search input", o)
        anna.locator(".pick", has_text=o).click()
        anna.click("#add-picked")
        expect(page.locator(".member")).to_have_count(3)
        olga.goto(group_url)
        expect(olga.locator("#group-page .member")).to_have_count(3)
        shots(olga, "page-member-ru")
        olga.set_viewport_size(PHONE)
        shots(olga, "phone-page-ru")
        anna.set_viewport_size(PHONE)
        shots(anna, "phone-page-en")
        boris.set_viewport_size(PHONE)
        shots(boris, "phone-page-uk")
        olga.click("#group-back")
        expect(olga.locator("#room-title")).to_have_text("Photo club")
    finally:
        for c in ctx.values():
            c.close()
