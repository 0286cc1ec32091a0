"""The avatar cropper: `react-cropper` (Cropper.js 1.x) wrapped from Python, a square frame and
a round preview.

How the picture travels (issue 21), with as little JS as there can be:
- choosing: `rx.upload.root` (react-dropzone) around a Radix button labelled in the UI
  language. The file stays in the browser, in Reflex's upload map under `upload_id`; a file
  refused by type or size goes to `on_refused` (react-dropzone's rejections, for Python to
  name the error).
- cropping: `Cropper` shows an object URL of that file (`_chosen_file_url`). Dragging and
  zooming stay in the browser; `ready`/`cropend` report the box {x, y, width, height}, in
  pixels of the upright image, at the end of each gesture, and `crop` (debounced; it also
  follows zooming, whose own event fires before the zoom is applied) after a pause. A file
  the browser cannot show fires the image's `on_error`: `on_error("err.avatar_not_image")`.
- saving: `postAvatar` of `upload.js` (the one upload bridge) posts the untouched file with
  the box Python holds to POST /api/avatar, which checks the session cookie, the Origin and the size while
  reading, crops and re-encodes on the server; its answer goes to `on_saved`.

Why not Reflex's /_upload: it runs the handler under the tab token sent in a header, and
the handler's `router.headers` are those of the tab's last WebSocket event, not of the
upload request, so `@authed` would check the socket's cookie while the tab token alone
(it travels in the WebSocket URL) is enough to upload. See api/avatar_upload.py.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

import reflex as rx
from reflex_base.event import no_args_event_spec
from reflex_base.utils.imports import ImportVar
from reflex_base.vars import Var, VarData
from reflex_components_core.core.upload import get_upload_files_context_var_data

from corpchat.components import upload_bridge
from corpchat.config import settings

_POST_JS = f"$/public{upload_bridge.ASSET}"
# What the server decodes (services/avatars.py); the browser's type check is a convenience.
ACCEPT = {"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/webp": [".webp"], "image/gif": [".gif"]}
PREVIEW_CLASS = "corpchat-avatar-preview"


class CropBox(TypedDict):
    x: int
    y: int
    width: int
    height: int


def _box_of_cropper(e: Var) -> tuple[Var[dict[str, Any]]]:
    """A Cropper.js event -> the current box, rounded (getData(true))."""
    return (Var(f"(({e!s}).target?.cropper?.getData(true) ?? null)", _var_type=dict[str, Any]),)


def _box_of_crop(e: Var) -> tuple[Var[dict[str, Any]]]:
    """The `crop` event -> its detail {x, y, width, height, ...} (not rounded)."""
    return (Var(f"(({e!s}).detail ?? null)", _var_type=dict[str, Any]),)


class Cropper(rx.NoSSRComponent):
    """`Cropper` from react-cropper (its default export); loaded in the browser only.

    Props other than Cropper.js options (`on_error`, `alt`) go to the <img> it wraps."""

    library = "react-cropper@2.3.3"
    # react-cropper 2.x wraps Cropper.js 1.x (cropperjs 2 is a different, web-component API).
    lib_dependencies: list[str] = ["cropperjs@1.6.2"]
    tag = "Cropper"
    alias = "ReactCropper"
    is_default = True

    src: rx.Var[str]
    alt: rx.Var[str]
    aspect_ratio: rx.Var[float]
    # 0: free; 1: the crop box stays inside the canvas; 2/3: the canvas fills the container.
    view_mode: rx.Var[int]
    auto_crop_area: rx.Var[float]
    background: rx.Var[bool]
    responsive: rx.Var[bool]
    guides: rx.Var[bool]
    # Modern browsers already show images upright (image-orientation: from-image); letting
    # Cropper.js rotate by EXIF too would turn them twice. The server orients the same way.
    check_orientation: rx.Var[bool]
    # A CSS selector of the elements Cropper.js fills with a live preview.
    preview: rx.Var[str]

    ready: rx.EventHandler[_box_of_cropper]
    cropend: rx.EventHandler[_box_of_cropper]
    crop: rx.EventHandler[_box_of_crop]
    # The <img> could not load the file: not an image after all (or a broken one).
    on_error: rx.EventHandler[no_args_event_spec]

    def add_imports(self) -> dict:
        return {"": "cropperjs/dist/cropper.css"}


def _chosen_file_url(upload_id: str) -> Var[str]:
    """An object URL of the file chosen under `upload_id` (Reflex's upload map), made once per
    file and freed when the file changes or the cropper goes."""
    n = "chosen_" + re.sub(r"\W", "_", upload_id)
    hook = (f"const [{n}_files] = useContext(UploadFilesContext);\n"
            f"const {n}_file = {n}_files[{json.dumps(upload_id)}]?.[0];\n"
            f"const {n}_url = useMemo(() => ({n}_file ? URL.createObjectURL({n}_file) : undefined), [{n}_file]);\n"
            f"useEffect(() => () => {{ if ({n}_url) URL.revokeObjectURL({n}_url); }}, [{n}_url]);")
    return Var(f"{n}_url", _var_type=str, _var_data=VarData.merge(
        get_upload_files_context_var_data(),
        VarData(imports={"react": [ImportVar(tag="useContext"), ImportVar(tag="useMemo"), ImportVar(tag="useEffect")]},
                hooks={hook: None})))


def _post(upload_url: str | Var, upload_id: str, box: Var) -> Var:
    """The bridge's call: the chosen file and `box` to `upload_url` (a group's photo names its group:
    a Var); a promise of its JSON answer."""
    url = Var.create(upload_url)
    return Var(f"postAvatar({url!s}, filesById[{json.dumps(upload_id)}]?.[0], {box!s})",
               _var_data=VarData.merge(get_upload_files_context_var_data(),
                                       VarData(imports={_POST_JS: [ImportVar(tag="postAvatar")]}),
                                       box._get_all_var_data(), url._get_all_var_data()))


def avatar_cropper(upload_id: str, *, box: Var, on_crop, on_refused, on_error, choose_label: str | Var,
                   saving: Var | None = None, on_save=None, on_saved=None, save_label: str | Var | None = None,
                   upload_url: str | Var = "/api/avatar", preview_size: int = 96, height: int = 320) -> rx.Component:
    """The choose button, then (with a file chosen) the cropper, Save and the round preview.

    `box` is the state var `on_crop` keeps (a CropBox); `on_save` runs before the post (e.g. to
    mark `saving`), `on_saved` gets the route's answer; `on_error` takes an error key. Without
    `save_label` there is no Save: the owner posts later with `post_when_shown` (a new group's photo,
    whose route exists only once the group does).
    """
    chosen = rx.selected_files(upload_id).length() > 0
    choose = rx.upload.root(
        rx.button(choose_label, type="button", variant="soft", id=f"{upload_id}-choose"),
        id=upload_id, accept=ACCEPT, max_size=settings.avatar_max_bytes, multiple=False, max_files=1,
        # The button takes the focus and Enter; the zone itself is no second tab stop.
        no_keyboard=True, on_drop_rejected=on_refused, class_name=f"{upload_id}-upload", width="fit-content",
        # The browser's own "Choose File" speaks the browser's language: only the button shows.
        style={"& input[type=file]": {"display": "none"}},
    )
    cropper = Cropper.create(
        src=_chosen_file_url(upload_id), alt="", aspect_ratio=1, view_mode=1, auto_crop_area=1,
        background=False, responsive=True, guides=False, check_orientation=False,
        preview=f".{PREVIEW_CLASS}",
        ready=on_crop, cropend=on_crop, crop=on_crop.debounce(300),
        on_error=[on_error("err.avatar_not_image"), rx.clear_selected_files(upload_id)],
        height=f"{height}px", width="100%", margin_top="8px",
    )
    save = rx.fragment() if save_label is None else rx.button(
        save_label, type="button", id=f"{upload_id}-save", margin_top="8px", loading=saving, disabled=saving,
        on_click=[on_save, rx.run_script(_post(upload_url, upload_id, box), callback=on_saved)])
    # Only while a picture is being cropped: Cropper.js fills it, and it must not keep the
    # last picture after saving (18#6).
    preview = rx.box(class_name=PREVIEW_CLASS, width=f"{preview_size}px", height=f"{preview_size}px",
                     border_radius="50%", overflow="hidden", flex="0 0 auto", background="var(--gray-a3)")
    return rx.flex(
        rx.box(choose, rx.cond(chosen, rx.fragment(cropper, save)), flex="1 1 260px", min_width="0"),
        rx.cond(chosen, preview),
        gap="16px", align="start", wrap="wrap", max_width="100%", width="100%",
    )


def post_when_shown(upload_url: Var, upload_id: str, box: Var, on_saved) -> rx.Component:
    """Posts the file chosen under `upload_id` with `box` to `upload_url` once, when it is rendered
    (put it under an rx.cond on the state saying "post now"): the URL is read at that render, so
    it may name something the server made a moment ago. The chosen file outlives a closed dialog
    (Reflex's upload map is the page's)."""
    return rx.box(display="none", on_mount=rx.run_script(_post(upload_url, upload_id, box), callback=on_saved))
