"""The tab title shows the unread total, "(3) CorpChat", as messengers do.

Summed in the browser from the chat list it already has: no server work per change.
"""

from __future__ import annotations

import reflex as rx
from reflex_base.vars import Var, VarData

from corpchat.state.chat import ChatState

APP_TITLE = "CorpChat"


def _unread_total() -> Var:
    top, rest, top_ids = ChatState.chats_top, ChatState.chats, ChatState.top_ids
    # `chats` still holds the entries moved up into `chats_top`: count those once.
    return Var(
        _js_expr=(f"(({top}).reduce((a, c) => a + (c.unread || 0), 0) + ({rest}).reduce("
                  f"(a, c) => ({top_ids}).includes(c.room_id) ? a : a + (c.unread || 0), 0))"),
        _var_type=int,
        _var_data=VarData.merge(top._get_all_var_data(), rest._get_all_var_data(), top_ids._get_all_var_data()),
    )


def unread_title() -> rx.Component:
    total = _unread_total()
    hook = (f"const unreadTotal = {total!s};\n"
            f"useEffect(() => {{ document.title = unreadTotal > 0 ? `(${{unreadTotal}}) {APP_TITLE}` "
            f": \"{APP_TITLE}\"; }}, [unreadTotal]);")
    sync = Var(_js_expr="null", _var_data=VarData.merge(
        total._get_all_var_data(), VarData(hooks={hook: None}, imports={"react": ["useEffect"]})))
    return rx.fragment(sync)
