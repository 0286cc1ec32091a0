"""Voice (🎤) and round-video (⏺) messages: the recorder's phases, timer, cap and errors.

The browser part is a bridge without markup (components/recorder.js): it does what
`rec_wanted` says (record / stop for review / drop everything; "camera": nothing yet, the
round video's preview is still asking for the camera, `rec_camera_ready`), reports the time
twice a second (`rec_tick`), hands over the recording as an object URL to play in review
(`rec_stopped`), uploads it at once through POST /api/upload and reports the progress
(`rec_progress_at`) and the file id (`rec_uploaded`) or an error code (`rec_failed`). A Blob
cannot travel in a Reflex event, so the bytes stay there; everything a user sees is decided here.

Phases: idle -> recording -> (stopping) -> review -> sending -> idle; error from any of them.
A voice message can also go straight from recording to sending (Send while recording).
Sending is `send_files`, as for any attachment; a recording given up after its upload is
discarded here (`files.discard` checks it is this user's and unsent).
"""

from __future__ import annotations

import uuid

import reflex as rx

from corpchat.config import settings
from corpchat.services import attachments, file_urls, files
from corpchat.services.errors import Invalid
from corpchat.state.base import authed, in_thread

KINDS = ("voice", "video")
FILE_KIND = {"voice": "voice", "video": "video"}  # the message kind each recorder sends
# Error codes the bridge reports -> their i18n keys; anything else is a plain "Upload failed".
ERRORS = {"no_mic": "voice.no_mic", "no_camera": "circle.no_camera",
          **{c: f"file.err_{c}" for c in ("file_too_large", "quota_exceeded", "too_many_uploads",
                                          "upload_too_slow", "network", "not_authenticated")}}
MAX_URL = 200  # "blob:<origin>/<uuid>"


def cap_ms(kind: str) -> int:
    seconds = settings.round_video_max_seconds if kind == "video" else settings.voice_max_seconds
    return seconds * 1000


def clock(ms: int) -> str:
    s = ms // 1000
    return f"{s // 60}:{s % 60:02d}"


def _count(value, top: int = 24 * 3600 * 1000) -> int:
    # bool is an int in Python; JSON true is no number here.
    if type(value) is not int or not 0 <= value <= top:
        raise Invalid()
    return value


