"""chatlist: a user with 500 chats (private chats of 20 messages each, a fifth
of them with 5 unread).

- page load: a new tab connects with the hydrate event (what a browser does on
  opening the app) until the page's on_load chain finished (`is_hydrated`),
  i.e. login check + rooms.chat_list + the 500 rendered entries, p50/p99;
- the service call rooms.chat_list itself (server-side DB time), p50/p99, and
  how many SQL statements it issues (must not grow with the chats);
- a message arriving in one of the 500 chats: time until the tab has it, and
  the size of that frame (the whole `chats` list is re-sent).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.bench import client, common
from tests.bench.client import Tab, new_http

CHATS = 500
LOADS = 40
SERVICE_CALLS = 100
LIVE_MESSAGES = 30
TARGET_MS = 50.0
QUICK = {"loads": 10, "service_calls": 20, "live_messages": 10}


def seed(bench: common.Bench, chats: int) -> tuple[tuple[int, str], list[int], list[tuple[int, str]]]:
    users = common.create_users(bench.prefix("cl"), chats + 1)
    (me, me_login), others = users[0], users[1:]
    rooms = [r for (r,) in common.sql("""
        INSERT INTO rooms (kind, private_key, created_by, last_seq, last_message_at)
        SELECT 'private', LEAST(:u, o) || ':' || GREATEST(:u, o), :u, 20,
               now() - make_interval(mins => CAST(o % 997 AS int))
        FROM unnest(CAST(:others AS bigint[])) o RETURNING id""",
        {"u": me, "others": [o for o, _ in others]}, fetch=True)]
    common.sql("""
        INSERT INTO participants (room_id, user_id, last_read_seq)
        SELECT r.id, :u, CASE WHEN r.id % 5 = 0 THEN 15 ELSE 20 END
        FROM rooms r WHERE r.id = ANY(CAST(:rooms AS bigint[]))
        UNION ALL
        SELECT r.id, split_part(r.private_key, ':', 1)::bigint + split_part(r.private_key, ':', 2)::bigint - :u, 20
        FROM rooms r WHERE r.id = ANY(CAST(:rooms AS bigint[]))""", {"u": me, "rooms": rooms})
    common.sql("""
        INSERT INTO messages (room_id, seq, sender_id, kind, text, created_at)
        SELECT r.id, g,
               CASE WHEN g % 2 = 0 THEN :u
                    ELSE split_part(r.private_key, ':', 1)::bigint + split_part(r.private_key, ':', 2)::bigint - :u END,
               'text', 'chat ' || r.id || ' says hello number ' || g || ', how are you today?',
               r.last_message_at - make_interval(secs => 20 - g)
        FROM rooms r, generate_series(1, 20) g WHERE r.id = ANY(CAST(:rooms AS bigint[]))""",
               {"u": me, "rooms": rooms}, bulk=True)
    common.settle_database("rooms, participants, messages")
    return (me, me_login), rooms, others


def _count_statements(fn, *args) -> int:
    from sqlalchemy import event

    from corpchat.db import engine

    n = 0

    def count(*_):
        nonlocal n
        n += 1

    eng = engine()
    event.listen(eng, "before_cursor_execute", count)
    try:
        fn(*args)
    finally:
        event.remove(eng, "before_cursor_execute", count)
    return n


async def run(bench: common.Bench, res: common.Result, chats: int = CHATS, loads: int = LOADS,
              service_calls: int = SERVICE_CALLS, live_messages: int = LIVE_MESSAGES) -> None:
    from corpchat.services import rooms as rooms_service

    app = bench.main_app()
    t = time.perf_counter()
    (me, me_login), rooms, others = seed(bench, chats)
    res.note(f"seeded {chats} chats in {time.perf_counter() - t:.1f} s")

    rows = rooms_service.chat_list(me)
    assert len(rows) == chats, len(rows)
    service = []
    for _ in range(service_calls):
        t = time.perf_counter()
        rooms_service.chat_list(me)
        service.append(time.perf_counter() - t)
    statements = _count_statements(rooms_service.chat_list, me)

    path = common.chat_state_path()
    async with new_http() as http:
        cookie = (await common.login_all(http, app.url, [me_login]))[0]
        hydrate, sizes = [], []
        with common.Profile(app, "chatlist"):
            for i in range(loads + 3):
                tab = Tab(http, app.url, cookie)
                t0 = time.perf_counter()
                try:
                    await tab.connect("/", wait_hydrated=False)
                    await asyncio.wait_for(tab.until(lambda x: x.get(client.ROOT, "is_hydrated") is True), 30)
                    dt = time.perf_counter() - t0
                    if len(tab.get(path, "chats") or []) != chats:
                        raise RuntimeError(f"the tab shows {len(tab.get(path, 'chats') or [])} chats, not {chats}")
                    if i >= 3:
                        hydrate.append(dt)
                        sizes.append(tab.bytes)
                finally:
                    await tab.close()

        # Live: another user writes in one of the chats while the tab is open.
        tab = await Tab(http, app.url, cookie, parse=False).connect("/")
        writer_cookies = await common.login_all(http, app.url, [o[1] for o in others[:live_messages]])
        live, frame_sizes = [], []
        try:
            for i, wc in enumerate(writer_cookies):
                w = await Tab(http, app.url, wc, parse=False).connect("/")
                try:
                    other_id = others[i][0]
                    room = next(r for r, o in zip(rooms, others) if o[0] == other_id)
                    await w.call(common.handler("open_room"), {"room_id": room})
                    marker = f"CL{uuid.uuid4().hex[:12]}"
                    got = asyncio.get_running_loop().create_future()
                    tab.on_raw = lambda raw, t, m=marker, f=got: (not f.done() and m in raw
                                                                  and f.set_result((t, len(raw))))
                    t0 = await w.emit(common.handler("send_message"),
                                      {"form_data": {"text": f"hi {marker}", "client_id": uuid.uuid4().hex}})
                    t1, size = await asyncio.wait_for(got, 10)
                    live.append(t1 - t0)
                    frame_sizes.append(size)
                finally:
                    await w.close()
        finally:
            await tab.close()

    h, s, lv = common.summary_ms(hydrate), common.summary_ms(service), common.summary_ms(live)
    res.details.update(page_load=h, service=s, statements_per_call=statements, live_message=lv,
                       hydrate_bytes=round(sum(sizes) / max(1, len(sizes))),
                       live_frame_bytes=round(sum(frame_sizes) / max(1, len(frame_sizes))))
    res.add("page load (connect -> hydrated, 500 chats) p50", h["p50_ms"], "ms", f"p50 <= {TARGET_MS:g} ms",
            h["p50_ms"] <= TARGET_MS)
    res.add("page load p99", h["p99_ms"], "ms")
    res.add("rooms.chat_list service p50", s["p50_ms"], "ms", f"p50 <= {TARGET_MS:g} ms", s["p50_ms"] <= TARGET_MS)
    res.add("rooms.chat_list service p99", s["p99_ms"], "ms")
    res.add("SQL statements per chat_list call", statements, "", "1 (no per-chat queries)", statements == 1)
    res.add("hydrate payload", round(res.details["hydrate_bytes"] / 1024, 1), "KB")
    res.add("message in 1 of 500 chats -> tab updated p50/p99", f"{lv['p50_ms']} / {lv['p99_ms']}", "ms")
    res.add("frame size of that update", round(res.details["live_frame_bytes"] / 1024, 1), "KB")
