"""The Reflex app: pages, API routes and startup checks."""

from __future__ import annotations

import reflex as rx
import socketio
from starlette.applications import Starlette

from corpchat import db, logs
from corpchat.api import signalling, uploads
from corpchat.api.auth_routes import routes as auth_routes
from corpchat.api.avatar_upload import routes as avatar_upload_routes
from corpchat.api.avatars import routes as avatar_routes
from corpchat.api.headers import SecurityHeaders
from corpchat.api.media import routes as media_routes
from corpchat.api.signalling import routes as signalling_routes
from corpchat.api.uploads import routes as upload_routes
from corpchat.config import settings
from corpchat.pages.auth import login_page, register_page
from corpchat.pages.chat import chat_page
from corpchat.pages.group import group_page
from corpchat.pages.profile import profile_page
from corpchat.pages.settings import settings_page
from corpchat.realtime import lifecycle
from corpchat.realtime import presence as presence_edges
from corpchat.runtime_checks import check_startup
from corpchat.state import tab_guard
from corpchat.state.auth_pages import PublicPageState
from corpchat.state.chat import ChatState
from corpchat.state.profile import ProfileState
from corpchat.state.settings import SettingsState

check_startup(settings)

api = Starlette(routes=auth_routes + avatar_routes + avatar_upload_routes + media_routes + upload_routes
                + signalling_routes)

app = rx.App(
    # Our routes first (Reflex mounts itself under them), then the headers around everything.
    api_transformer=[api, SecurityHeaders],
    stylesheets=["/corpchat.css"],
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1"),
                     rx.el.link(rel="icon", href="/favicon.ico", sizes="any")],
)


class _JsonPacket(socketio.packet.Packet):
    """Every frame CorpChat sends is JSON (python-socketio's documented extension point for a
    custom packet). The default packet first walks the whole payload looking for bytes, in
    Python, for every emit: ~3 % of a busy worker's event loop, for room broadcasts of 100 bubbles."""

    uses_binary_events = False


app.sio.packet_class = _JsonPacket
# A tab token alone gets no stored state; first/last tab of a user; unsent uploads swept; the
# loop's DB pool closed last.
logs.configure()
app.register_lifespan_task(db.lifespan)
app.register_lifespan_task(tab_guard.lifespan)
app.register_lifespan_task(lifecycle.lifespan)
app.register_lifespan_task(uploads.lifespan)
presence_edges.install()
signalling.install()
app.add_page(chat_page, route="/", title=ChatState.page_title, on_load=ChatState.load_chat_page)
app.add_page(group_page, route="/group/[group_id]", title="CorpChat — group", on_load=ChatState.load_group_page)
app.add_page(login_page, route="/login", title="CorpChat — log in", on_load=PublicPageState.load_public_page)
app.add_page(register_page, route="/register", title="CorpChat — register",
             on_load=PublicPageState.load_public_page)
app.add_page(settings_page, route="/settings", title="CorpChat — settings",
             on_load=SettingsState.load_settings_page)
app.add_page(profile_page, route="/profile", title="CorpChat — profile",
             on_load=ProfileState.load_profile_page)
