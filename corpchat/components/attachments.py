"""Attaching files (📎, drag-and-drop, paste; upload progress, cancel, retry) and a file
message's part of a bubble: thumbnail, players, or a card with a download button.

All of it is Python (state/chat/attachments.py); the only JS is the bridge `AttachBridge`
(attachments.jsx): it holds the browser's File objects, which cannot cross a Reflex event, and
uploads them through upload.js when the state tells it to. Drag-and-drop is Reflex's
react-dropzone (`drop_zone`, around the chat pane): the dropped files land in Reflex's upload
map, where the bridge takes them; the drop overlay is CSS on the zone's drag-active class.

Why POST /api/upload and not Reflex's `/_upload` (issue 21 item 3): `/_upload` authenticates
by the tab's client token alone, while our route checks the session cookie and Origin, caps the
size while reading, checks the quota, sniffs the type and paces slow clients. Moving would need
a single-use upload ticket and a second copy of those checks, for no gain the files bench shows.
"""

from __future__ import annotations

import reflex as rx
from reflex_base.constants import MemoizationMode
from reflex_base.event import no_args_event_spec, passthrough_event_spec
from reflex_base.vars import Var
from reflex_base.vars.function import FunctionStringVar, FunctionVar
from reflex_base.vars.object import ObjectVar
from reflex_components_core.core.upload import Upload, get_upload_files_context_var_data

from corpchat.components import upload_bridge  # noqa: F401  (attachments.jsx imports upload.js)
from corpchat.components.common import tr
from corpchat.components.in_view import in_view
from corpchat.config import settings
from corpchat.file_views import FileItem
from corpchat.state.chat import ChatState

ASSET = rx.asset("attachments.jsx", shared=True)
DROP_TARGET = "room-pane"
DROP_ID = "attach-drop"  # the chat pane's dropped files in Reflex's upload map
INPUT_ID = "attach-input"


class AttachBridge(rx.NoSSRComponent):
    library = f"$/public{ASSET}"
    tag = "AttachBridge"

    input: rx.Var[str]
    target: rx.Var[str]
    dropped: rx.Var[list]
    commands: rx.Var[list]
    # [{key, name, size, preview}]
    on_added: rx.EventHandler[passthrough_event_spec(list)]
    on_progress: rx.EventHandler[passthrough_event_spec(str, float)]
    on_uploaded: rx.EventHandler[passthrough_event_spec(str, str)]
    on_failed: rx.EventHandler[passthrough_event_spec(str, str)]


# The media elements with the error trigger Reflex's own do not declare: an expired URL (a tab
# left open) asks for a fresh one.
class Img(rx.el.Img):
    on_error: rx.EventHandler[no_args_event_spec]


class Video(rx.el.Video):
    on_error: rx.EventHandler[no_args_event_spec]


class Audio(rx.el.Audio):
    on_error: rx.EventHandler[no_args_event_spec]


class _DropZone(Upload):
    """`rx.upload.root` whose children compile as anywhere else. Upload is a memoization leaf:
    around the chat pane it would compile the whole pane, messages and all, into one component,
    whose mount hooks would run once for the pane (messages._to_divider relies on its own)."""

    _memoization_mode = MemoizationMode(recursive=True)

    @classmethod
    def create(cls, *children, input_id: str = "", **props) -> rx.Component:
        zone = super().create(*children, **props)
        # Its own <input type=file>, opened by a label (📎): picked files take the dropped
        # files' road, into the upload map, even before the bridge has loaded. (Compiled apart
        # from the zone, it holds a dropzone of its own, with the same options and on_drop.)
        zone.children[0].children[0].id = input_id
        return zone


def drop_zone(*children, **props) -> rx.Component:
    """Files dropped anywhere on `children`, or picked with the 📎, go to Reflex's upload map
    under DROP_ID."""
    return _DropZone.create(*children, id=DROP_ID, input_id=INPUT_ID, no_click=True, no_keyboard=True, multiple=True,
                            drag_active_style={"& .drop-overlay": {"display": "flex"}}, **props)


def attacher() -> rx.Component:
    """The 📎 button: a label of drop_zone's hidden file input, so no script opens the picker."""
    return rx.icon_button(rx.el.label("📎", html_for=INPUT_ID, cursor="pointer"), as_child=True, variant="ghost",
                          id="attach-button", aria_label=tr("file.attach"), title=tr("file.attach"),
                          font_size="18px")


