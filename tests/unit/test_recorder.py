"""The recorder (issue 21; no browser): the cap and timer text are Python's, the preview is
react-webcam wrapped from Python, and the bridge holds no markup."""

from __future__ import annotations

from pathlib import Path

from corpchat.components.recorder import circle_recorder, voice_recorder
from corpchat.config import settings
from corpchat.state.chat import recorder

BRIDGE = Path(__file__).resolve().parents[2] / "corpchat" / "components" / "recorder.js"


def test_cap_and_clock():
    assert settings.round_video_max_seconds == 60  # the product's round-video cap
    assert recorder.cap_ms("video") == 60_000
    assert recorder.cap_ms("voice") == settings.voice_max_seconds * 1000
    assert [recorder.clock(ms) for ms in (0, 999, 1000, 59_999, 60_000, 605_000)] == \
        ["0:00", "0:00", "0:01", "0:59", "1:00", "10:05"]


def test_recorder_markup_is_python_and_the_bridge_has_none():
    js = str(circle_recorder()) + str(voice_recorder())
    assert "jsx(Webcam," in js and "jsx(RecorderBridge," in js
    for prop in ("wanted:", "maxMs:", "previewId:", "uploadTry:", "onTick:", "onStopped:", "onUploaded:",
                 "onFailed:", "mirrored:true", "muted:true"):
        assert prop in js, prop
    source = BRIDGE.read_text()
    assert "return null;" in source and "createElement" not in source and "<" + "div" not in source
    assert "className" not in source and "style" not in source
    assert len(source.splitlines()) <= 100


def test_every_error_the_bridge_reports_has_text_in_each_language():
    from corpchat import i18n

    for lang in i18n.LANGUAGE_NAMES:
        table = i18n.flat(lang)
        for key in [*recorder.ERRORS.values(), "file.failed", "voice.stop"]:
            assert table.get(key), (lang, key)
