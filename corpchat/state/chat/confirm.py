"""Asking before what cannot be undone: deleting a message for everyone, deleting a chat,
removing a member from a group.

The dialog (components/confirm.py) is one per page, not one per bubble; the menu item asks,
the dialog's button acts on what was asked about (kept backend-only, so a client can only
confirm what this tab showed it).
"""

from __future__ import annotations

import reflex as rx

from corpchat.services import groups, messages, rooms
from corpchat.services.errors import Invalid
from corpchat.state.base import authed, in_thread


class ConfirmMixin(rx.State, mixin=True):
    confirming: str = ""  # "" (no dialog), "message", "chat" or "member"
    confirm_text: str = ""
    _confirm_target: tuple = ()  # (room_id, message_id or 0) asked about

    def _ask(self, kind: str, target: tuple, key: str) -> None:
        group = self.room_kind == "group"
        self.confirming, self._confirm_target = kind, target
        self.confirm_text = self._t(f"{key}_{'group' if group else 'private'}", name=self.room_title)

    def _reset_confirm(self) -> None:
        if self.confirming:
            self.confirming, self.confirm_text = "", ""
        self._confirm_target = ()

    @authed
    async def ask_delete_for_all(self, message_id: int):
        # Only a message this tab shows: the dialog names this room's people.
        shown = self._settled + tuple(self._live_items())
        if type(message_id) is not int or not any(m["id"] == message_id for m in shown):
            raise Invalid()
        self._ask("message", (self.room_id, message_id), "chat.confirm_delete_all")

    @authed
    async def ask_delete_chat(self):
        if not self.room_id:
            raise Invalid()
        self._ask("chat", (self.room_id, 0), "chat.confirm_delete_chat")

    @authed
    async def ask_remove_member(self, user_id: int):
        # Only a member the group panel offers to remove: the dialog names them.
        member = next((m for m in self.members if m["id"] == user_id and m["can_remove"]), None)
        if type(user_id) is not int or member is None:
            raise Invalid()
        self.confirming, self._confirm_target = "member", (self.room_id, user_id)
        self.confirm_text = self._t("group.confirm_remove_text", name=member["name"])

    @authed
    async def dismiss_confirm(self):
        self._reset_confirm()

    @authed
    async def confirm_delete(self):
        kind, target = self.confirming, self._confirm_target
        self._reset_confirm()
        if not target or target[0] != self.room_id:
            raise Invalid()
        if kind == "message":
            await self._emit(await in_thread(messages.delete_for_everyone, self._user_id, target[1]))
        elif kind == "chat":
            await self._emit(await in_thread(rooms.delete_chat_for_me, self._user_id, target[0]))
        elif kind == "member":
            await self._emit(await in_thread(groups.remove_member, self._user_id, target[0], target[1]))
        else:
            raise Invalid()
