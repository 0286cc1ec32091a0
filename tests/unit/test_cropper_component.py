"""The cropper component compiles to the expected JSX props and npm imports (no browser)."""

from __future__ import annotations

from pathlib import Path

import reflex as rx

from corpchat.components.cropper import AvatarCropper, avatar_cropper


def test_renders_with_upload_map_and_crop_event():
    component = avatar_cropper("avatar", on_crop=rx.console_log("crop"))
    js = str(component)
    assert js.startswith("jsx(AvatarCropper,")
    assert 'updatedFilesById["avatar"] = e' in js  # files go to Reflex's upload map
    assert "onCrop:" in js and "maxBytes:10485760" in js
    imports = component._get_all_imports()
    assert "react-cropper@2.3.3" in imports and "cropperjs@1.6.2" in imports
    assert any(lib.endswith(".jsx") or ".jsx?" in lib for lib in imports)


def test_jsx_keeps_the_square_round_and_orientation_choices():
    jsx = (Path(__file__).resolve().parents[2] / "corpchat" / "components" / "cropper.jsx").read_text()
    assert "aspectRatio={1}" in jsx and 'borderRadius: "50%"' in jsx
    assert "checkOrientation={false}" in jsx and "getData(true)" in jsx
    assert AvatarCropper.tag == "AvatarCropper"
