"""Location and other personal metadata out of shared photos, without touching their pixels.

A phone's photo carries where it was taken (EXIF GPS, XMP, IPTC); the original is what a
download gives, so the metadata goes at upload, losslessly: segments and chunks are dropped
from the container, the compressed image data is copied byte for byte. A JPEG keeps only its
Orientation tag, so it still shows upright.
"""

from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image

ORIENTATION = 0x0112
_JPEG_DROP_APP1 = (b"Exif\0\0", b"http://ns.adobe.com/xap/1.0/", b"http://ns.adobe.com/xmp/extension/")
_APP1, _APP13, _SOS = 0xE1, 0xED, 0xDA
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
        if marker == _SOS or 0xD0 <= marker <= 0xD9:  # the image data: copied as it is
            return bytes(out + data[i:])
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        segment = data[i:i + 2 + length]
        payload = segment[4:]
        drop = (marker == _APP1 and payload.startswith(_JPEG_DROP_APP1)) or marker == _APP13
        if not drop:
            out += segment
        i += 2 + length
    raise ValueError("no image data")


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
