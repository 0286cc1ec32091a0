"""The group panel of the chat page: a new group (name + people picked), and an open group's
settings (rename, members with the actions my role allows, add, leave, delete) and its audit
log for the owner and admins. Every check is the service's (services/groups.py, group_log.py);
what to offer comes from the same policy table (`policy.can`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import reflex as rx

from corpchat import i18n, views
from corpchat.models.tables import GROUP_ACTIONS
from corpchat.realtime.appliers import on
from corpchat.services import group_log, groups, policy, rooms
from corpchat.services.errors import Invalid
from corpchat.services.events import GroupRenamed, MemberRemoved, RoleChanged
from corpchat.state.base import authed, in_thread
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


class GroupPanelMixin(rx.State, mixin=True):
    new_group_open: bool = False
    picked: list[views.PersonItem] = []
    picked_ids: list[int] = []
    picks: list[views.PersonItem] = []  # the people search results while picking

    panel_open: bool = False
    panel_tab: str = "members"
    my_role: str = ""
    members: list[MemberItem] = []
    member_query: str = ""
    can_rename: bool = False
    can_add: bool = False
    can_delete: bool = False
    can_read_log: bool = False
    log: list[LogItem] = []
    log_more: bool = False
    log_action: str = ""

    if TYPE_CHECKING:  # what this mixin uses of ChatState's other parts, named once
        room_id: int
        room_kind: str
        room_title: str
        lang: str
        _tz: str

        def _t(self, key: str, **params) -> str: ...
        async def _emit(self, result) -> None: ...
        async def _create_group(self, name, member_ids) -> None: ...

    # ----- a new group -----------------------------------------------------------
    @authed
    async def open_new_group(self):
        self.new_group_open = True
        self._pick([])

    @authed
    async def close_new_group(self):
        self.new_group_open = False
        self._pick([])

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
        await self._create_group(form_data.get("name"), list(self.picked_ids))
        self.new_group_open = False
        self._pick([])

    # ----- an open group's panel -----------------------------------------------------
    @authed
    async def open_panel(self):
        if self.room_kind != "group":
            raise Invalid()
        self.panel_open, self.panel_tab, self.member_query, self.log_action = True, "members", "", ""
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
            await self._load_log(reset=True)

    @authed
    async def search_members(self, query: str):
        if not isinstance(query, str) or len(query) > 100:
            raise Invalid()
        self.member_query = query
        await self._load_members()

    @authed
    async def filter_log(self, action: str):
        if action != "all" and action not in GROUP_ACTIONS:
            raise Invalid()
        self.log_action = "" if action == "all" else action
        await self._load_log(reset=True)

    @authed
    async def more_log(self):
        await self._load_log(reset=False)

    @authed
    async def rename_form(self, form_data: dict):
        if not isinstance(form_data, dict):
            raise Invalid()
        await self._emit(await in_thread(groups.rename_group, self._user_id, self.room_id, form_data.get("name")))

    async def _load_members(self) -> None:
        role, people = await in_thread(groups.members, self._user_id, self.room_id, self.member_query)
        kind, me = self.room_kind, self._user_id
        self.my_role = role
        self.can_rename = policy.can(role, "group.rename", kind)
        self.can_add = policy.can(role, "group.add_member", kind)
        self.can_delete = policy.can(role, "group.delete", kind)
        self.can_read_log = policy.can(role, "group.audit_log.read", kind)
        self.members = [{
            "id": p["id"], "name": p["name"], "login": p["login"], "initials": views.initials(p["name"]),
            "role": p["role"], "role_label": i18n.t(self.lang, f"group.role_{p['role']}"),
            "can_remove": p["id"] != me and policy.can(role, "group.remove_member", kind, p["role"]),
            "can_promote": p["role"] == "member" and policy.can(role, "group.set_role", kind, p["role"]),
            "can_demote": p["role"] == "admin" and policy.can(role, "group.set_role", kind, p["role"]),
            "can_transfer": p["id"] != me and policy.can(role, "group.transfer", kind),
        } for p in people]

    async def _load_log(self, reset: bool) -> None:
        before = None if reset or not self.log else self.log[-1]["id"]
        entries = await in_thread(group_log.read, self._user_id, self.room_id, before,
                                  self.log_action or None, None, LOG_PAGE + 1)
        tz = views.zone(self._tz)
        items = [{"id": e.id, "text": log_text(e, self.lang),
                  "time": views.short_time(e.at, tz, self.lang)} for e in entries[:LOG_PAGE]]
        self.log = items if reset else [*self.log, *items]
        self.log_more = len(entries) > LOG_PAGE

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

    @on(GroupRenamed, order=10)
    async def _panel_renamed(self, event: GroupRenamed) -> None:
        await self._refresh_panel(event.room_id)
