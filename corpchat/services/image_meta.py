"""Location and other personal metadata out of shared photos, without touching their pixels.

A phone's photo carries where it was taken (EXIF GPS, XMP, IPTC); the original is what a
download gives, so the metadata goes at upload, losslessly: segments and chunks are dropped
from the container, the compressed image data is copied byte for byte. A JPEG keeps only its
Orientation tag, so it still shows upright, and ends at its end-of-image marker: what phones
append after it (a second JPEG, a motion photo's MP4 with its own GPS) goes too.
"""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image

ORIENTATION = 0x0112
# Of the JPEG application segments only these carry what decoding needs: JFIF (APP0), the colour
# profile (APP2 ICC_PROFILE) and Adobe's colour transform (APP14). The rest (EXIF, XMP, IPTC,
# MPF, makers' own, comments) go.
_JPEG_KEEP = {0xE0: b"", 0xE2: b"ICC_PROFILE\0", 0xEE: b"Adobe"}
_APP0, _APP15, _COM, _SOS, _EOI = 0xE0, 0xEF, 0xFE, 0xDA, 0xD9
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt"}
_WEBP_DROP = {b"EXIF", b"XMP "}


def strip(mime: str, path: Path) -> bytes | None:
    """The file without its metadata, or None when there is nothing to take out (or the file is
    not what its container promised: it stays as it is, it was probed already)."""
    data = path.read_bytes()
    try:
        if mime == "image/jpeg":
            out = _jpeg(data, _orientation(path))
        elif mime == "image/png":
            out = _png(data)
        elif mime == "image/webp":
            out = _webp(data)
        else:
            return None
    except (ValueError, struct.error, IndexError):
        return None
    return out if out != data else None


def _orientation(path: Path) -> int:
    try:
        with Image.open(path) as im:  # reads the header only, never the pixels
            return int(im.getexif().get(ORIENTATION, 1))
    except Exception:
        return 1


def _jpeg(data: bytes, orientation: int) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out, i = bytearray(b"\xff\xd8"), 2
    if orientation != 1:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        body = exif.tobytes()
        out += b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError("lost in the segments")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == _EOI:
            return bytes(out + b"\xff\xd9")  # anything after it is not this image
        if 0xD0 <= marker <= 0xD8:  # markers without a length
            out += data[i:i + 2]
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        end = i + 2 + length
        if marker == _SOS:  # the header, then the scan's compressed data up to the next marker
            end = _scan_end(data, end)
        if not _drops(marker, data[i + 4:i + 4 + 16]):
            out += data[i:end]
        i = end
    raise ValueError("no end of image")


def _drops(marker: int, payload_head: bytes) -> bool:
    if marker == _COM:
        return True
    if _APP0 <= marker <= _APP15:
        keep = _JPEG_KEEP.get(marker)
        return keep is None or not payload_head.startswith(keep)
    return False


def _scan_end(data: bytes, i: int) -> int:
    """Where a scan's compressed data ends: the first 0xFF that is neither a stuffed byte (FF 00)
    nor a restart marker (FF D0..D7); those are the only FF pairs compressed data may hold."""
    while True:
        i = data.find(b"\xff", i)
        if i < 0 or i + 1 >= len(data):
            raise ValueError("scan without an end")
        following = data[i + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            i += 2
        elif following == 0xFF:  # fill bytes before a marker
            i += 1
        else:
            return i


def _png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    out, i = bytearray(_PNG_SIGNATURE), len(_PNG_SIGNATURE)
    while i < len(data):
        length = struct.unpack(">I", data[i:i + 4])[0]
        kind = data[i + 4:i + 8]
        chunk = data[i:i + 12 + length]
        if kind not in _PNG_DROP:
            out += chunk
        i += 12 + length
        if kind == b"IEND":
            break
    return bytes(out)


def _webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    out, i = bytearray(), 12
    while i + 8 <= len(data):
        kind, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        chunk = bytearray(data[i:i + 8 + size + (size & 1)])
        if kind == b"VP8X":
            chunk[8] &= ~0x0C & 0xFF  # the EXIF and XMP flags
        if kind not in _WEBP_DROP:
            out += chunk
        i += 8 + size + (size & 1)
    return b"RIFF" + struct.pack("<I", len(out) + 4) + b"WEBP" + bytes(out)
