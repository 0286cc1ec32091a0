"""A reaction chip names who reacted; each name opens that person's profile card (issue 13)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import register, unique
from tests.e2e.test_people_browser import _open_chat_with


def test_a_reactors_name_opens_their_card(new_page, app_server, shots):
    anna_login, boris_login = unique("anna"), unique("boris")
    anna, boris = new_page(), new_page()
    register(anna, anna_login)
    register(boris, boris_login)
    _open_chat_with(anna, boris_login, boris_login)
    anna.fill("#composer", "react to me")
    anna.press("#composer", "Enter")
    _open_chat_with(boris, anna_login, anna_login)
    bubble = boris.locator(".message", has_text="react to me")
    bubble.hover()
    bubble.locator(".react-button").click()
    boris.locator(".quick-reaction", has_text="👍").first.click()
    chip = anna.locator(".reaction", has_text="👍")
    expect(chip).to_be_visible()
    chip.hover()
    reactor = anna.locator(".reactor", has_text=boris_login)
    expect(reactor).to_be_visible()
    shots(anna, "reactors")
    reactor.click()
    expect(anna.locator("#card-name")).to_have_text(boris_login)


def _avatar(user_id: int, rgb: tuple[int, int, int]) -> None:
    import io

    from PIL import Image

    from corpchat.services import avatars

    buf = io.BytesIO()
    Image.new("RGB", (200, 200), rgb).save(buf, "PNG")
    avatars.upload_avatar(user_id, buf.getvalue())


def test_reaction_chips_show_the_reactors_photos_and_hide_them_across_a_block(new_page, app_server, shots):
    """18#3: chips showed initials only. Now the faces of the first three reactors, photos where
    they have one, initials where not, then +N; a block either way leaves the initials."""
    import uuid

    from corpchat.services import accounts, blocks, messages, rooms

    anna, boris, *others = (accounts.register(unique(p), "password123") for p in ("ra", "rb", "rc", "rd", "re"))
    _avatar(boris.user_id, (200, 30, 30))
    _avatar(anna.user_id, (30, 30, 200))
    room = rooms.open_private(anna.user_id, boris.user_id)
    message, _ = messages.send_sync(anna.user_id, room, "faces please", uuid.uuid4().hex)
    messages.toggle_reaction(boris.user_id, message["id"], "👍")
    messages.toggle_reaction(anna.user_id, message["id"], "👍")
    page = new_page()
    from tests.e2e.helpers import login
    login(page, anna.login, "password123")
    page.locator(".chat-entry", has_text=boris.login).click()
    chip = page.locator(".reaction", has_text="👍")
    expect(chip.locator(".reactor-face img")).to_have_count(2)
    shots(page, "faces")
    blocks.block(anna.user_id, boris.user_id)
    page.reload()
    expect(chip.locator(".reactor-face")).to_have_count(2)
    expect(chip.locator(".reactor-face img")).to_have_count(1)  # only mine: Boris is behind a block
    shots(page, "faces-blocked")
