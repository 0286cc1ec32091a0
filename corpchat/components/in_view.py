"""Tells the server when an element scrolls into view (react-intersection-observer)."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import passthrough_event_spec


class InView(rx.Component):
    library = "react-intersection-observer@9.16.0"
    tag = "InView"

    root_margin: rx.Var[str]
    on_change: rx.EventHandler[passthrough_event_spec(bool)]


in_view = InView.create
