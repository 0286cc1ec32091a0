"""The avatar cropper and the emoji picker compile to wrappers of the npm components, with the
bridges as the only hand-written JS (issue 21; no browser)."""

from __future__ import annotations

from pathlib import Path

import reflex as rx

from corpchat.components.cropper import Cropper, avatar_cropper
from corpchat.components.emoji_picker import EmojiPicker, emoji_picker
from corpchat.state.profile import ProfileState

COMPONENTS = Path(__file__).resolve().parents[2] / "corpchat" / "components"


def _cropper() -> rx.Component:
    return avatar_cropper("avatar", box=ProfileState.crop, saving=ProfileState.saving,
                          on_crop=ProfileState.crop_changed, on_refused=ProfileState.avatar_refused,
                          on_error=ProfileState.avatar_failed, on_save=ProfileState.avatar_saving,
                          on_saved=ProfileState.avatar_posted, choose_label="Choose", save_label="Save")


def _imports(component: rx.Component) -> dict:
    return component._get_all_imports()


def test_cropper_wraps_react_cropper_with_the_square_round_and_orientation_choices():
    component = _cropper()
    js = str(component)
    assert "jsx(ReactCropper," in js
    for prop in ("aspectRatio:1", "viewMode:1", "autoCropArea:1", "guides:false", "checkOrientation:false",
                 'preview:".corpchat-avatar-preview"'):
        assert prop in js, prop
    assert "getData(true)" in js and "ready:" in js and "cropend:" in js and "crop:" in js
    assert '["borderRadius"] : "50%"' in js
    assert "postAvatar(" in js and '"/api/avatar"' in js
    imports = _imports(component)
    assert "react-cropper@2.3.3" in imports and "cropperjs@1.6.2" in imports
    assert "cropperjs/dist/cropper.css" in str(imports)
    assert "react-dropzone@17.0.0" in imports  # the choose button is rx.upload
    assert Cropper.is_default and Cropper.tag == "Cropper"


def test_emoji_picker_wraps_emoji_mart_react():
    component = emoji_picker(insert_into="composer")
    js = str(component)
    assert "jsx(EmojiMartPicker," in js
    for prop in ('previewPosition:"none"', 'skinTonePosition:"none"', "maxFrequentRows:1"):
        assert prop in js, prop
    assert '@emoji-mart/data/i18n/uk.json' in js and '@emoji-mart/data/i18n/ru.json' in js
    assert 'insertAtCaret("composer",' in js and "?.native" in js
    assert "@emoji-mart/react@1.1.1" in _imports(component) and EmojiPicker.is_default
    reacting = str(emoji_picker(on_select=rx.console_log))
    assert "insertAtCaret" not in reacting


def test_no_jsx_left_for_these_two_and_the_bridges_stay_small():
    assert not (COMPONENTS / "cropper.jsx").exists() and not (COMPONENTS / "emoji_picker.jsx").exists()
    assert not (COMPONENTS / "avatar_post.js").exists()  # one transport: upload.js
    for name, most in (("caret.js", 12), ("upload.js", 45)):
        text = (COMPONENTS / name).read_text()
        assert len(text.splitlines()) <= most, name
        assert "createElement" not in text and "jsx" not in text and "document.createElement" not in text, name


def test_cropper_without_save_and_the_post_when_shown():
    from corpchat.components.cropper import post_when_shown
    bare = str(avatar_cropper("later", box=ProfileState.crop, on_crop=ProfileState.crop_changed,
                              on_refused=ProfileState.avatar_refused, on_error=ProfileState.avatar_failed,
                              choose_label="Choose"))
    assert "jsx(ReactCropper," in bare and "later-save" not in bare and "postAvatar(" not in bare
    poster = post_when_shown("/api/group-avatar/" + ProfileState.crop.to(str), "later", ProfileState.crop,
                             on_saved=ProfileState.avatar_posted)
    hooks = "".join(poster._get_all_hooks())
    assert "useEffect" in hooks and 'postAvatar(("/api/group-avatar/"' in hooks and 'filesById["later"]' in hooks
