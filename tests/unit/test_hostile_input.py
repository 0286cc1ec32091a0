"""Findings of the hostile-text suite (issue 24) at the service layer."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import text

from corpchat import db
from corpchat.services import groups, messages
from tests.factories import make_group, make_user


def _stored(room: int) -> list[str]:
    with db.engine().connect() as conn:
        return list(conn.execute(text("SELECT text FROM messages WHERE room_id = :r ORDER BY seq"), {"r": room})
                    .scalars())


def test_a_nul_in_one_send_fails_neither_it_nor_the_sends_batched_with_it():
    a, b = make_user(f"nul_a{secrets.token_hex(3)}"), make_user(f"nul_b{secrets.token_hex(3)}")
    room = make_group(a, b)

    async def go():
        try:  # queued together: one statement writes both
            return await asyncio.gather(messages.send_async(a, room, "x\x00y", secrets.token_hex(8)),
                                        messages.send_async(b, room, "innocent", secrets.token_hex(8)))
        finally:
            await db.close_async_pool()

    asyncio.run(go())
    assert sorted(_stored(room)) == ["innocent", "xy"]


def test_group_names_are_one_line_without_controls_or_bidi_overrides():
    a, b = make_user(f"gn_a{secrets.token_hex(3)}"), make_user(f"gn_b{secrets.token_hex(3)}")
    room, _ = groups.create_group(a, "team\x00 \u202eblue\u202c\ttwo\nlines", [b])
    with db.engine().connect() as conn:
        name = conn.execute(text("SELECT name FROM rooms WHERE id = :r"), {"r": room}).scalar()
    assert name == "team blue two lines"
