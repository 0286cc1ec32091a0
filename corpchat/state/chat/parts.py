"""What the group mixins (groups.py, group_page.py) use of ChatState's other parts, named once.

A Protocol for the type checker only: at run time `GroupParts` is `rx.State` itself, so the
mixins are ordinary Reflex mixins; under TYPE_CHECKING they also see these names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import reflex as rx


class ChatParts(Protocol):
    room_id: int
    room_title: str
    room_initials: str
    room_avatar: str
    room_kind: str
    can_delete_others: bool
    sidebar_tab: str
    panel_open: bool
    room_members: int
    lang: str
    _tz: str

    def _t(self, key: str, **params) -> str: ...
    async def _open(self, room_id) -> None: ...
    async def _close(self) -> None: ...
    async def _emit(self, result) -> None: ...
    def _chat(self, room_id: int) -> dict | None: ...
    def _put_chat(self, item: dict, to_top: bool) -> None: ...
    def _drop_chat(self, room_id: int) -> None: ...
    def _show_members(self, n: int) -> None: ...
    async def _create_group(self, name, member_ids) -> None: ...
    async def _load_members(self) -> None: ...
    async def _refresh_people(self, only_new: bool = False) -> None: ...


if TYPE_CHECKING:
    class GroupParts(rx.State, ChatParts):  # noqa: D101
        ...
else:
    GroupParts = rx.State