class RecorderMixin(rx.State, mixin=True):
    rec_kind: str = ""  # "" while idle, else voice | video
    rec_phase: str = "idle"  # idle | recording | stopping | review | sending | error
    rec_wanted: str = "off"  # what the bridge does: off | camera (wait for it) | record | review
    rec_clock: str = "0:00"  # the timer text; a round video also shows its cap
    rec_url: str = ""  # the recording, as an object URL of this browser (review playback)
    rec_progress: int = 0  # percent uploaded, shown while sending
    rec_error: str = ""  # i18n key of what went wrong
    rec_upload_try: int = 0  # a new value makes the bridge upload the recording again (Retry)
    rec_max_ms: int = 0  # the cap the bridge stops at by itself
    _rec_file_id: str = ""  # the uploaded recording, not yet sent
    _rec_send: bool = False  # send as soon as the upload is done
    _rec_room: int = 0  # the chat it was started in: it is sent there or nowhere

    def _rec_clock(self, ms: int) -> str:
        return clock(ms) + (" / " + clock(self.rec_max_ms) if self.rec_kind == "video" else "")

    async def _rec_drop_file(self) -> None:
        file_id, self._rec_file_id = self._rec_file_id, ""
        if file_id:
            await in_thread(files.discard, self._user_id, file_id)

    def _rec_reset(self) -> None:
        self.rec_kind, self.rec_phase, self.rec_wanted = "", "idle", "off"
        self.rec_url, self.rec_error, self.rec_progress, self._rec_send = "", "", 0, False

    async def _rec_give_up(self) -> None:
        await self._rec_drop_file()
        self._rec_reset()

    def _rec_begin(self) -> None:
        # A round video records the preview's stream: not before the preview has the camera.
        self.rec_phase, self.rec_error = "recording", ""
        self.rec_wanted = "camera" if self.rec_kind == "video" else "record"
        self.rec_url, self.rec_progress, self._rec_send = "", 0, False
        self.rec_clock = self._rec_clock(0)

    async def _rec_send_now(self):
        if self.room_id != self._rec_room:  # another chat is open now: not sent to the wrong one
            await self._rec_give_up()
            return None
        items = [{"file_id": self._rec_file_id, "kind": FILE_KIND[self.rec_kind], "client_id": uuid.uuid4().hex}]
        self._rec_file_id = ""
        self._rec_reset()
        # The same checked road as any attachment (ownership, kind sniffed from the bytes, room).
        return type(self).send_files(items, "")

    @authed
    def rec_start(self, kind: str):
        """🎤 or ⏺ pressed: start recording (one recorder at a time)."""
        if not isinstance(kind, str) or kind not in KINDS:
            raise Invalid()
        if self.rec_kind:
            return
        self.rec_kind, self.rec_max_ms, self._rec_room = kind, cap_ms(kind), self.room_id
        self._rec_begin()

    @authed
    def rec_camera_ready(self):
        """The round video's preview has the camera: record from it."""
        if self.rec_phase == "recording" and self.rec_wanted == "camera":
            self.rec_wanted = "record"

    @authed
    async def rec_tick(self, elapsed_ms: int):
        """The bridge's time; at the cap the recording stops for review. Another chat opened
        meanwhile (the voice bar leaves the sidebar usable) ends it unsent."""
        elapsed_ms = _count(elapsed_ms)
        if self.rec_phase != "recording":
            return
        if self.room_id != self._rec_room:
            await self._rec_give_up()
            return
        elapsed_ms = min(elapsed_ms, self.rec_max_ms)
        self.rec_clock = self._rec_clock(elapsed_ms)
        if elapsed_ms >= self.rec_max_ms:
            self.rec_phase, self.rec_wanted = "stopping", "review"

    @authed
    def rec_stop(self):
        """Stop and review before sending (once something is being recorded)."""
        if self.rec_phase == "recording" and self.rec_wanted == "record":
            self.rec_phase, self.rec_wanted = "stopping", "review"

    @authed
    def rec_stopped(self, duration_ms: int, size: int, url: str):
        """The recording is over (asked, or the bridge reached the cap): review it."""
        duration_ms, _ = _count(duration_ms), _count(size, 2**53)
        if not isinstance(url, str) or not url.startswith("blob:") or len(url) > MAX_URL:
            raise Invalid()
        if self.rec_phase not in ("recording", "stopping", "sending"):
            return
        self.rec_url, self.rec_wanted = url, "review"
        self.rec_clock = clock(min(duration_ms, self.rec_max_ms))
        if self.rec_phase != "sending":
            self.rec_phase = "review"

    @authed
    def rec_progress_at(self, fraction: float):
        # bool is an int in Python; NaN and infinities are no fraction.
        if type(fraction) not in (int, float) or not 0 <= fraction <= 1:
            raise Invalid()
        if self.rec_phase in ("review", "sending"):
            self.rec_progress = int(fraction * 100)

    @authed
    async def rec_uploaded(self, file_id: str):
        """The recording is on the server; sent now if Send was pressed, else kept for review."""
        file_id = attachments.check_file_id(file_id)
        if self.rec_phase not in ("review", "sending") or self._rec_file_id:
            # Given up meanwhile (cancelled, recorded again): nobody will send it.
            await in_thread(files.discard, self._user_id, file_id)
            return None
        self._rec_file_id, self.rec_progress = file_id, 100
        if self._rec_send:
            return await self._rec_send_now()
        if self.rec_kind == "voice":
            # The stored copy states its length (the server remuxed it): the review's <audio>
            # shows it and can seek, which the browser's own recording cannot.
            self.rec_url = file_urls.sign_url(file_id, self._user_id)
        return None

    @authed
    async def rec_failed(self, code: str):
        """No microphone or camera, or the upload failed (Retry uploads the same recording);
        "lost": the bridge was mounted anew, the recording is gone with the old one."""
        if not isinstance(code, str) or len(code) > 40:
            raise Invalid()
        if self.rec_phase == "idle":
            return
        if code == "lost":
            await self._rec_give_up()
            return
        self.rec_error = ERRORS.get(code, "file.failed")
        if code in ("no_mic", "no_camera"):
            self.rec_wanted, self.rec_url = "off", ""
        self.rec_phase = "error"

    @authed
    async def rec_send(self):
        if self.rec_phase == "recording":
            self.rec_phase, self.rec_wanted, self._rec_send = "sending", "review", True
        elif self.rec_phase == "review":
            if self._rec_file_id:
                return await self._rec_send_now()
            self.rec_phase, self._rec_send = "sending", True
        return None

    @authed
    def rec_retry(self):
        """Upload the same recording again after a failed upload."""
        if self.rec_phase == "error" and self.rec_url:
            self.rec_phase, self.rec_error, self.rec_progress = "sending", "", 0
            self._rec_send = True
            self.rec_upload_try += 1

    @authed
    async def rec_again(self):
        """Record again: the reviewed take and its upload are dropped."""
        if self.rec_phase in ("review", "error") and self.rec_kind:
            await self._rec_drop_file()
            self._rec_begin()

    @authed
    async def rec_cancel(self):
        """Cancel or discard: nothing is sent, and an upload already made is deleted."""
        await self._rec_give_up()
