"""The one upload transport (`upload.js`): file bytes to POST /api/upload with progress and
abort. Attachments and recordings both import it; Python gets back only file ids."""

from __future__ import annotations

import reflex as rx

ASSET = rx.asset("upload.js", shared=True)
