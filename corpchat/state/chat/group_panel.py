"""Groups on the chat page: a new group (name + people picked), and an open group's settings page
(/group/<id>, pages/group.py): rename, photo, members with the actions my role allows, add,
leave, delete, and the audit log for the owner and admins. Every check is the service's
(services/groups.py, group_avatar.py, group_log.py); what to offer comes from the same policy
table (`policy.can`). The page is ChatState's: it opens the group as the chat page does, so its
live changes reach the page through the same `@on` functions, and "back" shows the chat at once."""

from __future__ import annotations

from typing import TypedDict

import reflex as rx

from corpchat import i18n, views
from corpchat.config import settings
from corpchat.models.tables import GROUP_ACTIONS
from corpchat.realtime import hub
from corpchat.realtime.appliers import on
from corpchat.services import accounts, group_avatar, group_log, groups, policy, rooms
from corpchat.services.errors import Invalid, NotFound, ServiceError
from corpchat.services.events import GroupAvatarChanged, GroupRenamed, MemberRemoved, RoleChanged
from corpchat.state import crop as cropping
from corpchat.state.base import authed, in_thread
from corpchat.state.chat.parts import GroupParts
from corpchat.system_views import log_text

LOG_PAGE = 30


class MemberItem(TypedDict):
    id: int
    name: str
    login: str
    initials: str
    role: str
    role_label: str
    can_remove: bool
    can_promote: bool
    can_demote: bool
    can_transfer: bool


class LogItem(TypedDict):
    id: int
    text: str
    time: str


class LogPerson(TypedDict):
    id: str  # a select's value
    name: str


PHOTO_UPLOAD_ID = "group-photo"


