"""What an uploaded file really is, read from its bytes: MIME type, kind, image size, media
duration, a thumbnail or poster frame. The client's name and Content-Type are never trusted.

Everything here treats the file as hostile: images are measured from their header before any
decoding (a 100000 x 100000 PNG is 40 GB of pixels), only the decoders of the sniffed format
are allowed to run, and any failure just means "a plain file, no preview".
"""

from __future__ import annotations

import io
import logging
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import filetype
from PIL import Image, ImageOps

from corpchat.services import image_decode

log = logging.getLogger(__name__)

OCTET = "application/octet-stream"
THUMB_PX = 320
# Largest image we decode for a thumbnail: the one limit of every image path (image_decode).
# Bigger images are still stored and downloadable, just without a preview.
MAX_THUMB_PIXELS = image_decode.MAX_PIXELS
MAX_SIDE = 20_000

# Shown inline (<img>/<audio>/<video>); everything else is served only as an attachment.
IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
AUDIO_TYPES = {"audio/mpeg", "audio/ogg", "audio/opus", "audio/webm", "audio/mp4"}
VIDEO_TYPES = {"video/mp4", "video/webm"}
INLINE_TYPES = frozenset(IMAGE_TYPES) | AUDIO_TYPES | VIDEO_TYPES
# Sniffed container -> the only FFmpeg demuxer allowed to parse it, and its audio-only MIME.
_AV_FORMATS = {
    "video/webm": ("matroska", "audio/webm"),
    "video/x-matroska": ("matroska", "audio/webm"),
    "video/mp4": ("mov", "audio/mp4"),
    "video/quicktime": ("mov", "audio/mp4"),
    "audio/mp4": ("mov", "audio/mp4"),
    "audio/ogg": ("ogg", "audio/ogg"),
    "audio/mpeg": ("mp3", "audio/mpeg"),
}
# Quicktime and Matroska videos are re-labelled to what browsers play.
_VIDEO_MIME = {"matroska": "video/webm", "mov": "video/mp4"}

MAX_NAME_BYTES = 255
MAX_EXT_CHARS = 16
_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff]")
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]}


def safe_name(raw: str | None, default: str = "file") -> str:
    """A display/download name that is only a name: no directories, control or bidi characters,
    no Windows device names, at most 255 UTF-8 bytes with the extension kept."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Control characters (NUL, newlines) and invisible direction overrides ("exe.txt" shown as
    # "txt.exe") are dropped; reserved punctuation becomes "_".
    name = "".join(c for c in name if unicodedata.category(c) != "Cc")
    name = _BIDI_AND_INVISIBLE.sub("", name)
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = name.strip(" .")
    if not name:
        return default
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > MAX_EXT_CHARS:
        stem, dot, ext = name, "", ""
    if stem.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    suffix = dot + ext
    budget = MAX_NAME_BYTES - len(suffix.encode())
    stem_bytes = stem.encode()
    if len(stem_bytes) > budget:
        stem = stem_bytes[:budget].decode("utf-8", "ignore").rstrip(" .") or "_"
    return stem + suffix


def sniff(head: bytes) -> str:
    try:
        return filetype.guess_mime(head) or OCTET
    except Exception:  # noqa: BLE001 (unknown bytes are just bytes)
        return OCTET


@dataclass(frozen=True)
class Probe:
    mime: str
    kind: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    thumb: bytes | None = None  # WebP, at most THUMB_PX on its longer side
    # A webm whose header says no duration (MediaRecorder writes it live): a browser's player
    # shows no length and cannot seek until it is remuxed (see remux_with_duration).
    needs_duration: bool = False


def probe(path: str | os.PathLike, head: bytes) -> Probe:
    mime = sniff(head)
    try:
        if mime in IMAGE_TYPES:
            return _probe_image(Path(path), mime)
        if mime in _AV_FORMATS:
            return _probe_av(Path(path), mime)
    except Exception as exc:  # noqa: BLE001 (a broken or hostile file is kept as a plain file)
        log.info("no preview for a %s upload: %s", mime, exc)
    # Kind "file": served only as an attachment, even when the sniffed type is on the inline list.
    return Probe(mime, "file")


def image_size(path: Path, mime: str) -> tuple[int, int]:
    """Width and height from the header only (Image.open decodes no pixels)."""
    with warnings.catch_warnings():
        # Pillow warns about big headers; the caller compares the size with our own limit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path, formats=[IMAGE_TYPES[mime]]) as im:
            return im.size


def _probe_image(path: Path, mime: str) -> Probe:
    width, height = image_size(path, mime)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE) or width * height > MAX_THUMB_PIXELS:
        return Probe(mime, "image", width, height)
    with image_decode.slot(), Image.open(path, formats=[IMAGE_TYPES[mime]]) as im:
        im.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at a reduced scale
        thumb = _thumbnail(ImageOps.exif_transpose(im) or im)
    return Probe(mime, "image", width, height, thumb=thumb)


def _thumbnail(im: Image.Image) -> bytes:
    im.thumbnail((THUMB_PX, THUMB_PX))
    im = im.convert("RGBA" if im.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    out = io.BytesIO()
    im.save(out, "WEBP", quality=80)
    return out.getvalue()


def _probe_av(path: Path, sniffed: str) -> Probe:
    import av

    demuxer, audio_mime = _AV_FORMATS[sniffed]
    with av.open(str(path), format=demuxer, metadata_errors="ignore") as container:
        video = next((s for s in container.streams.video if s.codec_context.width), None)
        audio = next(iter(container.streams.audio), None)
        if video is None and audio is None:
            return Probe(sniffed, "file")
        unstated = demuxer == "matroska" and not (container.duration and container.duration > 0)
        duration_ms = _duration_ms(container)
        if video is None:
            return Probe(audio_mime, "audio", duration_ms=duration_ms, needs_duration=unstated)
        width, height = video.codec_context.width, video.codec_context.height
        poster = _poster(container, video) if width * height <= MAX_THUMB_PIXELS else None
        return Probe(_VIDEO_MIME[demuxer] if demuxer in _VIDEO_MIME else sniffed, "video",
                     width, height, duration_ms, poster, needs_duration=unstated)


def remux_with_duration(src: Path, dst: Path) -> None:
    """Copy a live-written webm's packets, unchanged, into a webm whose header states its
    duration and has a seek index (the muxer writes both on a seekable file). No decoding."""
    import av

    with av.open(str(src), format="matroska", metadata_errors="ignore") as inp, \
            av.open(str(dst), "w", format="webm") as out:
        kept = [s for s in inp.streams if s.type in ("audio", "video")]
        streams = {s.index: out.add_stream_from_template(s) for s in kept}
        for packet in inp.demux(kept):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def _duration_ms(container) -> int | None:
    if container.duration and container.duration > 0:
        return int(container.duration * 1000 / 1_000_000)
    # MediaRecorder's webm has no duration in its header: the last packet's end tells it.
    # Demuxing reads packets without decoding them, so this costs one pass over the file.
    end = 0.0
    for packet in container.demux():
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return int(end * 1000) if end > 0 else None


def _poster(container, stream) -> bytes | None:
    """The first decodable frame of a video (round videos show it before playing)."""
    with image_decode.slot():
        for frame in container.decode(stream):
            return _thumbnail(frame.to_image())
    return None
