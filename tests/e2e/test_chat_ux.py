"""Issue 11, found by trying CorpChat as a new user would: drafts stay in their chat, a chat
opens at its first unread message, deletes are confirmed, my reaction chip is readable, the tab
title counts unread messages, and the theme toggle is on the chat screen."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from corpchat.services import accounts, messages, rooms
from tests.e2e.helpers import PASSWORD, login, unique
from tests.e2e.test_messaging import _bubble, _open_chat_with, _send

PHONE = {"width": 390, "height": 844}
SECRET = "secret for boris only"


def _open_listed(page, login_name: str) -> None:
    page.locator(".chat-entry", has_text=login_name).click()
    expect(page.locator("#room-title")).to_have_text(login_name)


def _seed_users(*prefixes: str):
    users = [accounts.register(unique(p), PASSWORD) for p in prefixes]
    return users


def _say(actor: int, room: int, text: str) -> dict:
    message, _ = messages.send_sync(actor, room, text, uuid.uuid4().hex)
    return message


# --- 8: drafts --------------------------------------------------------------------------------
def test_a_draft_stays_in_its_chat_and_survives_a_reload(new_page, shots):
    anna, boris, olena = _seed_users("anna", "boris", "olena")
    for other in (boris, olena):
        room = rooms.open_private(anna.user_id, other.user_id)
        _say(other.user_id, room, f"hi from {other.login}")
    page = new_page()
    login(page, anna.login)
    olena_page = new_page()
    login(olena_page, olena.login)
    _open_listed(olena_page, anna.login)

    _open_listed(page, boris.login)
    page.fill("#composer", SECRET)
    _open_listed(page, olena.login)
    expect(page.locator("#composer")).to_have_value("")
    shots(page, "olena-box-empty")
    page.press("#composer", "Enter")  # an empty box sends nothing
    _send(page, "hello olena")
    expect(_bubble(olena_page, "hello olena")).to_be_visible()
    expect(page.locator("#composer")).to_have_value("")

    _open_listed(page, boris.login)
    expect(page.locator("#composer")).to_have_value(SECRET)
    shots(page, "boris-draft-back")

    # A reload in Olena's chat, then in Boris's: each chat has its own box.
    _open_listed(page, olena.login)
    page.reload()
    expect(page.locator("#room-title")).to_have_text(olena.login)
    expect(page.locator("#composer")).to_have_value("")
    _open_listed(page, boris.login)
    expect(page.locator("#composer")).to_have_value(SECRET)
    page.reload()
    expect(page.locator("#room-title")).to_have_text(boris.login)
    expect(page.locator("#composer")).to_have_value(SECRET)

    # Typed and reloaded without leaving the box: the pause in typing saved it.
    page.fill("#composer", SECRET + ", edited")
    page.wait_for_timeout(1500)
    page.reload()
    expect(page.locator("#composer")).to_have_value(SECRET + ", edited")
    _open_listed(page, olena.login)
    expect(page.locator("#composer")).to_have_value("")

    # Sent to Boris: the draft is gone, in this tab, after a reload and in the database.
    _open_listed(page, boris.login)
    page.press("#composer", "Enter")
    expect(_bubble(page, SECRET + ", edited")).to_be_visible()
    expect(page.locator("#composer")).to_have_value("")
    page.wait_for_timeout(1500)  # a late debounced save of the sent text must not bring it back
    page.reload()
    expect(page.locator("#room-title")).to_have_text(boris.login)
    expect(page.locator("#composer")).to_have_value("")
    from corpchat.services import drafts

    with_boris = rooms.open_private(anna.user_id, boris.user_id)
    assert drafts.draft_of(anna.user_id, with_boris) == ""

    # Olena never got the text, not as a message, not in any box.
    assert SECRET not in olena_page.content()
    olena_room = rooms.open_private(anna.user_id, olena.user_id)
    assert all(SECRET not in m["text"] for m in messages.history(olena.user_id, olena_room)[0])
    assert drafts.draft_of(anna.user_id, olena_room) == ""


def test_drafts_on_a_phone(new_page, shots):
    anna, boris, olena = _seed_users("pa", "pb", "po")
    for other in (boris, olena):
        _say(other.user_id, rooms.open_private(anna.user_id, other.user_id), "hello")
    page = new_page(viewport=PHONE)
    login(page, anna.login)
    _open_listed(page, boris.login)
    page.fill("#composer", SECRET)
    page.locator(".back-button").click()
    _open_listed(page, olena.login)
    expect(page.locator("#composer")).to_have_value("")
    page.locator(".back-button").click()
    _open_listed(page, boris.login)
    expect(page.locator("#composer")).to_have_value(SECRET)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots(page, "phone-draft")


# --- 11: open at the first unread -------------------------------------------------------------
def _unread_room(n: int, *, read_before: bool = True):
    anna, boris = _seed_users("ua", "ub")
    room = rooms.open_private(anna.user_id, boris.user_id)
    first = _say(anna.user_id, room, "already read")
    if read_before:
        rooms.mark_read(boris.user_id, room, first["seq"])
    for i in range(1, n + 1):
        _say(anna.user_id, room, f"unread number {i:03d}")
    return anna, boris


def _check_opens_at_divider(page, anna, n: int, shots, label: str) -> None:
    _open_listed(page, anna.login)
    divider = page.locator(".new-divider")
    expect(divider).to_have_count(1)
    expect(divider).to_be_in_viewport()
    expect(_bubble(page, "unread number 001")).to_be_in_viewport()
    expect(_bubble(page, f"unread number {n:03d}")).not_to_be_in_viewport()
    shots(page, label)


def test_a_chat_with_unread_messages_opens_at_the_first_unread(new_page, shots):
    anna, boris = _unread_room(65)
    page = new_page()
    login(page, boris.login)
    _check_opens_at_divider(page, anna, 65, shots, "divider-on-top")
    page.wait_for_timeout(800)  # nothing scrolls it away afterwards (older pages, late renders)
    expect(page.locator(".new-divider")).to_be_in_viewport()


def test_first_unread_on_a_phone(new_page, shots):
    anna, boris = _unread_room(70)
    page = new_page(viewport=PHONE)
    login(page, boris.login)
    _check_opens_at_divider(page, anna, 70, shots, "phone-divider")


def test_switching_between_two_unread_chats_opens_each_at_its_divider(new_page, shots):
    anna, boris = _unread_room(40)
    olena = _seed_users("uo")[0]
    room = rooms.open_private(olena.user_id, boris.user_id)
    rooms.mark_read(boris.user_id, room, _say(olena.user_id, room, "olena read")["seq"])
    for i in range(1, 41):
        _say(olena.user_id, room, f"olena unread {i:03d}")
    page = new_page()
    login(page, boris.login)
    _check_opens_at_divider(page, anna, 40, shots, "first-chat")
    # The same divider position in the next chat: the scroll is not left to the first one's.
    _open_listed(page, olena.login)
    expect(page.locator(".new-divider")).to_be_in_viewport()
    expect(_bubble(page, "olena unread 001")).to_be_in_viewport()
    expect(_bubble(page, "olena unread 040")).not_to_be_in_viewport()
    shots(page, "second-chat")


def test_a_chat_never_opened_opens_at_its_first_message(new_page, shots):
    anna, boris = _unread_room(64, read_before=False)
    page = new_page()
    login(page, boris.login)
    _open_listed(page, anna.login)
    expect(page.locator(".new-divider")).to_be_in_viewport()
    expect(_bubble(page, "already read")).to_be_in_viewport()  # (not read: the first message)
    expect(_bubble(page, "unread number 064")).not_to_be_in_viewport()
    shots(page, "never-opened")


# --- 12: confirmations ------------------------------------------------------------------------
def test_delete_for_everyone_and_delete_chat_are_confirmed(new_page, browser, app_server, shots):
    anna, boris = _seed_users("ca", "cb")
    room = rooms.open_private(anna.user_id, boris.user_id)
    _say(anna.user_id, room, "take this back")
    page = new_page()
    login(page, anna.login)
    _open_listed(page, boris.login)
    # Boris reads Ukrainian.
    ctx = browser.new_context(viewport=PHONE, locale="uk-UA", base_url=app_server.url)
    try:
        other = ctx.new_page()
        login(other, boris.login)
        _open_listed(other, anna.login)
        expect(_bubble(other, "take this back")).to_be_visible()

        def ask_delete_all():
            _bubble(page, "take this back").locator(".msg-menu").click()
            page.locator(".do-delete-all").click()
            expect(page.locator("#confirm-dialog")).to_be_visible()

        ask_delete_all()
        expect(page.locator("#confirm-dialog")).to_contain_text("Delete for everyone?")
        expect(page.locator("#confirm-dialog")).to_contain_text(f"for you and for {boris.login}")
        shots(page, "ask-delete-all")
        page.click("#confirm-cancel")
        expect(page.locator("#confirm-dialog")).to_have_count(0)
        page.wait_for_timeout(500)
        expect(_bubble(page, "take this back")).to_be_visible()
        expect(_bubble(other, "take this back")).to_be_visible()

        ask_delete_all()
        page.keyboard.press("Escape")  # Escape cancels too
        expect(page.locator("#confirm-dialog")).to_have_count(0)
        expect(_bubble(page, "take this back")).to_be_visible()

        ask_delete_all()
        page.click("#confirm-ok")
        expect(_bubble(page, "take this back")).to_have_count(0)
        expect(_bubble(other, "take this back")).to_have_count(0)

        # Delete chat, in Ukrainian on a phone: "only for you", and the other side keeps it.
        _send(page, "still here")
        expect(_bubble(other, "still here")).to_be_visible()
        other.click("#room-menu")
        other.click("#delete-chat")
        dialog = other.locator("#confirm-dialog")
        expect(dialog).to_contain_text("Видалити цей чат?")
        expect(dialog).to_contain_text(f"лише для вас: у {anna.login}")
        shots(other, "phone-uk-ask-delete-chat")
        other.click("#confirm-cancel")
        expect(dialog).to_have_count(0)
        expect(_bubble(other, "still here")).to_be_visible()
        other.click("#room-menu")
        other.click("#delete-chat")
        other.click("#confirm-ok")
        expect(other.locator(".chat-entry", has_text=anna.login)).to_have_count(0)
        expect(_bubble(page, "still here")).to_be_visible()
    finally:
        ctx.close()


# --- 13: reaction chip contrast, tab title, theme toggle --------------------------------------
# The WCAG contrast of an element's text against what is painted behind it (its own and its
# ancestors' backgrounds, composited), colours read through a canvas so any CSS colour space works.
CONTRAST_JS = """(el) => {
  const ctx = Object.assign(document.createElement('canvas'), {width: 1, height: 1})
    .getContext('2d', {willReadFrequently: true});
  const rgba = (c) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255]; };
  const over = (top, base) => [0, 1, 2].map(i => top[i] * top[3] + base[i] * (1 - top[3]));
  const layers = [];
  for (let e = el; e; e = e.parentElement) layers.push(rgba(getComputedStyle(e).backgroundColor));
  let bg = [255, 255, 255];
  for (const layer of layers.reverse()) bg = over(layer, bg);
  const fg = over(rgba(getComputedStyle(el).color), bg);
  const lum = (c) => { const [r, g, b] = c.map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def _is_dark(page) -> bool:
    return page.evaluate("document.documentElement.classList.contains('dark')")


def _contrasts(page) -> dict[str, float]:
    out = {}
    for name, sel in (("my initials", ".reaction.mine .rt-AvatarFallback"),
                      ("my count", ".reaction.mine .reaction-count"),
                      ("their initials", ".reaction:not(.mine) .rt-AvatarFallback"),
                      ("their count", ".reaction:not(.mine) .reaction-count")):
        for i, el in enumerate(page.locator(sel).element_handles()):
            out[f"{name} {i}"] = el.evaluate(CONTRAST_JS)
    return out


def test_my_reaction_chip_is_readable_in_both_themes(new_page, shots):
    anna, boris = _seed_users("ra", "rb")
    room = rooms.open_private(anna.user_id, boris.user_id)
    message = _say(boris.user_id, room, "react to me")
    messages.toggle_reaction(boris.user_id, message["id"], "👍")
    messages.toggle_reaction(boris.user_id, message["id"], "🔥")
    page = new_page()
    login(page, anna.login)
    _open_listed(page, boris.login)
    _bubble(page, "react to me").locator(".reaction", has_text="👍").click()  # now mine too
    expect(page.locator(".reaction.mine .rt-AvatarFallback")).to_have_count(2)
    toggle = page.locator("#sidebar .theme-toggle")
    for theme in ("light", "dark"):
        if _is_dark(page) != (theme == "dark"):
            toggle.click()
            page.wait_for_function(f"document.documentElement.classList.contains('dark') === "
                                   f"{str(theme == 'dark').lower()}")
            page.wait_for_timeout(300)  # the theme's colours are in place
        shots(page, f"reactions-{theme}")
        values = _contrasts(page)
        assert len(values) == 5, values  # 2 initials + a count on mine, 1 + 1 on theirs
        low = {k: round(v, 2) for k, v in values.items() if v < 4.5}
        assert not low, f"{theme}: contrast below 4.5:1: {low}"


def test_tab_title_counts_unread_and_theme_toggle_on_the_chat_page(new_page, shots):
    anna, boris, olena = _seed_users("ta", "tb", "to")
    with_boris = rooms.open_private(anna.user_id, boris.user_id)
    with_olena = rooms.open_private(anna.user_id, olena.user_id)
    _say(olena.user_id, with_olena, "olena here")
    page = new_page()
    login(page, anna.login)
    expect(page).to_have_title("(1) CorpChat")
    _open_listed(page, olena.login)
    expect(page).to_have_title("CorpChat")

    sender = new_page()
    login(sender, boris.login)
    _open_chat_with(sender, anna.login)
    _send(sender, "one")
    expect(page).to_have_title("(1) CorpChat")
    _send(sender, "two")
    _send(sender, "three")
    expect(page).to_have_title("(3) CorpChat")
    shots(page, "title-3")
    _open_listed(page, boris.login)
    expect(page).to_have_title("CorpChat")
    assert messages.history(anna.user_id, with_boris)[0]

    # The theme toggle is on the chat page (the sidebar), on a phone too.
    phone = new_page(viewport=PHONE)
    login(phone, anna.login)
    # the chat list has come: the page is hydrated and a click reaches its handler
    expect(phone.locator(".chat-entry", has_text=olena.login)).to_be_visible()
    toggle = phone.locator("#sidebar .theme-toggle")
    expect(toggle).to_be_visible()
    before = _is_dark(phone)
    toggle.click()
    phone.wait_for_function(f"document.documentElement.classList.contains('dark') === {str(not before).lower()}")
    shots(phone, "phone-theme-toggled")
    toggle.click()
    phone.wait_for_function(f"document.documentElement.classList.contains('dark') === {str(before).lower()}")


def test_a_send_that_overtakes_opening_another_chat_does_not_land_there(new_page):
    """Click Olena and press Enter before the server has answered the click: the text typed in
    Boris's box is sent nowhere; it is moved into Olena's box, with a message (18#5)."""
    anna, boris, olena = _seed_users("ra", "rb", "ro")
    for other in (boris, olena):
        _say(other.user_id, rooms.open_private(anna.user_id, other.user_id), "hello")
    page = new_page()
    login(page, anna.login)
    _open_listed(page, boris.login)
    page.fill("#composer", SECRET)
    page.evaluate("""(name) => {
        [...document.querySelectorAll('.chat-entry')].find(e => e.textContent.includes(name)).click();
        document.getElementById('composer').form.requestSubmit(); }""", olena.login)
    expect(page.locator("#room-title")).to_have_text(olena.login)
    page.wait_for_timeout(1000)
    olena_room = rooms.open_private(anna.user_id, olena.user_id)
    assert all(SECRET not in m["text"] for m in messages.history(olena.user_id, olena_room)[0])
    expect(_bubble(page, SECRET)).to_have_count(0)
    expect(page.locator("#composer")).to_have_value(SECRET)
    expect(page.get_by_text("moved here")).to_be_visible()


TYPED = "typed while olena opened"


def _switch_and_type(page, name: str, submit: bool) -> None:
    """Click a chat, then type into the box still on screen before the server has answered
    (script speed: the same tick), as the outside probe did (18#5)."""
    page.evaluate("""([name, text, submit]) => {
        [...document.querySelectorAll('.chat-entry')].find(e => e.textContent.includes(name)).click();
        const box = document.getElementById('composer');
        Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(box, text);
        box.dispatchEvent(new Event('input', {bubbles: true}));
        if (submit) box.form.requestSubmit(); }""", [name, TYPED, submit])


def test_text_typed_while_a_chat_opens_is_moved_to_it_with_a_message(new_page, shots):
    from corpchat.services import drafts

    anna, boris, olena = _seed_users("ta", "tb", "to")
    room = {}
    for other in (boris, olena):
        room[other.login] = rooms.open_private(anna.user_id, other.user_id)
        _say(other.user_id, room[other.login], "hello")
    page = new_page()
    login(page, anna.login)
    for submit in (True, False):
        _open_listed(page, boris.login)
        page.fill("#composer", "")
        _switch_and_type(page, olena.login, submit)
        expect(page.locator("#room-title")).to_have_text(olena.login)
        expect(page.locator("#composer")).to_have_value(TYPED, timeout=5000)
        expect(page.get_by_text("moved here").last).to_be_visible()
        expect(page.get_by_text("invalid")).to_have_count(0)
        shots(page, f"moved-{submit}")
        page.wait_for_timeout(1000)
        for r in room.values():  # sent nowhere
            assert all(TYPED not in m["text"] for m in messages.history(anna.user_id, r)[0])
        assert drafts.draft_of(anna.user_id, room[boris.login]) == ""  # not Boris's draft
        assert drafts.draft_of(anna.user_id, room[olena.login]) == TYPED
        page.fill("#composer", "")
        page.locator("#composer").blur()
        page.wait_for_timeout(300)


def test_chat_list_names_keep_their_descenders(new_page, shots):
    """18#4: 'dmytro' read 'dmvtro' and the tails of р and у were cut (trim with overflow hidden)."""
    from corpchat.services import profiles

    anna, dmytro = _seed_users("dsa", "dsd")
    profiles.update_profile(dmytro.user_id, real_name="Дмитро Гуцуляк gyp")
    _say(dmytro.user_id, rooms.open_private(anna.user_id, dmytro.user_id), "привіт")
    page = new_page()
    login(page, anna.login)
    title = page.locator(".chat-title", has_text="Дмитро")
    expect(title).to_be_visible()
    clipped = title.evaluate("e => e.scrollHeight - e.clientHeight")
    shots(page, "descenders")
    assert clipped <= 0, f"the name is cut by {clipped} px"


def test_a_text_over_the_limit_is_refused_and_stays_in_the_box(new_page):
    """The box used to cut a long paste at 10,000 characters without a word (the browser's
    maxlength): now the whole text stays, Enter is refused with the limit named, nothing is sent."""
    anna, boris = _seed_users("la", "lb")
    room = rooms.open_private(anna.user_id, boris.user_id)
    _say(boris.user_id, room, "hello")
    page = new_page()
    login(page, anna.login)
    _open_listed(page, boris.login)
    long_text = "x" * 10_001
    page.fill("#composer", long_text)
    page.press("#composer", "Enter")
    expect(page.get_by_text("at most 10000 characters")).to_be_visible()
    expect(page.locator("#composer")).to_have_value(long_text)
    page.wait_for_timeout(500)
    assert [m["text"] for m in messages.history(anna.user_id, room)[0]] == ["hello"]
