"""A group's settings page (/group/<id>): the chat page's state, its own route (components/groups.py)."""

from __future__ import annotations

import reflex as rx

from corpchat.components.confirm import confirm_dialog
from corpchat.components.groups import group_settings
from corpchat.pages.chat import signed_out_overlay


def group_page() -> rx.Component:
    return rx.box(group_settings(), signed_out_overlay(), confirm_dialog(), width="100%")
