"""history: a room with 100,000 messages in a messages table of 1,000,000 rows.

- open room -> newest 50 in the tab: round trip of the open_room handler over
  the socket (client-side perf_counter, loopback), p50/p99;
- scroll one page back (load_older): round trip, p50/p99;
- the service call messages.history itself (server-side DB time, in this
  process against the same database): newest page and a page in the middle,
  measured when the table holds only the 100k room and again at 1M rows
  (the open time must not grow with the table);
- EXPLAIN (ANALYZE) of the SQL that history() really issues (captured from the
  engine), which must use the (room_id, seq) index uq_messages_room_seq.

Seeding is bulk SQL (INSERT ... SELECT generate_series).
"""

from __future__ import annotations

import time

from tests.bench import common
from tests.bench.client import new_http

ROOM_MESSAGES = 100_000
TABLE_ROWS = 1_000_000
FILLER_ROOMS = 100
OPENS = 100
SERVICE_CALLS = 200
TARGET_OPEN_MS = 20.0
MESSAGES_VAR = '"messages_rx_state_"'  # the handler's delta carries the new window
QUICK = {"room_messages": 20_000, "table_rows": 100_000, "opens": 20, "service_calls": 40}


def _service_times(actor: int, room: int, calls: int, before_seq=None) -> list[float]:
    from corpchat.services import messages

    out = []
    for _ in range(calls):
        t = time.perf_counter()
        page, _ = messages.history(actor, room, before_seq)
        out.append(time.perf_counter() - t)
        assert len(page) == messages.PAGE_SIZE
    return out


def _explain(actor: int, room: int, before_seq=None) -> tuple[str, str]:
    """Run history() once with the engine's statements captured; EXPLAIN ANALYZE the messages query."""
    from sqlalchemy import event

    from corpchat.db import engine
    from corpchat.services import messages

    captured: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM messages" in statement and "ORDER BY messages.seq DESC" in statement:
            captured.append((statement, parameters))

    eng = engine()
    event.listen(eng, "before_cursor_execute", grab)
    try:
        messages.history(actor, room, before_seq)
    finally:
        event.remove(eng, "before_cursor_execute", grab)
    statement, params = captured[0]
    with eng.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params).all()
    return statement, "\n".join(r[0] for r in rows)


