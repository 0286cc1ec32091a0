"""presence: profile, avatar and presence changes on the live-event seam (issue 13).

Its own app with TAB_GRACE_SECONDS=GRACE (1 s), so a closed last tab turns into "gone" soon.

(a) One user with CONTACTS contacts: a private chat with each (one message, visible on both
sides), every contact connected with one tab on "/" (its chat list shows the user, so the
user is in the tab's people). The user's tab on /profile alternates ProfileState.save_profile
(a new real name) and ProfileState.use_avatar (between two avatars uploaded through
POST /api/avatar), CHANGES of each, one at a time: the time from the event frame to the LAST
contact tab receiving a frame that carries the new name (or the new avatar's URL).

(b) Churn: WATCHERS users stay connected; CHURNERS users each have a private chat with every
watcher (so each churner's presence watchers are the WATCHERS). Churners open a tab at RATE
per second (round robin), keep it HOLD seconds and close it: every open is a first tab
(online), every close a last tab (offline after the grace period and the 1 s sweep). For
SECONDS seconds: PresenceChanged events pushed per second (transitions x watchers), the
frames carrying a presence change that watcher tabs receive per second (lazy events are
coalesced, so fewer), and the app's CPU (which includes the churners' own page loads).
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid

from tests.bench import common
from tests.bench.client import COOKIE_NAME, Tab, new_http
from tests.bench.fanout import Probe

GRACE = 1.0
CONTACTS = 200
CHANGES = 20
WATCHERS = 20
CHURNERS = 60
RATE = 10.0
HOLD = 2.0
SECONDS = 30.0
PRESENCE_VAR = '"presence_rx_state_"'
QUICK = {"contacts": 40, "changes": 5, "watchers": 8, "churners": 20, "rate": 3.0, "seconds": 8.0}


def private_chats(pairs: list[tuple[int, int]]) -> list[int]:
    """A private chat per (a, b) with one message from a, shown on both sides."""
    from corpchat.services import rooms

    ids = [rooms.open_private(a, b) for a, b in pairs]
    common.sql("""
        INSERT INTO messages (room_id, seq, sender_id, kind, text, created_at)
        SELECT r, 1, s, 'text', 'hello from the bench', now()
        FROM unnest(CAST(:r AS bigint[]), CAST(:s AS bigint[])) AS t(r, s)""",
               {"r": ids, "s": [a for a, _ in pairs]})
    common.sql("UPDATE rooms SET last_seq = 1, last_message_at = now() WHERE id = ANY(CAST(:r AS bigint[]))",
               {"r": ids})
    common.sql("UPDATE participants SET hidden = false WHERE room_id = ANY(CAST(:r AS bigint[]))", {"r": ids})
    return ids


def _png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (256, 256), color).save(out, "PNG")
    return out.getvalue()


async def _avatar(http, url: str, cookie: str, color) -> str:
    async with http.post(f"{url}/api/avatar", data=_png(color),
                         headers={"Origin": url, "Cookie": f"{COOKIE_NAME}={cookie}",
                                  "Content-Type": "image/png"}) as r:
        body = await r.json(content_type=None)
        if r.status != 200 or not body.get("avatar_id"):
            raise RuntimeError(f"avatar upload: HTTP {r.status} {body}")
        return body["avatar_id"]


async def profile_changes(bench: common.Bench, app, contacts: int, changes: int, timeout: float = 15.0) -> dict:

    users = common.create_users(bench.prefix("prof"), 1 + contacts)
    actor, others = users[0], users[1:]
    private_chats([(actor[0], uid) for uid, _ in others])
    # ProfileState is AuthState's other substate: its path beside ChatState's (importing the module
    # here, outside the app's registration context, is refused by Reflex).
    profile_state = common.chat_state_path().rsplit(".", 1)[0] + ".corpchat___state___profile____profile_state"
    save, use = (f"{profile_state}.{h}" for h in ("save_profile", "use_avatar"))
    async with new_http() as http:
        cookies = await common.login_all(http, app.url, [name for _, name in users])
        avatars = [await _avatar(http, app.url, cookies[0], c) for c in ((200, 40, 40), (40, 40, 200))]
        tabs = await common.open_tabs(http, app.url, cookies[1:], parse=False)
        me = await Tab(http, app.url, cookies[0]).connect("/profile")
        try:
            probe = Probe(tabs)
            out: dict[str, list[float]] = {"profile": [], "avatar": []}
            missing = {"profile": 0, "avatar": 0}
            u0 = common.usage(app)
            with common.Profile(app, "presence-profile"):
                for i in range(2 * (changes + 2)):  # the first two of each kind warm up
                    kind = "profile" if i % 2 == 0 else "avatar"
                    if kind == "profile":
                        marker = f"Bench P{uuid.uuid4().hex[:10]}"
                        name, payload = save, {"form_data": {"real_name": marker, "bio": "", "gender": "unspecified",
                                                             "birth": ""}}
                    else:
                        avatar = avatars[(i // 2) % 2]
                        marker, name, payload = f"/api/avatar/{avatar}/", use, {"avatar_id": avatar}
                    done = probe.arm(marker)
                    t0 = await me.emit(name, payload)
                    try:
                        t1 = await asyncio.wait_for(asyncio.shield(done), timeout)
                    except TimeoutError:
                        t1 = None
                    if i >= 4:
                        if t1 is None:
                            missing[kind] += len(tabs) - len(probe.arrivals)
                        else:
                            out[kind].append(t1 - t0)
                    await me.barrier()
                    if me.errors:
                        raise RuntimeError(f"{kind} change failed: {me.errors[-1]}")
                    await asyncio.sleep(0.05)
            u1 = common.usage(app)
            probe.marker = ""
        finally:
            await common.close_tabs([*tabs, me])
    return {"contacts": contacts, "profile": common.summary_ms(out["profile"]),
            "avatar": common.summary_ms(out["avatar"]), "missing": missing,
            "server_cpu_percent": round(common.cpu_percent_between(u0, u1), 1)}


async def churn(bench: common.Bench, app, watchers: int, churners: int, rate: float, seconds: float,
                hold: float = HOLD) -> dict:
    users = common.create_users(bench.prefix("churn"), watchers + churners)
    watch, come = users[:watchers], users[watchers:]
    if churners / rate < hold + GRACE + 2.5:
        raise ValueError("too few churners for the rate: a churner would come back within its grace period")
    private_chats([(c, w) for c, _ in come for w, _ in watch])
    frames: list[float] = []

    def count(raw: str, t: float) -> None:
        if PRESENCE_VAR in raw:
            frames.append(t)

    async with new_http() as http:
        cookies = await common.login_all(http, app.url, [name for _, name in users])
        tabs = await common.open_tabs(http, app.url, cookies[:watchers], parse=False)
        for t in tabs:
            t.on_raw = count
        opened = closed = failed = 0
        running: set[asyncio.Task] = set()

        async def visit(cookie: str) -> None:
            nonlocal opened, closed, failed
            tab = Tab(http, app.url, cookie, parse=False)
            try:
                await tab.connect("/", timeout=30)
                opened += 1
                await asyncio.sleep(hold)
            except Exception:
                failed += 1
            finally:
                await tab.close()
                closed += 1

        await asyncio.sleep(GRACE + 2)  # the watchers' own "online" has gone out
        frames.clear()
        u0 = common.usage(app)
        t_start = time.perf_counter()
        with common.Profile(app, "presence-churn"):
            i = 0
            while time.perf_counter() - t_start < seconds:
                task = asyncio.create_task(visit(cookies[watchers + i % churners]))
                running.add(task)
                task.add_done_callback(running.discard)
                i += 1
                await asyncio.sleep(max(0.0, t_start + i / rate - time.perf_counter()))
            t_end = time.perf_counter()
            in_window = sum(1 for f in frames if f <= t_end)
            transitions = opened + closed  # a close becomes "offline" GRACE + <= 1 s later
            u1 = common.usage(app)
            await asyncio.gather(*running, return_exceptions=True)
        await asyncio.sleep(GRACE + 2)
        await common.close_tabs(tabs)
    wall = t_end - t_start
    return {"watchers": watchers, "churners": churners, "rate_per_s": rate, "hold_s": hold, "seconds": round(wall, 1),
            "tabs_opened": opened, "tabs_closed": closed, "connect_failures": failed,
            "transitions_per_s": round(transitions / wall, 1),
            "events_pushed_per_s": round(transitions * watchers / wall, 1),
            "frames_per_s": round(in_window / wall, 1),
            "frames_per_watcher_per_s": round(in_window / wall / watchers, 2),
            "frames_after_window": len(frames) - in_window,
            "server_cpu_percent": round(common.cpu_percent_between(u0, u1), 1)}


async def run(bench: common.Bench, res: common.Result, contacts: int = CONTACTS, changes: int = CHANGES,
              watchers: int = WATCHERS, churners: int = CHURNERS, rate: float = RATE,
              seconds: float = SECONDS) -> None:
    app = bench.start_app("bench-presence", TAB_GRACE_SECONDS=str(GRACE))
    try:
        a = await profile_changes(bench, app, contacts, changes)
        res.details["profile_changes"] = a
        for kind, what in (("profile", "name change"), ("avatar", "avatar switch")):
            s = a[kind]
            res.add(f"{what} -> last of {contacts} contacts p50", s["p50_ms"], "ms", "none set")
            res.add(f"{what} -> last of {contacts} contacts p99", s["p99_ms"], "ms", "none set")
        if any(a["missing"].values()):
            res.note(f"contact tabs that never saw a change: {a['missing']}")
        res.note(f"server CPU during the {2 * changes} changes: {a['server_cpu_percent']} % of one core")
        b = await churn(bench, app, watchers, churners, rate, seconds)
        res.details["churn"] = b
        res.add(f"presence transitions ({rate:g} tabs/s opened, held {HOLD:g} s)", b["transitions_per_s"], "/s")
        res.add(f"PresenceChanged pushed (x {watchers} watchers)", b["events_pushed_per_s"], "events/s")
        res.add("presence frames received by watcher tabs", b["frames_per_s"], "frames/s")
        res.add("app CPU during the churn", b["server_cpu_percent"], "% of a core")
        res.note(f"churn: {b['tabs_opened']} tabs opened, {b['tabs_closed']} closed, "
                 f"{b['connect_failures']} failed in {b['seconds']} s; {b['frames_per_watcher_per_s']} presence "
                 f"frames/s per watcher; the CPU includes the churners' own page loads")
    finally:
        app.stop()
