"""removal: a member is removed from a 200-member group while 5 members post (issue 20).

Every member has the group open. Five senders take turns; each message is timed until the
LAST of the other remaining tabs has it. The same run is made twice: without a removal, and
with the owner removing one member after the first fifth of the messages. The members who stay
must not notice: their send -> last p99 within 10 % of the run without the removal, and the
database transactions per message the same (a tab that fell off the room's broadcast would
read each message batch from the database: one query per tab per burst).
"""

from __future__ import annotations

import asyncio
import time

from tests.bench import common
from tests.bench.client import new_http
from tests.bench.fanout import connect_group, measure, open_members

MEMBERS = 200
MESSAGES = 100
SENDERS = 5
QUICK = {"members": 40, "messages": 30}
TOLERANCE = 1.10


def _transactions() -> int:
    """Transactions of the bench database so far (backends report theirs at most every second)."""
    return common.sql("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()",
                      fetch=True)[0][0]


async def _round(tabs, receivers, messages: int, remove=None, warmup: int = 5) -> dict:
    """Senders take turns; `remove` (a coroutine function) runs once, after a fifth of the run."""
    before = []

    async def before_send(i: int) -> None:
        if i == warmup:
            await asyncio.sleep(2.0)  # the warm-up's statistics reach pg_stat_database
            before.append(_transactions())
        if remove is not None and i == warmup + messages // 5:
            await remove()

    stats = await measure(tabs, messages, warmup=warmup, senders=SENDERS, receivers=receivers,
                          before_send=before_send, tag="RM")
    await asyncio.sleep(2.0)
    return {"last": stats["last"], "missing": stats["missing_deliveries"],
            "transactions_per_message": round((_transactions() - before[0]) / messages, 2)}


async def run(bench: common.Bench, res: common.Result, members: int = MEMBERS, messages: int = MESSAGES) -> None:
    app = bench.main_app()
    results = {}
    async with new_http() as http:
        for label in ("without removal", "with removal"):
            users, room = await connect_group(bench, app.url, members, "rm" + label[:4].strip())
            t = time.perf_counter()
            tabs = await open_members(http, app.url, users, room)
            res.note(f"{label}: {members} members connected with the group open in {time.perf_counter() - t:.1f} s")
            owner = tabs[0]
            # The receivers are the members who stay; each message's own sender is among them
            # only for the other senders' messages, so its echo does not count as a delivery.
            receivers = tabs[SENDERS:-1]
            remove = None
            if label == "with removal":
                async def remove(owner=owner, room=room, uid=users[-1][0]):
                    await owner.call(common.handler("remove_member"), {"room_id": room, "user_id": uid})
            try:
                results[label] = await _round(tabs, receivers, messages, remove)
            finally:
                await common.close_tabs(tabs)
    base, removal = results["without removal"], results["with removal"]
    res.details.update(results)
    res.add("send->last of the rest p99, without removal", base["last"]["p99_ms"], "ms")
    ok = removal["last"]["p99_ms"] <= base["last"]["p99_ms"] * TOLERANCE and removal["missing"] == 0
    res.add("send->last of the rest p99, with removal", removal["last"]["p99_ms"], "ms",
            f"<= {TOLERANCE:.2f} x without", ok)
    res.add("DB transactions per message, without / with", f"{base['transactions_per_message']} / "
            f"{removal['transactions_per_message']}", "", "flat")
    res.add("missing deliveries (with removal)", removal["missing"], f"of {messages * (members - SENDERS - 1)}")
