"""Group administration on the chat page (services/groups.py): the handlers, and how a tab applies
what they tell (every check is the service's: these only hand over). The group settings page
(issue 22) adds its vars and handlers here: it changes the chat list and the header, which are
this state's, so it is a mixin of ChatState, not a state of its own (README, "Where a feature's
state lives")."""

from __future__ import annotations

import reflex as rx

from corpchat import i18n, views
from corpchat.realtime import lifecycle
from corpchat.realtime.appliers import on
from corpchat.services import groups, policy
from corpchat.services.events import (
    GroupAvatarChanged,
    GroupRenamed,
    MemberRemoved,
    MembersAdded,
    RemovedFromChat,
    RoleChanged,
)
from corpchat.state.base import authed, in_thread
from corpchat.state.chat.parts import GroupParts


class GroupsMixin(GroupParts, mixin=True):
    room_members: int = 0  # the open group's member count (0: not a group)
    room_online: int = 0  # how many of them had a tab open when the group was opened
    room_members_label: str = ""
    room_online_label: str = ""

    @authed
    async def rename_group(self, room_id: int, new_name: str):
        await self._emit(await in_thread(groups.rename_group, self._user_id, room_id, new_name))

    @authed
    async def create_group(self, name: str, member_ids: list):
        await self._create_group(name, member_ids)

    async def _create_group(self, name, member_ids) -> None:
        room_id, pushes = await in_thread(groups.create_group, self._user_id, name, member_ids)
        await self._emit(pushes)
        self.sidebar_tab = "chats"
        await self._open(room_id)

    @authed
    async def add_members(self, room_id: int, user_ids: list):
        await self._emit(await in_thread(groups.add_members, self._user_id, room_id, user_ids))

    @authed
    async def remove_member(self, room_id: int, user_id: int):
        await self._emit(await in_thread(groups.remove_member, self._user_id, room_id, user_id))

    @authed
    async def leave_group(self, room_id: int):
        on_page = self.panel_open
        await self._emit(await in_thread(groups.leave_group, self._user_id, room_id))
        return rx.redirect("/") if on_page else None  # from the settings page: the group is gone

    @authed
    async def change_role(self, room_id: int, user_id: int, role: str):
        await self._emit(await in_thread(groups.set_role, self._user_id, room_id, user_id, role))

    @authed
    async def transfer_ownership(self, room_id: int, user_id: int):
        await self._emit(await in_thread(groups.transfer_ownership, self._user_id, room_id, user_id))

    @authed
    async def delete_group(self, room_id: int):
        on_page = self.panel_open
        await self._emit(await in_thread(groups.delete_group, self._user_id, room_id))
        return rx.redirect("/") if on_page else None

    def _show_members(self, n: int) -> None:
        self.room_members = n
        self.room_members_label = i18n.t(self.lang, "chat.members", n=n) if n else ""
        if not n:
            self.room_online, self.room_online_label = 0, ""

    async def _count_online(self) -> None:
        """Counted when the group is opened, then moved by the members who come and go (no
        database read per tab then: in a 1,000-member group that would be 1,000 reads per change).
        Not moved by presence: that goes to private-chat partners only (presence_watchers), and
        pushing every member's comings and goings to a big group's tabs costs more than the
        header is worth."""
        ids = await in_thread(groups.member_ids, self._user_id, self.room_id)
        self._show_online(len(await lifecycle.online(list(ids))))

    def _show_online(self, n: int) -> None:
        self.room_online = max(0, n)
        self.room_online_label = i18n.t(self.lang, "chat.online_count", n=self.room_online) if self.room_online else ""

    @on(GroupRenamed)
    def _on_group_renamed(self, event: GroupRenamed) -> None:
        chat = self._chat(event.room_id)
        if chat is not None:
            self._put_chat({**chat, "title": event.name, "initials": views.initials(event.name)}, to_top=False)
        if self.room_id == event.room_id:
            self.room_title, self.room_initials = event.name, views.initials(event.name)

    @on(GroupAvatarChanged)
    def _on_group_avatar(self, event: GroupAvatarChanged) -> None:
        url = views.avatar_url(event.avatar_id)
        chat = self._chat(event.room_id)
        if chat is not None:
            self._put_chat({**chat, "avatar": url}, to_top=False)
        if self.room_id == event.room_id:
            self.room_avatar = url

    @on(MembersAdded)
    async def _on_members_added(self, event: MembersAdded) -> None:
        if self.room_id == event.room_id:
            self._show_members(self.room_members + len(event.user_ids))
            self._show_online(self.room_online + len(await lifecycle.online(list(event.user_ids))))

    @on(MemberRemoved)
    async def _on_member_removed(self, event: MemberRemoved) -> None:
        if self.room_id == event.room_id:
            self._show_members(max(0, self.room_members - 1))
            self._show_online(self.room_online - len(await lifecycle.online([event.user_id])))

    @on(RoleChanged)
    def _on_role(self, event: RoleChanged) -> None:
        if event.user_id == self._user_id and self.room_id == event.room_id:
            self.can_delete_others = policy.can(event.role, "message.delete_others", self.room_kind)

    @on(RemovedFromChat)
    async def _on_removed(self, event: RemovedFromChat) -> None:
        self._drop_chat(event.room_id)
        if self.room_id == event.room_id:
            await self._close()