def _bridge() -> rx.Component:
    return rx.fragment(
        AttachBridge.create(input=INPUT_ID, target=DROP_TARGET, commands=ChatState.attach_commands,
                            dropped=Var(f"filesById[{DROP_ID!r}]", _var_data=get_upload_files_context_var_data()),
                            on_added=ChatState.attach_added,
                            on_progress=ChatState.attach_progress, on_uploaded=ChatState.attach_uploaded,
                            on_failed=ChatState.attach_failed),
    )


def _attached_row(it) -> rx.Component:
    status = it["status"]
    return rx.hstack(
        rx.cond(it["preview"] != "",
                rx.image(src=it["preview"], width="44px", height="44px", object_fit="cover", border_radius="6px"),
                rx.center("📄", width="44px", height="44px", font_size="26px", flex_shrink="0")),
        rx.box(
            rx.text(it["name"], size="2", truncate=True, class_name="attach-name"),
            rx.text(it["size"],
                    rx.cond(status == "uploading", rx.fragment(" · ", it["percent"], "%")),
                    rx.cond(status == "error", rx.text.span(" · ", it["error"], color_scheme="red",
                                                            class_name="attach-error")),
                    size="1", color_scheme="gray"),
            rx.cond(status != "error",
                    rx.progress(value=it["percent"], size="1", margin_top="4px", class_name="attach-progress",
                                custom_attrs={"data-progress": it["progress"]})),
            flex="1", min_width="0",
        ),
        rx.cond(it["retry"], rx.button(tr("file.retry"), size="1", variant="soft", type="button",
                                       class_name="attach-retry", on_click=ChatState.attach_retry(it["key"]))),
        rx.icon_button(rx.icon("x", size=14), size="1", variant="ghost", type="button", class_name="attach-remove",
                       aria_label=tr("file.remove"), title=tr("file.remove"),
                       on_click=ChatState.attach_remove(it["key"])),
        align="center", spacing="2", width="100%", class_name="attach-item", custom_attrs={"data-status": status},
        key=it["key"],
    )


def attach_panel() -> rx.Component:
    """The files being attached, above the composer (outside its form: Enter in the caption
    sends the files, not the composer's text); and the drop overlay (shown by drop_zone)."""
    panel = rx.card(
        rx.form(
            rx.vstack(
                rx.foreach(ChatState.attached, _attached_row),
                rx.input(name="caption", id="attach-caption", placeholder=tr("file.caption"),
                         max_length=settings.max_message_length, width="100%"),
                rx.hstack(
                    rx.button(tr("file.cancel"), type="button", variant="soft", id="attach-cancel",
                              on_click=ChatState.attach_cancel),
                    rx.button(tr("file.send"), type="submit", id="attach-send", disabled=~ChatState.attach_ready),
                    justify="end", width="100%",
                ),
                spacing="2", width="100%",
            ),
            on_submit=ChatState.attach_send, reset_on_submit=False,
        ),
        id="attach-panel", position="absolute", bottom="8px", left="8px", z_index="20",
        width="min(440px, calc(100vw - 24px))", background="var(--color-panel-solid)", box_shadow="var(--shadow-5)",
    )
    overlay = rx.center(
        tr("file.drop_here"), class_name="drop-overlay", display="none", position="fixed", inset="0", z_index="50",
        pointer_events="none", background="var(--accent-a4)", border="3px dashed var(--accent-9)", font_size="20px",
    )
    return rx.box(_bridge(), rx.cond(ChatState.attached.length() > 0, panel),
                  overlay, position="relative", width="100%", height="0")


def _placeholder(file_id, **size) -> rx.Component:
    """Grey until this tab has the file's URL, asking for it once it scrolls into view (not
    on_mount: Reflex hoists a mount hook out of the message loop, away from `m`)."""
    return in_view(rx.box(background="var(--gray-a4)", **size),
                   on_change=lambda _visible: ChatState.want_media([file_id]))


def _voice(f, url, has_url, want) -> rx.Component:
    return rx.hstack(
        rx.cond(has_url, Audio.create(src=url, controls=True, preload="metadata", class_name="voice-audio",
                                      on_error=want, height="36px", flex="1"),
                _placeholder(f["id"], height="36px", flex="1", border_radius="18px")),
        rx.text(f["duration"], size="1", color_scheme="gray", style={"font_variant_numeric": "tabular-nums"}),
        align="center", spacing="2", min_width="240px", class_name="voice-player",
    )


