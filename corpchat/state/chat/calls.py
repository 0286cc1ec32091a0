"""Calls on the chat page (services/calls.py decides; these hand over and show). A mixin of
ChatState: a call starts from the open chat's header and its ringing changes what the page shows.

Call control travels the one road (README, "seam"): the service returns CallRinging /
CallAccepted / CallEnded pushes and every tab of the people concerned applies them here. What
only the tab that started or answered may know, its peer id and token, is that handler's own
answer, never a push. The browsers' SDP and ICE go over api/signalling.py, never here.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import reflex as rx

from corpchat import views
from corpchat.api.signalling import PATH
from corpchat.config import settings
from corpchat.realtime import hub
from corpchat.realtime.appliers import on
from corpchat.services import calls, group_calls, ice
from corpchat.services.errors import ServiceError
from corpchat.services.events import (
    BlockChanged,
    CallAccepted,
    CallEnded,
    CallMediaChanged,
    CallRinging,
    GroupCallChanged,
    RemovedFromChat,
    pushes,
)
from corpchat.state.base import authed, in_thread

# "ended": a connection closed; "lost": one failed, or a peer dialled is gone. The end of a 1:1
# call; in a group, one participant fewer at most, and the server says who is in.
BRIDGE_STATES = ("open", "connected", "ended", "lost", "error")
PEER_ID = re.compile(r"cc[0-9a-f]{32}")  # services.calls._new_peer
_rings: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks


async def _ring_timeout(call_id: int) -> None:
    """An unanswered ring ends as missed after `call_ring_seconds`, whoever is still there to see it
    (the service checks the time: early, it does nothing)."""
    await asyncio.sleep(settings.call_ring_seconds + 0.5)
    try:
        result = await in_thread(calls.expire, call_id)
    except ServiceError:
        return
    for p in pushes(result):
        await hub.push(p)


class CallsMixin(rx.State, mixin=True):
    call_phase: str = ""  # "", "ringing" (incoming), "calling" (outgoing), "connecting", "active"
    call_kind: str = "video"
    call_room_id: int = 0
    call_with: str = ""  # the chat's title: the other person, or the group
    call_with_initials: str = ""
    call_caller: str = ""  # ringing in a group: who calls
    call_peer_id: str = ""  # issued to this tab only
    call_peer_token: str = ""
    call_dial: list[str] = []
    call_ice: list[dict] = []
    call_mic: bool = True
    call_camera: bool = True
    call_screen: bool = False  # the screen replaces the camera's picture (the bridge says whether it does)
    call_remote_video: bool = True  # the other side's picture: its camera is on and frames come
    call_remote_mic: bool = True
    call_remote_frames: bool = True  # the bridge: the remote video track is live (not muted by the network)
    call_since: str = ""  # when the call connected, ISO (the timer counts from it in the browser)
    call_group: bool = False  # a group call: a tile per other participant
    # The others in a group call: peer_id, user_id, name, initials, avatar, mic, camera, frames
    # (frames: the bridge says their picture comes); their peer ids for the bridge.
    call_tiles: list[dict] = []
    call_peers: list[str] = []
    # The open group's running call (its banner with Join), 0 when none runs.
    room_call_id: int = 0
    room_call_kind: str = "video"
    room_call_count: int = 0
    room_call_label: str = ""  # "Video call in progress · 3 participants"
    call_full: bool = False  # the call screen fills the display (the browser's full screen)
    room_call_mine: bool = False  # I am in it in another tab: no Join here
    _call_id: int = 0
    _call_other: int = 0  # in a one-to-one call: the other person (a block between us ends it)
    _call_started: str = ""  # joining a running call: when it was first answered (the timer counts from it)

    if TYPE_CHECKING:
        room_id: int
        room_kind: str
        _user_id: int

        def _chat(self, room_id: int) -> dict | None: ...
        async def _emit(self, result) -> None: ...
        def _t(self, key: str, **params) -> str: ...

    @authed
    async def start_call(self, room_id: int, kind: str):
        if self._call_id:
            return rx.toast.error(self._t("err.call_already"))
        seat = await in_thread(calls.start, self._user_id, room_id, kind)
        self._seat(seat, "calling")
        chat = self._chat(seat.room_id) or {}
        self._call_other = int(chat.get("other_id") or 0)
        await self._emit(seat.pushes)
        task = asyncio.get_running_loop().create_task(_ring_timeout(seat.call_id))
        _rings.add(task)
        task.add_done_callback(_rings.discard)

    @authed
    async def accept_call(self):
        if self.call_phase != "ringing" or not self._call_id:
            return
        seat = await in_thread(calls.accept, self._user_id, self._call_id)
        if not seat.peer_id:  # rang past its time: the service ended it as missed
            await self._emit(seat.pushes)
            self._call_reset()
            return rx.toast.error(self._t("err.call_over"))
        self._seat(seat, "connecting")
        await self._emit(seat.pushes)

    @authed
    async def join_room_call(self):
        """Join from the open group's banner: the call the server says runs there, nothing else."""
        if self._call_id or not self.room_call_id or not self.room_id:
            return
        seat = await in_thread(calls.accept, self._user_id, self.room_call_id)
        if not seat.peer_id:
            await self._emit(seat.pushes)
            return rx.toast.error(self._t("err.call_over"))
        self._seat(seat, "connecting")
        await self._emit(seat.pushes)

    @authed
    async def decline_call(self):
        if self.call_phase == "ringing" and self._call_id:
            call_id = self._call_id
            self._call_reset()
            await self._emit(await in_thread(calls.decline, self._user_id, call_id))

    @authed
    async def hang_up(self):
        if self._call_id and self.call_phase != "ringing":
            call_id = self._call_id
            self._call_reset()
            await self._emit(await in_thread(calls.hang_up, self._user_id, call_id))

    @authed
    async def toggle_mic(self):
        if self.call_peer_id:
            self.call_mic = not self.call_mic
            await self._tell_media()

    @authed
    async def toggle_camera(self):
        if self.call_peer_id:
            self.call_camera = not self.call_camera
            await self._tell_media()

    @authed
    async def toggle_screen(self):
        if self.call_peer_id and self.call_kind == "video" and self.call_phase == "active":
            self.call_screen = not self.call_screen

    @authed
    async def toggle_full(self):
        if self.call_peer_id:
            self.call_full = not self.call_full

    @authed
    async def full_state(self, on: bool):
        """The bridge: the browser entered or left full screen (Esc, or a refusal)."""
        if self.call_peer_id and isinstance(on, bool):
            self.call_full = on

    @authed
    async def screen_state(self, sharing: bool):
        """The bridge: sharing started, or stopped (refused, or from the browser's own bar)."""
        if self.call_peer_id and isinstance(sharing, bool):
            self.call_screen = sharing

    async def _tell_media(self) -> None:
        await self._emit(await in_thread(calls.set_media, self._user_id, self._call_id, self.call_mic,
                                         self.call_camera))

    @authed
    async def call_bridge(self, state: str):
        """What the bridge reports (its peer opened, the remote stream came, the call closed)."""
        if state not in BRIDGE_STATES or not self.call_peer_id:
            return
        # A connection closed: the server says what that means (a hang-up ends the call with CallEnded;
        # a page gone for good gives up its seat after signalling.RECONNECT_SECONDS), and a reloaded
        # page dials again in the meantime. A failed one ("lost") ends a 1:1 call now.
        if state == "ended" or (self.call_group and state == "lost"):
            return
        if state == "lost":
            state = "error"
        if state == "connected" and self.call_phase in ("calling", "connecting"):
            self.call_phase = "active"
            self.call_since = self._call_started or datetime.now(UTC).isoformat(timespec="milliseconds")
        elif state == "error" and self.call_phase in ("connecting", "active"):
            call_id = self._call_id
            self._call_reset()
            await self._emit(await in_thread(calls.hang_up, self._user_id, call_id))
            return rx.toast.error(self._t("call.failed"))

    @authed
    async def remote_media(self, state: dict, peer_id: str):
        """The bridge: whether a remote picture comes (per peer; in a 1:1 call, the one other)."""
        if not (self.call_peer_id and isinstance(state, dict) and isinstance(state.get("video"), bool)
                and isinstance(peer_id, str) and PEER_ID.fullmatch(peer_id)):
            return
        if not self.call_group:
            self.call_remote_frames = state["video"]
        elif peer_id in self.call_peers:
            self.call_tiles = [{**t, "frames": state["video"]} if t["peer_id"] == peer_id else t
                               for t in self.call_tiles]

    async def _load_tiles(self) -> None:
        if not (self.call_group and self._call_id and self.call_peer_id):
            return
        frames = {t["peer_id"]: t["frames"] for t in self.call_tiles}
        rows = await in_thread(group_calls.participants, self._user_id, self._call_id)
        self.call_tiles = [{"peer_id": r["peer_id"], "user_id": r["user_id"], "name": r["name"],
                            "initials": views.initials(r["name"]), "avatar": views.avatar_url(r["avatar_id"]),
                            "mic": r["mic"], "camera": r["camera"], "frames": frames.get(r["peer_id"], True)}
                           for r in rows]
        self.call_peers = [t["peer_id"] for t in self.call_tiles]

    async def _show_room_call(self) -> None:
        """The open chat's banner: a group's running call, read when the chat opens."""
        group = self.room_kind == "group"
        live = await in_thread(group_calls.room_call, self._user_id, self.room_id) if group else None
        self._set_room_call(live["call_id"] if live else 0, live["kind"] if live else "video",
                            live["count"] if live else 0, live["mine"] if live else False)

    def _set_room_call(self, call_id: int, kind: str, count: int, mine: bool = False) -> None:
        if not count:
            call_id, kind, mine = 0, "video", False
        self.room_call_id, self.room_call_kind, self.room_call_count = call_id, kind, count
        self.room_call_mine = mine
        self.room_call_label = (f"{self._t(f'call.{kind}_running')} · {self._t('call.participants', n=count)}"
                                if count else "")

    async def _restore_call(self) -> None:
        """A tab loaded while a call rings me rings too. A reloaded tab keeps its state, so its call:
        it dials everyone in it again (those who dialled it before answer the new connection), unless
        its seat was given up meanwhile (its connection stayed away too long), which ends it here."""
        if self._call_id:
            if self.call_peer_id:
                peers = await in_thread(calls.call_peers, self._call_id)
                if self.call_peer_id not in peers:
                    self._call_reset()
                    await self._show_room_call()
                    return
                self.call_dial = sorted(peers - {self.call_peer_id})
                await self._load_tiles()
            return
        live = await in_thread(calls.live_call, self._user_id)
        if live and live["ringing"]:
            self._on_call_ringing(CallRinging(live["room_id"], call_id=live["call_id"], caller_id=live["caller_id"],
                                              kind=live["kind"], caller_name=live["caller_name"]))

    def _seat(self, seat: calls.Seat, phase: str) -> None:
        chat = self._chat(seat.room_id) or {}
        self._call_id, self.call_room_id, self.call_kind = seat.call_id, seat.room_id, seat.kind
        self.call_peer_id, self.call_peer_token = seat.peer_id, seat.peer_token
        self.call_dial, self.call_ice = list(seat.remote_peers), ice.ice_servers()
        self.call_phase, self.call_mic, self.call_camera = phase, True, seat.kind == "video"
        self.call_with = chat.get("title") or self.call_with
        self.call_with_initials = chat.get("initials") or views.initials(self.call_with)
        self.call_group = seat.group
        self.call_tiles, self.call_peers = [], []
        self._call_started = seat.since.isoformat(timespec="milliseconds") if seat.since else ""

    def _call_reset(self) -> None:
        self._call_id = self._call_other = self.call_room_id = 0
        self.call_since = self._call_started = ""
        self.call_full = False
        self.call_phase = self.call_peer_id = self.call_peer_token = self.call_with = self.call_with_initials = ""
        self.call_caller = ""
        self.call_kind = "video"
        self.call_dial, self.call_ice = [], []
        self.call_remote_video = self.call_remote_mic = self.call_remote_frames = True
        self.call_screen = self.call_group = False
        self.call_tiles, self.call_peers = [], []

    @on(CallRinging)
    def _on_call_ringing(self, event: CallRinging) -> None:
        if self._call_id:
            return  # this tab is in a call (the service let it ring only if it is this very one)
        chat = self._chat(event.room_id) or {}
        self._call_id, self.call_room_id, self.call_kind = event.call_id, event.room_id, event.kind
        self._call_other = event.caller_id if chat.get("kind", "private") == "private" else 0
        self.call_caller = event.caller_name if chat.get("kind") == "group" else ""
        self.call_with = chat.get("title") or ""
        self.call_with_initials = chat.get("initials") or views.initials(self.call_with)
        self.call_phase = "ringing"

    @on(CallAccepted)
    def _on_call_accepted(self, event: CallAccepted) -> None:
        if event.call_id != self._call_id:
            return
        if self.call_phase == "ringing" and event.user_id == self._user_id:
            self._call_reset()  # answered in another of my tabs
        elif self.call_phase == "calling":
            self.call_phase = "connecting"

    @on(CallMediaChanged)
    def _on_call_media(self, event: CallMediaChanged) -> None:
        if event.call_id == self._call_id and self.call_peer_id and event.user_id != self._user_id:
            self.call_remote_video, self.call_remote_mic = event.camera, event.mic
            self.call_tiles = [{**t, "mic": event.mic, "camera": event.camera} if t["user_id"] == event.user_id
                               else t for t in self.call_tiles]

    @on(GroupCallChanged)
    async def _on_group_call(self, event: GroupCallChanged) -> None:
        if event.room_id == self.room_id:
            self._set_room_call(event.call_id, event.kind, event.count, self._user_id in event.inside)
        if event.call_id == self._call_id:
            await self._load_tiles()

    @on(CallEnded)
    def _on_call_ended(self, event: CallEnded) -> None:
        if event.call_id == self._call_id:
            self._call_reset()

    @on(BlockChanged, order=10)
    async def _on_block_ends_call(self, event: BlockChanged) -> None:
        if event.active and self._call_id and self._call_other in (event.blocker, event.blocked):
            self._call_reset()
            for p in pushes(await in_thread(calls.end_between, event.blocker, event.blocked)):
                await hub.push(p)

    @on(RemovedFromChat, order=10)
    async def _on_removed_leaves_call(self, event: RemovedFromChat) -> None:
        if self._call_id and event.room_id == self.call_room_id:
            self._call_reset()
            for p in pushes(await in_thread(calls.leave_room, self._user_id, event.room_id)):
                await hub.push(p)


def signalling_path() -> str:
    return PATH