class GroupPanelMixin(GroupParts, mixin=True):
    new_group_open: bool = False
    picked: list[views.PersonItem] = []
    picked_ids: list[int] = []
    picks: list[views.PersonItem] = []  # the people search results while picking

    panel_open: bool = False  # the settings page of the open group is showing
    group_refused: bool = False  # /group/<id> named no group of mine
    panel_tab: str = "members"
    my_role: str = ""
    members: list[MemberItem] = []
    member_query: str = ""
    members_from: int = 0  # the page of members shown starts here (groups.MEMBERS_SHOWN a page)
    members_more: bool = False
    can_rename: bool = False
    can_add: bool = False
    can_delete: bool = False
    can_read_log: bool = False
    log: list[LogItem] = []
    log_more: bool = False
    log_action: str = ""
    log_person: str = ""  # a user id, or "" for anyone
    log_people: list[LogPerson] = []  # whom the log filter offers: the people of the entries read
    can_photo: bool = False
    photo_crop: dict = {}
    photo_saving: bool = False

    # ----- a new group -----------------------------------------------------------
    @authed
    async def open_new_group(self):
        self.new_group_open = True
        self._pick([])
        return self._forget_new_photo()

    @authed
    async def close_new_group(self):
        self.new_group_open = False
        self._pick([])
        return self._forget_new_photo()

    def _pick(self, people: list) -> None:
        self.picked, self.picked_ids = people, [p["id"] for p in people]
        if not people:
            self.picks = []

    @authed
    async def search_picks(self, query: str):
        if not isinstance(query, str) or len(query) > 100:
            raise Invalid()
        self.picks = views.people(await in_thread(rooms.search_users, self._user_id, query)) if query.strip() else []

    @authed
    async def toggle_pick(self, user_id: int):
        if type(user_id) is not int:
            raise Invalid()
        if user_id in self.picked_ids:
            self._pick([p for p in self.picked if p["id"] != user_id])
            return
        person = next((p for p in self.picks if p["id"] == user_id), None)
        if person is None:  # only someone the search showed
            raise Invalid()
        self._pick([*self.picked, person])

    @authed
    async def create_group_form(self, form_data: dict):
        if not isinstance(form_data, dict):
            raise Invalid()
        room_id = await self._create_group(form_data.get("name"), list(self.picked_ids))
        self._post_new_photo(room_id)  # a second step: a photo that fails leaves the group as it is
        self.new_group_open = False
        self._pick([])

    # ----- an open group's settings page (/group/<id>) ------------------------------
    async def load_group_page(self):
        """on_load of /group/<id>: the chat page's guard and connection, then that group opened
        (the way back to the chat shows it at once); anything but one of my groups: refused."""
        if not await self._login_from_cookie():
            return rx.redirect("/login")
        self.my_id = self._user_id
        self._use_language(await in_thread(accounts.get_locale, self._user_id) or self._browser_language())
        await hub.connect(self._user_id, self._tab())
        tail = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        room = int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 18 else 0
        self.group_refused = False
        try:
            if not room:
                raise NotFound()
            await self._open(room)
            if self.room_kind != "group":
                raise NotFound()
            await self._show_group()
        except ServiceError:
            await self._close()
            self.group_refused = True

    @authed
    async def open_panel(self):
        """The open group's settings (the page calls it on load; a script may too)."""
        if self.room_kind != "group":
            raise Invalid()
        await self._show_group()

    async def _show_group(self) -> None:
        self.panel_open, self.panel_tab, self.member_query, self.log_action = True, "members", "", ""
        self.members_from = 0
        self.log_person, self.log_people, self.log = "", [], []
        self._pick([])
        await self._load_members()

    @authed
    async def close_panel(self):
        self.panel_open, self.members, self.log = False, [], []

    @authed
    async def show_panel_tab(self, tab: str | list[str]):
        if tab not in ("members", "log"):
            raise Invalid()
        self.panel_tab = tab
        if tab == "log":
            if not self.can_read_log:
                self.log = []
                return  # the page says the log is the owner's and admins' (and the service refuses too)
            await self._load_log(reset=True)

    @authed
    async def add_picked(self):
        """Add the people picked on the page (the same picking as a new group's)."""
        notes = await in_thread(groups.add_members, self._user_id, self.room_id, list(self.picked_ids))
        await self._emit(notes)  # MembersAdded counts them in this tab too
        self._pick([])
        await self._load_members()

    @authed
    async def search_members(self, query: str):
        if not isinstance(query, str) or len(query) > 100:
            raise Invalid()
        self.member_query, self.members_from = query, 0
        await self._load_members()

    @authed
    async def members_page(self, forward: bool):
        if type(forward) is not bool or (forward and not self.members_more) or (not forward and not self.members_from):
            raise Invalid()
        self.members_from = max(0, self.members_from + (groups.MEMBERS_SHOWN if forward else -groups.MEMBERS_SHOWN))
        await self._load_members()

    @authed
    async def filter_log(self, action: str):
        if action != "all" and action not in GROUP_ACTIONS:
            raise Invalid()
        self.log_action = "" if action == "all" else action
        await self._load_log(reset=True)

    @authed
    async def filter_log_person(self, person: str):
        if person != "all" and not any(p["id"] == person for p in self.log_people):
            raise Invalid()  # only someone the log showed
        self.log_person = "" if person == "all" else person
        await self._load_log(reset=True)

    @authed
    async def more_log(self):
        await self._load_log(reset=False)

    @authed
    async def rename_form(self, form_data: dict):
        if not isinstance(form_data, dict):
            raise Invalid()
        await self._emit(await in_thread(groups.rename_group, self._user_id, self.room_id, form_data.get("name")))

    # ----- the group's photo: the profile's cropper, posted to /api/group-avatar/{room} ----------
    @authed
    async def photo_crop_changed(self, box: dict):
        box = cropping.box_of(box)
        if box is not None:
            self.photo_crop = box

    @authed
    async def photo_refused(self, rejected: list):
        return rx.toast.error(self._t(cropping.refusal_of(rejected), max=self._photo_limit()))

    @authed
    async def photo_failed(self, key: str):
        key = cropping.error_key(key)
        self.photo_crop = {}  # the cropper let the file go: no box of it is posted (a new group's)
        return rx.toast.error(self._t(key, max=self._photo_limit()))

    @authed
    async def photo_saving_started(self):
        self.photo_saving = True

    @authed
    async def photo_posted(self, answer: dict):
        """The route's answer: the new photo reached every member already (GroupAvatarChanged)."""
        self.photo_saving = False
        avatar_id, key, limit = cropping.answer_of(answer)
        if avatar_id is None:
            return rx.toast.error(self._t(key, max=self._photo_limit() if limit is None else limit))
        self.photo_crop = {}
        return [rx.clear_selected_files(PHOTO_UPLOAD_ID), rx.toast.success(self._t("group.photo_saved"))]

    @authed
    async def remove_photo(self):
        await self._emit(await in_thread(group_avatar.remove_avatar, self._user_id, self.room_id))

    @staticmethod
    def _photo_limit() -> int:
        return settings.avatar_max_bytes // (1024 * 1024)

    async def _load_members(self) -> None:
        role, people, self.members_more = await in_thread(groups.members, self._user_id, self.room_id,
                                                          self.member_query, self.members_from)
        kind, me = self.room_kind, self._user_id
        self.my_role = role
        self.can_rename = policy.can(role, "group.rename", kind)
        self.can_add = policy.can(role, "group.add_member", kind)
        self.can_delete = policy.can(role, "group.delete", kind)
        self.can_read_log = policy.can(role, "group.audit_log.read", kind)
        self.can_photo = policy.can(role, "group.avatar", kind)
        self.members = [{
            "id": p["id"], "name": p["name"], "login": p["login"], "initials": views.initials(p["name"]),
            "role": p["role"], "role_label": i18n.t(self.lang, f"group.role_{p['role']}"),
            "can_remove": p["id"] != me and policy.can(role, "group.remove_member", kind, p["role"]),
            "can_promote": p["role"] == "member" and policy.can(role, "group.set_role", kind, p["role"]),
            "can_demote": p["role"] == "admin" and policy.can(role, "group.set_role", kind, p["role"]),
            "can_transfer": p["id"] != me and policy.can(role, "group.transfer", kind),
        } for p in people]
        await self._refresh_people(only_new=True)  # their photos and online dots, as this tab may see them

    async def _load_log(self, reset: bool) -> None:
        before = None if reset or not self.log else self.log[-1]["id"]
        entries = await in_thread(group_log.read, self._user_id, self.room_id, before,
                                  self.log_action or None, int(self.log_person) if self.log_person else None,
                                  LOG_PAGE + 1)
        tz = views.zone(self._tz)
        items = [{"id": e.id, "text": log_text(e, self.lang),
                  "time": views.short_time(e.at, tz, self.lang)} for e in entries[:LOG_PAGE]]
        self.log = items if reset else [*self.log, *items]
        self.log_more = len(entries) > LOG_PAGE
        known = {p["id"]: p["name"] for p in self.log_people}
        for e in entries[:LOG_PAGE]:
            for uid, name in ((e.actor_id, e.actor), (e.target_id, e.target)):
                if uid and name:
                    known.setdefault(str(uid), name)
        self.log_people = [{"id": k, "name": v} for k, v in sorted(known.items(), key=lambda kv: kv[1].lower())]

    async def _refresh_panel(self, room_id: int) -> None:
        """A live change to the group the panel shows: read its members again (this tab only)."""
        if self.panel_open and self.room_id == room_id:
            await self._load_members()
            if self.panel_tab == "log" and self.can_read_log:
                await self._load_log(reset=True)

    # The panel follows the group's live changes: its own functions, after the chat page's.
    @on(MemberRemoved, order=10)
    async def _panel_member_removed(self, event: MemberRemoved) -> None:
        await self._refresh_panel(event.room_id)

    @on(RoleChanged, order=10)
    async def _panel_role_changed(self, event: RoleChanged) -> None:
        await self._refresh_panel(event.room_id)

    @on(GroupAvatarChanged, order=10)
    async def _panel_avatar_changed(self, event: GroupAvatarChanged) -> None:
        if self.panel_open and self.room_id == event.room_id and self.panel_tab == "log" and self.can_read_log:
            await self._load_log(reset=True)

    @on(GroupRenamed, order=10)
    async def _panel_renamed(self, event: GroupRenamed) -> None:
        await self._refresh_panel(event.room_id)