def _play_or_pause(element_id: Var[str]) -> rx.event.EventSpec:
    """Tap to play or pause a round video. A <video> has no prop for it, only its play() and
    pause() methods: called the way rx.scroll_to calls scrollIntoView, compiled into the page
    (no script string, no eval), run in the tap itself: no round trip to the server, and the
    tab's own player, not a state other tabs or a reload would replay."""
    video = FunctionStringVar.create("document.getElementById").call(element_id).to(ObjectVar)
    return rx.run_script(rx.cond(video.paused, video.play.to(FunctionVar).call(),
                                 video.pause.to(FunctionVar).call()))


def _circle(f, url, thumb, has_url, want) -> rx.Component:
    video_id = "circle-" + f["id"].to(str)
    round_ = {"width": "220px", "height": "220px", "border_radius": "50%"}
    return rx.box(
        rx.cond(has_url,
                Video.create(src=url, poster=thumb, plays_inline=True, preload="metadata", class_name="circle-video",
                             on_error=want, object_fit="cover", cursor="pointer", display="block",
                             id=video_id, on_click=_play_or_pause(video_id),
                             background="var(--gray-a4)", **round_),
                _placeholder(f["id"], **round_)),
        rx.text("▶ ", f["duration"], size="1", position="absolute", left="12px", bottom="12px", padding="1px 6px",
                border_radius="8px", background="rgba(0,0,0,0.5)", color="white", pointer_events="none"),
        position="relative", width="220px", height="220px",
    )


def _image(f, url, thumb, has_url, want) -> rx.Component:
    return rx.el.a(
        rx.cond(has_url,
                Img.create(src=thumb, alt=f["name"], width=f["box_w"], height=f["box_h"], on_error=want,
                           style={"max_width": "100%", "height": "auto", "max_height": "360px",
                                  "object_fit": "cover", "border_radius": "8px", "display": "block"}),
                _placeholder(f["id"], width=f["box_w"].to_string() + "px", height=f["box_h"].to_string() + "px",
                             max_width="100%", border_radius="8px")),
        href=url, target="_blank", rel="noopener noreferrer", class_name="file-image", display="block",
        max_width="100%",
    )


def _card(f, url, thumb, has_url, want) -> rx.Component:
    return rx.vstack(
        rx.cond(has_url & (f["kind"] == "audio"),
                Audio.create(src=url, controls=True, preload="metadata", class_name="file-audio", on_error=want,
                             width="260px", max_width="100%")),
        rx.cond(has_url & (f["kind"] == "video"),
                Video.create(src=url, poster=thumb, controls=True, plays_inline=True, preload="metadata",
                             class_name="file-video", on_error=want, width="320px", max_width="100%",
                             max_height="360px", border_radius="8px")),
        rx.hstack(
            rx.text(f["icon"], font_size="30px", line_height="1"),
            rx.box(rx.text(f["name"], size="2", weight="medium", truncate=True, title=f["name"],
                           class_name="file-name"),
                   rx.text(f["size"], size="1", color_scheme="gray", class_name="file-size"),
                   flex="1", min_width="0"),
            rx.cond(~has_url, _placeholder(f["id"], width="1px", height="1px")),
            rx.icon_button(rx.el.a("⬇", href=rx.cond(has_url, url + "&dl=1", "#"), download=f["name"],
                                   text_decoration="none"),
                           as_child=True, variant="soft", class_name="file-download",
                           aria_label=tr("file.download"), title=tr("file.download")),
            align="center", spacing="3", min_width="0", width="100%",
        ),
        spacing="2", max_width="100%",
    )


@rx.memo
def file_part(kind: rx.Var[str], file: rx.Var[FileItem]) -> rx.Component:
    """Compiled once, not once per message list it appears in (the window and each ring chunk)."""
    f = file
    file_id = f["id"].to(str)
    url, thumb = ChatState.media_urls[file_id], ChatState.media_urls[file_id + "/thumb"]
    has_url = ChatState.media_urls.contains(file_id)
    want = ChatState.want_media([file_id])
    return rx.match(
        kind,
        ("voice", _voice(f, url, has_url, want)),
        ("video", _circle(f, url, thumb, has_url, want)),
        rx.cond((f["kind"] == "image") & f["thumb"], _image(f, url, thumb, has_url, want),
                _card(f, url, thumb, has_url, want)),
    )


def file_view(m) -> rx.Component:
    """The file of a file/voice/video bubble; the URLs are this tab's own (ChatState.media_urls)."""
    return file_part(kind=m["kind"], file=m["file"])
