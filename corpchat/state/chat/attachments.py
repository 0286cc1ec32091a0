"""Files, voice and round-video messages in the chat page: sending uploaded files, and the
per-tab signed URLs of the files the page shows.

Why per tab: a media URL is signed for one viewer (services/file_urls.py), while a bubble is
shared by every viewer of the room (the ring rule), so bubbles carry only the file id and each
tab asks for its own URLs (`want_media`) for the ids it shows. Signing is two HMACs per file and
one query for the batch: only files this viewer may see are signed (so a tab cannot collect
URLs for ids it guessed or saw elsewhere), and the media route checks `files.may_view` again on
every request, since a signature only says "this viewer was shown this link".
"""

from __future__ import annotations

import time

import reflex as rx

from corpchat.config import settings
from corpchat.realtime import live
from corpchat.services import attachments, file_urls, files, messages
from corpchat.services.errors import Invalid
from corpchat.services.send import check_caption, check_client_id
from corpchat.state.base import authed, in_thread

MAX_MEDIA_URLS = 300  # file ids a tab keeps URLs for (a window holds at most 300 messages)
MAX_WANTED = 64  # ids per request
ITEM_KEYS = {"file_id", "kind", "client_id"}


class AttachmentsMixin(rx.State, mixin=True):
    # file id -> its signed URL; "<file id>/thumb" -> its thumbnail's (file_urls.sign_url).
    media_urls: dict[str, str] = {}
    _media_expiry: dict = {}  # file id -> when its URLs stop working (insertion order: oldest first)

    @authed
    async def send_files(self, items: list, caption: str):
        """Uploaded files (POST /api/upload) as messages, in order; the caption goes with the first."""
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
