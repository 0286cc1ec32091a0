"""The one upload transport (`upload.js`): file bytes to POST /api/upload with progress and
abort (attachments and recordings; Python gets back only file ids), and the chosen picture
with its crop box to the avatar routes (cropper.py)."""

from __future__ import annotations

import reflex as rx

ASSET = rx.asset("upload.js", shared=True)
