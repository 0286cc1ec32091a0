"""Drafts: what I typed in a chat and did not send, back when I return to it (services/drafts.py).

The composer is uncontrolled and keyed by the room (components/composer.py), so typing costs
no round trip: the page saves the text on blur and after a typing pause, always naming the room
it was typed in, and a chat opens with its own draft as the box's initial text.
"""

from __future__ import annotations

import reflex as rx

from corpchat.services import drafts
from corpchat.state.base import authed, in_thread

COMPOSER_ID = "composer"


class DraftsMixin(rx.State, mixin=True):
    draft: str = ""  # the open room's draft: the composer's initial text when it is (re)mounted
    # (room, text) of this tab's last send: a debounced save of that text can arrive after the
    # send emptied the draft, and must not bring it back.
    _sent: tuple = ()
    _moved: str = ""  # the last text moved into the open chat (a send and a save both carry it)

    @authed
    async def save_draft(self, room_id: int, text: str):
        if isinstance(text, str) and self._sent and (room_id, text.replace("\r\n", "\n").strip()) == self._sent:
            return
        if isinstance(text, str) and text.strip() and self.room_id and room_id != self.room_id:
            # The box of a chat that is no longer open: its text was saved when it lost focus,
            # so anything new was typed after another chat was clicked, and meant for that one.
            stored = await in_thread(drafts.draft_of, self._user_id, room_id)
            if text.replace("\r\n", "\n").strip() != stored.strip():
                return await self._move_here(text, room_id)
        stored = await in_thread(drafts.save_draft, self._user_id, room_id, text)
        if room_id == self.room_id:
            self.draft = stored  # a reload mounts the box with it before the room is read again

    async def _move_here(self, text: str, from_room: int) -> list | None:
        """Put text typed in the previous chat's box into the open chat's box, and say so;
        moved, it is no longer that chat's draft."""
        if text == self._moved:
            return None
        self._moved = text
        if (await in_thread(drafts.draft_of, self._user_id, from_room)).strip() == text.strip():
            await in_thread(drafts.save_draft, self._user_id, from_room, "")
        merged = f"{self.draft}\n{text}" if self.draft.strip() else text
        self.draft = await in_thread(drafts.save_draft, self._user_id, self.room_id, merged)
        return [rx.set_value(COMPOSER_ID, self.draft), rx.toast.info(self._t("chat.text_moved"))]

    def _show_draft(self, row: dict) -> None:
        """The opened chat's draft, read with its chat row (rooms.chat_row)."""
        self.draft = row.get("draft") or ""

    def _draft_sent(self, room_id: int, body: str) -> None:
        self._sent = (room_id, body)
        if room_id == self.room_id:
            self.draft = ""
