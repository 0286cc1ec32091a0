"""Profiles, avatars, presence and blocking in Chromium (issue 13): Boris on a phone-sized
screen edits his profile and crops an avatar; Anna, in her own browser, sees his name, card,
avatar, online / last seen and the block change live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import checkered_png, login, open_people, register, unique
from tests.e2e.helpers import open_chat_with as _open_chat_with

PHONE = {"width": 390, "height": 844}




def test_profile_avatar_presence_and_block_seen_from_another_tab(new_page, browser, app_server, shots, tmp_path):
    anna_login, boris_login = unique("anna"), unique("boris")
    anna = new_page()
    register(anna, anna_login)
    boris = new_page(viewport=PHONE)
    register(boris, boris_login)

    # Boris edits his profile on a phone: the calendar picker fills the typed field, typing wins.
    boris.click("#to-profile")
    boris.wait_for_selector("#save-profile")
    boris.fill(".birth-picker", "1991-05-20")
    expect(boris.locator("#birth")).to_have_value("20.05.1991")
    boris.fill("#real-name", "Boris Bold")
    boris.fill("#bio", "QA lead <b>not bold</b>")
    boris.fill("#birth", "31.02")
    boris.click("#save-profile")
    expect(boris.locator("#profile-error")).to_have_text("There is no such date.")
    boris.fill("#birth", "12.03.1990")
    boris.click("#save-profile")
    expect(boris.locator("#profile-notice")).to_be_visible()
    expect(boris.locator("#birth-label")).to_contain_text("12 March 1990 · ")
    shots(boris, "phone-profile-saved")

    # Anna finds him by login; his real name is the chat's name; he is online.
    _open_chat_with(anna, boris_login, "Boris Bold")
    expect(anna.locator("#room-head .presence")).to_have_text("online")
    anna.click("#room-head")
    card = anna.locator("#profile-card")
    expect(card).to_contain_text("QA lead <b>not bold</b>")  # HTML stays text
    expect(card).to_contain_text("12 March 1990")
    shots(anna, "card")
    anna.click("#card-close")
    anna.fill("#composer", "hi Boris")
    anna.press("#composer", "Enter")
    # Stored before Boris goes on: a private chat makes them contacts (who are told of his
    # avatar) once it holds a message (19#4); a fast crop could otherwise overtake the send.
    expect(anna.locator(".message:not(.pending)", has_text="hi Boris")).to_be_visible()

    # Boris crops an avatar: drag the frame, zoom, save; Anna's header shows it without reload.
    boris.locator(".avatar-upload input[type=file]").set_input_files(checkered_png(tmp_path / "me.png"))
    face = boris.locator(".cropper-face")
    expect(face).to_be_visible()
    box = face.bounding_box()
    boris.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    boris.mouse.down()
    boris.mouse.move(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 10, steps=5)
    boris.mouse.up()
    boris.mouse.wheel(0, -200)  # zoom in
    shots(boris, "phone-cropping")
    boris.click("#avatar-save")
    expect(boris.locator(".gallery-item")).to_have_count(1)
    expect(boris.locator("#profile-notice")).to_be_visible()
    header_img = anna.locator("#room-head").locator("xpath=..").locator("img")
    expect(header_img).to_have_attribute("src", re.compile(r"^/api/avatar/[0-9a-f]{32}/64$"))
    shots(anna, "avatar-live")

    # Boris leaves: Anna sees "last seen" after the grace period, live.
    boris.context.close()
    expect(anna.locator("#room-head .presence")).to_have_text(re.compile(r"^last seen at \d\d:\d\d$"),
                                                              timeout=30_000)
    shots(anna, "last-seen")

    # Boris comes back and blocks Anna from her profile card's counterpart: his chat header menu.
    boris = new_page(viewport=PHONE)
    login(boris, boris_login)
    boris.wait_for_selector("#app-shell")
    boris.locator(".chat-entry").first.click()
    boris.click("#room-menu")
    boris.click("#menu-block")
    expect(boris.locator("#block-banner")).to_be_visible()
    shots(boris, "phone-blocker-banner")
    expect(anna.locator("#blocked-notice")).to_be_visible()
    expect(anna.locator("#room-head .presence")).to_have_count(0)
    expect(header_img).to_have_count(0)
    shots(anna, "blocked-side")
    boris.click("#banner-unblock")
    expect(anna.locator("#room-head .presence")).to_have_text("online")
    expect(header_img).to_have_count(1)


def test_profile_page_in_ukrainian_and_russian_on_a_phone(new_page, browser, app_server, shots):
    for locale, title in (("uk-UA", "Мій профіль"), ("ru-RU", "Мой профиль")):
        ctx = browser.new_context(viewport=PHONE, locale=locale, base_url=app_server.url)
        try:
            page = new_page(context=ctx)
            register(page, unique("lang"))
            page.click("#to-profile")
            expect(page.locator("text=" + title)).to_be_visible()
            page.fill("#birth", "1.3.1990")
            page.click("#save-profile")
            expect(page.locator("#birth-label")).to_contain_text("1990")
            shots(page, f"profile-{locale}")
        finally:
            ctx.close()


def test_empty_search_says_nobody_found_and_the_age_has_its_label(new_page, browser, app_server, shots):
    """18#7: an empty people search showed nothing; the age sat alone under the labelled rows."""
    from corpchat.services import accounts, profiles

    olha = accounts.register(unique("age"), "password123")
    profiles.update_profile(olha.user_id, birth="1.3.1990")
    ctx = browser.new_context(viewport=PHONE, locale="uk-UA", base_url=app_server.url)
    try:
        page = new_page(context=ctx)
        register(page, unique("nob"))
        open_people(page)
        page.fill("#people-search", "zz-nobody-" + unique("x"))
        expect(page.locator("#nobody-found")).to_have_text("Нікого не знайдено.")
        shots(page, "nobody-found-uk")
        page.fill("#people-search", olha.login)
        expect(page.locator("#nobody-found")).to_have_count(0)
        page.locator(".person-entry", has_text=olha.login).click()
        page.locator("#room-title").click()
        expect(page.locator("#card-rows")).to_contain_text("Вік")
        # In the grid, beside its label: the values of the birth date and the age line up.
        lefts = page.evaluate("() => [...document.querySelectorAll('#card-rows > :nth-child(2n)')]"
                              ".map(e => Math.round(e.getBoundingClientRect().left))")
        assert len(set(lefts)) == 1, lefts
        expect(page.locator("#card-age")).to_contain_text("36")
        shots(page, "card-age-uk")
    finally:
        ctx.close()


