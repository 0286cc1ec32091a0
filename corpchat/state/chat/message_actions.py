"""Acting on messages: edit, delete (for me / for everyone), react; deleting a chat for me.

Each handler calls its service and hands the Push it returns to `_emit`: this
tab applies it with the same `@on` function as every other tab (pushed.py).
"""

from __future__ import annotations

import reflex as rx

from corpchat.services import messages
from corpchat.services.errors import Invalid
from corpchat.services.send import FILE_MESSAGE_KINDS
from corpchat.state.base import authed, in_thread


class MessageActionsMixin(rx.State, mixin=True):
    editing_id: int = 0
    editing_text: str = ""

    def _own_text(self, message_id=None) -> dict | None:
        """My last text message, or my message `message_id` (a text, or a file's caption)."""
        kinds = ("text",) if message_id is None else ("text", *FILE_MESSAGE_KINDS)
        own = [m for m in self._settled + tuple(self._live_items())
               if m["sender_id"] == self._user_id and m["kind"] in kinds
               and (message_id is None or m["id"] == message_id)]
        return own[-1] if own else None

    @authed
    async def start_edit(self, message_id: int):
        if type(message_id) is not int:
            raise Invalid("err.not_editable")
        target = self._own_text(message_id)
        if target is None:
            raise Invalid("err.not_editable")
        self.editing_id, self.editing_text = target["id"], target["text"]

    @authed
    async def composer_key(self, key: str, field_empty: bool):
        """Up in an empty composer edits my last text message."""
        if key == "ArrowUp" and field_empty is True:
            target = self._own_text()
            if target is not None:
                self.editing_id, self.editing_text = target["id"], target["text"]

    @authed
    async def edit_key(self, key: str, field_empty: bool):
        if key == "Escape":
            self.editing_id, self.editing_text = 0, ""

    @authed
    async def cancel_edit(self):
        self.editing_id, self.editing_text = 0, ""

    @authed
    async def save_edit(self, form_data: dict):
        if not isinstance(form_data, dict) or not self.editing_id:
            raise Invalid()
        _, push = await in_thread(messages.edit, self._user_id, self.editing_id, form_data.get("text"))
        self.editing_id, self.editing_text = 0, ""
        await self._emit(push)

    def _changed(self, message: dict) -> None:
        """An edit or a reaction: the bubble, and the chat preview if it is the last message."""
        self._replace(message)
        chat = self._chat(message["room_id"])
        if chat is not None and chat["last_seq"] == message["seq"]:
            self._bump_chat(message)

    @authed
    async def delete_for_me(self, message_id: int):
        await self._emit(await in_thread(messages.delete_for_me, self._user_id, message_id))

    async def _remove_message(self, room_id: int, message_id: int, seq: int) -> None:
        if room_id == self.room_id:
            self._drop(message_id)
        chat = self._chat(room_id)
        # The preview (it was the last message) or the unread count may have changed.
        if chat is not None and (chat["last_seq"] <= seq or chat["unread"]):
            await self._refresh_chat_row(room_id)

    @authed
    async def react(self, message_id: int, emoji: str):
        _, push = await in_thread(messages.toggle_reaction, self._user_id, message_id, emoji)
        await self._emit(push)

