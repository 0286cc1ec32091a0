"""How a tab of the chat page applies each live event (realtime/appliers.py).

One function per event type, run by the acting tab (through `_emit`) and by
every other tab (through its mailbox) alike.
"""

from __future__ import annotations

import reflex as rx

from corpchat import views
from corpchat.realtime import lifecycle, read_marks
from corpchat.realtime.appliers import on
from corpchat.services.events import (
    ChatHidden,
    ChatRead,
    MessageDeleted,
    MessageEdited,
    MessageHidden,
    MessagesArrived,
    MessageSent,
    ReactionChanged,
    RingFold,
    SignedOut,
)


class PushedMixin(rx.State, mixin=True):
    @on(MessagesArrived)
    async def _on_messages(self, event: MessagesArrived) -> None:
        await self._receive(event.room_id, event.messages)

    @on(MessageSent)
    async def _on_message(self, event: MessageSent) -> None:
        await self._receive(event.room_id, (event.message,))

    @on(RingFold)
    async def _on_fold(self, event: RingFold) -> None:
        if event.room_id == self.room_id:
            await self._fold()

    @on(MessageEdited)
    def _on_edited(self, event: MessageEdited) -> None:
        self._changed(event.message)

    @on(ReactionChanged)
    async def _on_reaction(self, event: ReactionChanged) -> None:
        self._changed(event.message)
        await self._refresh_people(only_new=True)  # a new face on a chip

    @on(MessageDeleted)
    async def _on_deleted(self, event: MessageDeleted) -> None:
        await self._remove_message(event.room_id, event.message_id, event.seq)

    @on(MessageHidden)
    async def _on_hidden(self, event: MessageHidden) -> None:
        await self._remove_message(event.room_id, event.message_id, event.seq)

    @on(ChatRead)
    def _on_read(self, event: ChatRead) -> None:
        self._set_unread(event.room_id, 0)

    @on(ChatHidden)
    async def _on_chat_hidden(self, event: ChatHidden) -> None:
        self._drop_chat(event.room_id)
        if self.room_id == event.room_id:
            await self._close()

    @on(SignedOut)
    async def _on_signed_out(self, event: SignedOut) -> None:
        await lifecycle.tab_left(self._user_id, self._tab())  # no longer counts as theirs
        self._forget_user()
        await self._clear_view()
        self.signed_out = True

    async def _receive(self, room_id: int, messages: list[dict]) -> None:
        """Others' new messages in one room, oldest first (delivered late on purpose: the open
        chat showed them already through the broadcast). A busy group piles up hundreds here:
        one pass, with the user id read once (a state field read costs a descriptor call)."""
        me, newest = self._user_id, messages[-1]
        if room_id == self.room_id and not self._shows_all(newest["seq"]):
            await self._fold(strict=True)  # the broadcast missed some (or started too late)
        mine_last = theirs_last = 0
        for m in messages:
            if views.by_viewer(m, me):
                mine_last = m["seq"]
            else:
                theirs_last = m["seq"]
        chat = self._chat(room_id)
        if chat is None:
            await self._reload_chats()
        else:
            # Sending marks the chat read (in another tab of mine): count only what came after.
            since = max(chat["last_seq"], mine_last)
            unread = (0 if mine_last else chat["unread"]) + sum(
                1 for m in messages if m["seq"] > since and not views.by_viewer(m, me))
            self._bump_chat(newest, unread=unread)
        if room_id == self.room_id and theirs_last:
            read_marks.queue(me, room_id, theirs_last, self._tab())