def test_avatar_choosing_refusing_saving_and_deleting_on_a_dark_phone(new_page, browser, app_server, shots,
                                                                      tmp_path):
    """18#6: the raw 'Choose File' in the browser's language, no message for a non-image, a stale
    preview circle after saving, deleting in one click, the cropper against the card's edge, the
    calendar icon unseen in dark mode."""
    ctx = browser.new_context(viewport=PHONE, locale="uk-UA", base_url=app_server.url, color_scheme="dark")
    try:
        page = new_page(context=ctx)
        register(page, unique("ava"))
        page.click("#to-profile")
        page.wait_for_selector("#birth")
        if not page.evaluate("document.documentElement.classList.contains('dark')"):
            page.locator(".theme-toggle").first.click()
            page.wait_for_function("document.documentElement.classList.contains('dark')")
        expect(page.locator("#avatar-choose")).to_have_text("Виберіть зображення")
        expect(page.locator(".avatar-upload input[type=file]")).to_be_hidden()
        # The calendar button is drawn for a dark page (its icon light); the pseudo-element's own
        # style cannot be read back, so the scheme it is drawn with is checked.
        scheme = page.evaluate("getComputedStyle(document.querySelector('.birth-picker')).colorScheme")
        assert scheme == "dark", scheme

        not_image = tmp_path / "notes.png"
        not_image.write_bytes(b"this is text, not a picture")
        page.locator(".avatar-upload input[type=file]").set_input_files(str(not_image))
        expect(page.get_by_text("PNG, JPEG, WebP").first).to_be_visible()

        page.locator(".avatar-upload input[type=file]").set_input_files(checkered_png(tmp_path / "me.png"))
        expect(page.locator(".cropper-container")).to_be_visible()
        card = page.locator(".rt-Card").first.bounding_box()
        crop = page.locator(".cropper-container").bounding_box()
        assert crop["x"] >= card["x"] + 8 and crop["x"] + crop["width"] <= card["x"] + card["width"] - 8, (crop, card)
        shots(page, "cropping-dark-phone")
        page.click("#avatar-save")
        expect(page.locator(".gallery-item")).to_have_count(1)
        expect(page.locator(".corpchat-avatar-preview")).to_have_count(0)  # no stale circle

        page.locator(".delete-avatar").first.click()
        expect(page.locator("#confirm-delete-avatar")).to_be_visible()  # asked, not done
        expect(page.locator(".gallery-item")).to_have_count(1)
        shots(page, "confirm-delete")
        page.click("#confirm-delete-avatar")
        expect(page.locator(".gallery-item")).to_have_count(0)
    finally:
        ctx.close()
