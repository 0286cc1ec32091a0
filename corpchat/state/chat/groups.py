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
from corpchat.state import crop as cropping
from corpchat.state.base import authed, in_thread
from corpchat.state.chat.parts import GroupParts

NEW_PHOTO_UPLOAD_ID = "new-group-photo"


class GroupsMixin(GroupParts, mixin=True):
    room_members: int = 0  # the open group's member count (0: not a group)
    room_online: int = 0  # how many of them had a tab open when the group was opened
    room_members_label: str = ""
    room_online_label: str = ""
    # A new group's photo: chosen and cropped in the dialog, posted to the group's own route
    # (/api/group-avatar/<id>, the settings page's path) once the group exists. Its box is the
    # settings page's `photo_crop`, with its crop, refusal and failure handlers: the two are never
    # on screen together, and the dialog starts from an empty box.
    new_photo_room: int = 0  # > 0: the dialog's photo is to be posted for this group now

    @authed
    async def rename_group(self, room_id: int, new_name: str):
        await self._emit(await in_thread(groups.rename_group, self._user_id, room_id, new_name))

    @authed
    async def create_group(self, name: str, member_ids: list):
        await self._create_group(name, member_ids)

    async def _create_group(self, name, member_ids) -> int:
        room_id, pushes = await in_thread(groups.create_group, self._user_id, name, member_ids)
        await self._emit(pushes)
        self.sidebar_tab = "chats"
        await self._open(room_id)
        return room_id

    # ----- a new group's photo: the profile's cropper in the dialog, posted after the create ------
    def _post_new_photo(self, room_id: int) -> None:
        """Only a photo the cropper showed (it reports a box once the image is drawn)."""
        self.new_photo_room = room_id if self.photo_crop else 0

    def _forget_new_photo(self):
        self.photo_crop, self.new_photo_room = {}, 0
        return rx.clear_selected_files(NEW_PHOTO_UPLOAD_ID)

    @authed
    async def new_photo_posted(self, answer: dict):
        """The route's answer for the group just created. The group stays whatever it says."""
        avatar_id, key, limit = cropping.answer_of(answer)
        room_id = self.new_photo_room
        clear = self._forget_new_photo()
        if avatar_id is None:
            reason = self._t(key, max=self._photo_limit() if limit is None else limit)
            return [clear, rx.toast.error(self._t("group.photo_not_set", reason=reason), duration=10000)]
        # Its GroupAvatarChanged reaches this tab too, lazily: the creator sees the photo now.
        if room_id:
            self._show_group_avatar(room_id, avatar_id)
        return clear

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
        self._show_group_avatar(event.room_id, event.avatar_id)

    def _show_group_avatar(self, room_id: int, avatar_id: str) -> None:
        url = views.avatar_url(avatar_id)
        chat = self._chat(room_id)
        if chat is not None:
            self._put_chat({**chat, "avatar": url}, to_top=False)
        if self.room_id == room_id:
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