async def run(bench: common.Bench, res: common.Result, room_messages: int = ROOM_MESSAGES,
              table_rows: int = TABLE_ROWS, opens: int = OPENS, service_calls: int = SERVICE_CALLS) -> None:
    from corpchat.services import rooms

    app = bench.main_app()
    (reader, reader_login), (writer, _) = common.create_users(bench.prefix("hist"), 2)
    big = rooms.open_private(reader, writer)
    small = common.create_group("bench small", [reader, writer])
    t = time.perf_counter()
    common.fill_room(big, [reader, writer], room_messages, "big")
    common.fill_room(small, [reader, writer], 200, "small")
    common.sql("ANALYZE messages")
    res.note(f"seeded the {room_messages:,}-message room in {time.perf_counter() - t:.1f} s")

    # The service alone, before the table grows.
    mid = room_messages // 2
    alone_newest = _service_times(reader, big, service_calls)
    alone_mid = _service_times(reader, big, service_calls, mid)

    t = time.perf_counter()
    existing = common.sql("SELECT count(*) FROM messages", fetch=True)[0][0]
    filler = max(0, table_rows - existing)
    _fill_table(writer, reader, filler)
    total = common.sql("SELECT count(*) FROM messages", fetch=True)[0][0]
    res.note(f"grew the messages table to {total:,} rows ({FILLER_ROOMS} other rooms) "
             f"in {time.perf_counter() - t:.1f} s")

    full_newest = _service_times(reader, big, service_calls)
    full_mid = _service_times(reader, big, service_calls, mid)
    statement, plan = _explain(reader, big)
    uses_index = "uq_messages_room_seq" in plan
    res.details["explain_sql"] = statement
    res.details["explain"] = plan
    print("  EXPLAIN (ANALYZE) of the history query:\n    " + plan.replace("\n", "\n    "), flush=True)

    path = common.chat_state_path()
    async with new_http() as http:
        cookie = (await common.login_all(http, app.url, [reader_login]))[0]
        tab = (await common.open_tabs(http, app.url, [cookie]))[0]
        profile = common.Profile(app, "history")
        try:
            with profile:
                opened, older, small_opened = await _open_many(tab, path, big, small, opens)
            frame_kb = round(tab.bytes / max(1, tab.frames) / 1024, 1)
        finally:
            await tab.close()

    o, lo, so = common.summary_ms(opened), common.summary_ms(older), common.summary_ms(small_opened)
    s = {k: common.summary_ms(v) for k, v in (("alone_newest", alone_newest), ("alone_mid", alone_mid),
                                                ("full_newest", full_newest), ("full_mid", full_mid))}
    res.details.update(open_room=o, load_older=lo, open_small_room=so, service=s, table_rows=total,
                       room_messages=room_messages, uses_room_seq_index=uses_index, mean_frame_kb=frame_kb)
    res.add("open 100k room -> newest 50, p50", o["p50_ms"], "ms", f"p50 <= {TARGET_OPEN_MS:g} ms",
            o["p50_ms"] <= TARGET_OPEN_MS)
    res.add("open 100k room -> newest 50, p99", o["p99_ms"], "ms")
    res.add("open a 200-message room p50/p99", f"{so['p50_ms']} / {so['p99_ms']}", "ms")
    res.add("load_older (one page back) p50/p99", f"{lo['p50_ms']} / {lo['p99_ms']}", "ms")
    res.add("history() service, newest page p50/p99",
            f"{s['full_newest']['p50_ms']} / {s['full_newest']['p99_ms']}", "ms", f"p50 <= {TARGET_OPEN_MS:g} ms",
            s["full_newest"]["p50_ms"] <= TARGET_OPEN_MS)
    res.add("history() service at 100k vs 1M rows (p50)",
            f"{s['alone_newest']['p50_ms']} vs {s['full_newest']['p50_ms']}", "ms")
    res.add("history() service, page at seq 50k (p50)", s["full_mid"]["p50_ms"], "ms")
    res.add("history query uses (room_id, seq) index", uses_index, "", "yes", uses_index)


def _fill_table(sender: int, other: int, rows: int) -> None:
    """`rows` more messages spread over FILLER_ROOMS other rooms (group rooms of the same two users)."""
    if rows <= 0:
        return
    per_room = rows // FILLER_ROOMS
    room_ids = [common.create_group(f"filler {i}", [sender, other]) for i in range(FILLER_ROOMS)]
    # One statement; foreign-key triggers off for the bulk load (the rows are consistent by construction).
    common.sql("""
        INSERT INTO messages (room_id, seq, sender_id, kind, text, created_at)
        SELECT r.id, g, CAST(:s AS bigint), 'text',
               'filler ' || g || ' lorem ipsum dolor sit amet, consectetur adipiscing elit', now()
        FROM unnest(CAST(:rooms AS bigint[])) AS r(id), generate_series(1, :n) g""",
               {"s": sender, "rooms": room_ids, "n": per_room}, bulk=True)
    common.sql("UPDATE rooms SET last_seq = :n, last_message_at = now() WHERE id = ANY(CAST(:rooms AS bigint[]))",
               {"n": per_room, "rooms": room_ids})
    common.settle_database()


async def _open_many(tab, path: str, big: int, small: int, opens: int, warmup: int = 5):
    """Open the big room, scroll one page back, open a small room; `opens` times after a warm-up."""
    open_room, load_older = common.handler("open_room"), common.handler("load_older")
    opened, older, small_opened = [], [], []
    for i in range(opens + warmup):
        dt = await tab.call_frame(open_room, {"room_id": big}, MESSAGES_VAR)
        if tab.get(path, "room_id") != big or len(common.settled(tab.state.get(path, {}))) < 50:
            raise RuntimeError(f"open_room did not show the newest 50: {tab.errors}")
        dt_older = await tab.call_frame(load_older, None, MESSAGES_VAR)
        if len(common.settled(tab.state.get(path, {}))) < 100:
            raise RuntimeError("load_older did not add a page")
        dt_small = await tab.call_frame(open_room, {"room_id": small}, MESSAGES_VAR)
        if i >= warmup:
            opened.append(dt)
            older.append(dt_older)
            small_opened.append(dt_small)
    return opened, older, small_opened
