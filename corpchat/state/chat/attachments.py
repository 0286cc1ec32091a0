"""Files, voice and round-video messages in the chat page: the files being attached (the
📎 panel), sending uploaded files, and the per-tab signed URLs of the files the page shows.

The panel's files: the browser keeps each File under a key (components/attachments.jsx, a
bridge with no markup) and uploads it through POST /api/upload when told to; everything a user
sees of it (name, size, progress, the error and Retry, the caption, the caps) is decided here.
The bridge's events are untrusted like any other: keys and codes are checked, and an upload id
it reports is only ever discarded or sent as this user's (services check the owner again).

Why per tab: a media URL is signed for one viewer (services/file_urls.py), while a bubble is
shared by every viewer of the room (the ring rule), so bubbles carry only the file id and each
tab asks for its own URLs (`want_media`) for the ids it shows. Signing is two HMACs per file and
one query for the batch: only files this viewer may see are signed (so a tab cannot collect
URLs for ids it guessed or saw elsewhere), and the media route checks `files.may_view` again on
every request, since a signature only says "this viewer was shown this link".
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TypedDict

import reflex as rx

from corpchat import i18n
from corpchat.config import settings
from corpchat.file_views import size_label
from corpchat.realtime import live
from corpchat.services import attachments, file_urls, files, messages
from corpchat.services.errors import Invalid
from corpchat.services.send import check_caption, check_client_id
from corpchat.state.base import authed, in_thread

MAX_MEDIA_URLS = 300  # file ids a tab keeps URLs for (a window holds at most 300 messages)
MAX_WANTED = 64  # ids per request
ITEM_KEYS = {"file_id", "kind", "client_id"}
KEY_RE = re.compile(r"^[0-9a-f]{16}$")  # the bridge's key of a browser File
CODE_RE = re.compile(r"^[a-z_]{1,40}$")  # an upload error code (api/upload.py; "network" from the browser)
MAX_COMMANDS = 40  # commands kept for the bridge: it runs those numbered above the last it ran
# the same file would be refused again; "gone": the page was reloaded, the browser has it no more
NO_RETRY = {"file_too_large", "quota_exceeded", "gone"}


class Attached(TypedDict):
    key: str
    name: str
    size: str  # formatted in the tab's language
    preview: str  # the browser's object URL of an image, "" for other files
    status: str  # uploading / done / error
    progress: float  # 0..1, as the bridge last reported it
    percent: int
    error: str  # localised
    retry: bool


class AttachmentsMixin(rx.State, mixin=True):
    # file id -> its signed URL; "<file id>/thumb" -> its thumbnail's (file_urls.sign_url).
    media_urls: dict[str, str] = {}
    _media_expiry: dict = {}  # file id -> when its URLs stop working (insertion order: oldest first)
    attached: list[Attached] = []
    attach_commands: list[list] = []  # [n, "upload" | "forget", key] for the bridge
    _attach_n: int = 0
    _attach_ids: dict = {}  # key -> uploaded file id

    def _attach_command(self, op: str, key: str) -> None:
        self._attach_n += 1
        self.attach_commands = [*self.attach_commands, [self._attach_n, op, key]][-MAX_COMMANDS:]

    def _attach_update(self, key: str, **change) -> None:
        self.attached = [{**it, **change} if it["key"] == key else it for it in self.attached]

    def _attached_item(self, key) -> Attached | None:
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            raise Invalid()
        return next((it for it in self.attached if it["key"] == key), None)

    async def _drop_attached(self, keep_uploads: bool = False) -> None:
        """Empty the panel (cancel, send, another chat): uploads in flight stop; files uploaded
        and not sent are deleted at once (the sweeper would only get them later)."""
        for it in self.attached:
            self._attach_command("forget", it["key"])
        ids = [] if keep_uploads else list(self._attach_ids.values())
        self.attached, self._attach_ids = [], {}
        for file_id in ids:
            await in_thread(files.discard, self._user_id, file_id)

    def _attach_upload(self, key: str) -> None:
        self._attach_update(key, status="uploading", progress=0.0, percent=0, error="", retry=False)
        self._attach_command("upload", key)

    @authed
    async def attach_added(self, picked: list):
        """Files the user picked, dropped or pasted: up to 10 in the panel, each under the size cap."""
        if not isinstance(picked, list) or len(picked) > 1000:
            raise Invalid()
        for f in picked:
            if not (isinstance(f, dict) and isinstance(f.get("key"), str) and KEY_RE.fullmatch(f["key"])
                    and isinstance(f.get("name"), str) and len(f["name"]) <= 1000
                    and type(f.get("size")) is int and f["size"] >= 0
                    and isinstance(f.get("preview"), str) and len(f["preview"]) <= 200
                    and f["preview"][:5] in ("", "blob:")):
                raise Invalid()
        for f in picked:
            if len(self.attached) >= attachments.MAX_FILES_PER_SEND or self._attached_item(f["key"]):
                self._attach_command("forget", f["key"])
                continue
            self.attached = [*self.attached, Attached(
                key=f["key"], name=f["name"][:255] or "file", size=size_label(f["size"], self.lang),
                preview=f["preview"], status="uploading", progress=0.0, percent=0, error="", retry=False)]
            if f["size"] > settings.max_upload_bytes:
                self._attach_update(f["key"], status="error", error=self._t("file.err_file_too_large"))
                self._attach_command("forget", f["key"])
            else:
                self._attach_upload(f["key"])

    @authed
    async def attach_progress(self, key: str, fraction: float):
        it = self._attached_item(key)
        if not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
            raise Invalid()
        if it and it["status"] == "uploading":
            self._attach_update(key, progress=round(float(fraction), 3), percent=int(fraction * 100))

    @authed
    async def attach_uploaded(self, key: str, file_id: str):
        it, file_id = self._attached_item(key), attachments.check_file_id(file_id)
        if it and it["status"] == "uploading":
            self._attach_ids[key] = file_id
            self._attach_update(key, status="done", progress=1.0, percent=100)
        # else removed (or the chat left) while the last bytes went up: the sweeper deletes it
        # (an id the bridge reports is not discarded on its word alone)

    @authed
    async def attach_failed(self, key: str, code: str):
        it = self._attached_item(key)
        if not isinstance(code, str) or not CODE_RE.fullmatch(code):
            code = "failed"
        if it and it["status"] == "uploading":
            label = f"file.err_{code}"
            text = self._t(label) if label in i18n.flat(self.lang) else self._t("file.failed")
            self._attach_update(key, status="error", error=text, retry=code not in NO_RETRY)

    @authed
    async def attach_retry(self, key: str):
        it = self._attached_item(key)
        if it and it["status"] == "error" and it["retry"]:
            self._attach_upload(key)

    @authed
    async def attach_remove(self, key: str):
        if self._attached_item(key):
            self._attach_command("forget", key)
            self.attached = [it for it in self.attached if it["key"] != key]
            file_id = self._attach_ids.pop(key, None)
            if file_id:
                await in_thread(files.discard, self._user_id, file_id)

    @authed
    async def attach_cancel(self):
        await self._drop_attached()

    @rx.var
    def attach_ready(self) -> bool:
        return bool(self.attached) and all(it["status"] == "done" for it in self.attached)

    @authed
    async def attach_send(self, form_data: dict):
        """The panel's files as messages (its form: Send, or Enter in the caption), once every
        one is uploaded; the caption goes with the first."""
        if not isinstance(form_data, dict):
            raise Invalid()
        caption = check_caption(form_data.get("caption", ""))
        if not self.attach_ready:
            return
        items = [{"file_id": self._attach_ids[it["key"]], "kind": "file", "client_id": uuid.uuid4().hex}
                 for it in self.attached]
        await self._send_files(items, caption)
        await self._drop_attached(keep_uploads=True)

    @authed
    async def send_files(self, items: list, caption: str):
        """Uploaded files (POST /api/upload) as messages, in order; the caption goes with the first."""
        await self._send_files(items, caption)

    async def _send_files(self, items: list, caption: str) -> None:
        if not isinstance(items, list) or not 0 < len(items) <= attachments.MAX_FILES_PER_SEND:
            raise Invalid()
        if not all(isinstance(i, dict) and set(i) == ITEM_KEYS for i in items) or not self.room_id:
            raise Invalid()
        caption = check_caption(caption)
        checked = [(attachments.check_file_id(i["file_id"]), attachments.check_kind(i["kind"]),
                    check_client_id(i["client_id"])) for i in items]
        room_id = self.room_id
        # Every file is checked before the first is sent: a bad one refuses the whole batch.
        payloads = await in_thread(attachments.payloads_for, self._user_id, [(f, k) for f, k, _ in checked])
        for n, ((_, kind, client_id), payload) in enumerate(zip(checked, payloads, strict=True)):
            sent = await messages.send_async(self._user_id, room_id, caption if n == 0 else "", client_id, kind,
                                             payload)
            await self._emit(sent.push)
        if live.viewing(self._tab()) != room_id:
            await self._fold()  # no broadcast reaches this tab: read it in

    @authed
    async def want_media(self, file_ids: list):
        """Sign this tab's URLs for file ids its page shows (a bubble asks when it has none, or
        when its media failed to load, e.g. after the URL expired)."""
        if not isinstance(file_ids, list) or not 0 < len(file_ids) <= MAX_WANTED:
            raise Invalid()
        ids = [attachments.check_file_id(f) for f in file_ids]
        now, viewer = time.time(), self._user_id
        fresh_until = now + settings.media_url_ttl_seconds / 2
        stale = [f for f in dict.fromkeys(ids) if self._media_expiry.get(f, 0) <= fresh_until]
        # Not viewable (deleted meanwhile, or never shown here): no URL, and no error for a bubble
        # that was just removed.
        allowed = await in_thread(files.viewable, viewer, stale) if stale else set()
        expiry, urls = dict(self._media_expiry), dict(self.media_urls)
        changed = False
        for file_id in stale:
            if file_id not in allowed:
                continue
            expiry.pop(file_id, None)
            expiry[file_id] = now + settings.media_url_ttl_seconds
            urls[file_id] = file_urls.sign_url(file_id, viewer)
            urls[f"{file_id}/thumb"] = file_urls.sign_url(file_id, viewer, thumb=True)
            changed = True
        while len(expiry) > MAX_MEDIA_URLS:
            old = next(iter(expiry))
            del expiry[old]
            urls.pop(old, None)
            urls.pop(f"{old}/thumb", None)
        self._media_expiry = expiry
        if changed:
            self.media_urls = urls
