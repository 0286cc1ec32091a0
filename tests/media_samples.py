"""Small media files made on the fly with PyAV and Pillow (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import struct
import zlib

import av
from PIL import Image


def audio(seconds: float = 2.0, fmt: str = "webm", codec: str = "libopus") -> bytes:
    """Silence encoded as opus in webm (what MediaRecorder sends for a voice message) or ogg."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=48000, layout="mono")
        for pts in range(0, int(48000 * seconds), 960):
            frame = av.AudioFrame(format="s16", layout="mono", samples=960)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            frame.sample_rate, frame.pts = 48000, pts
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def video(fmt: str = "mp4", codec: str = "libx264", seconds: float = 1.0, width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(25 * seconds)):
            frame = av.VideoFrame.from_image(Image.new("RGB", (width, height), (i * 9 % 255, 80, 160)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def image(fmt: str = "PNG", size: tuple[int, int] = (800, 600), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG whose header declares width x height pixels (40 GB of RGBA) while the
    file itself is a few hundred bytes: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x00" * 4 * 16
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * 16, 9)) + chunk(b"IEND", b""))


def recorder_webm(seconds: float = 3.0) -> bytes:
    """Opus in webm without a duration in its header, as browsers' MediaRecorder writes it."""
    src = av.open(io.BytesIO(audio(seconds)))
    buf = io.BytesIO()
    with src, av.open(buf, "w", format="webm", options={"live": "1"}) as out:
        stream = out.add_stream_from_template(src.streams.audio[0])
        for packet in src.demux(src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return buf.getvalue()
