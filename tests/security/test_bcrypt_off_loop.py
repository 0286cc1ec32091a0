"""A burst of logins must not stall the chat (issue 11, finding 2), and a first start
must not touch tracked files (finding 10).

The app here hashes at 10 bcrypt rounds (the other tests use 4 for speed), so a login
costs tens of milliseconds of CPU: on the event loop, twenty of them at once held every
open tab's messages back for a second or more.

Its web dir is created afresh on every run, so Reflex's init runs as on a first
`make run` (npm install from the local cache: slower to start than the shared app).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import time

import pytest

from corpchat.services import messages as msg_service
from corpchat.services import rooms
from corpchat.state.chat import ChatState
from tests import support
from tests import wsclient as w

WEB_DIR = support.ROOT / ".web-bcrypt"
PASSWORD = "correct horse 12"
LOGINS = 20
MAX_LATENCY_S = 0.25
H = lambda name: w.handler_name(ChatState, name)  # noqa: E731


@pytest.fixture(scope="module")
def slow_hash_app():
    shutil.rmtree(WEB_DIR, ignore_errors=True)
    requirements = support.ROOT / "requirements.txt"
    before = support.file_state(requirements), _git_status()
    app = support.AppProcess(env={"BCRYPT_ROUNDS": "10", "REFLEX_WEB_WORKDIR": str(WEB_DIR)},
                             log_name="bcrypt")
    app.start()
    app.requirements_before = before
    yield app
    app.stop()


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=support.ROOT, capture_output=True, text=True,
                          check=True).stdout


async def _latency(sender: w.ReflexClient, receiver: w.ReflexClient, text: str) -> float:
    """Seconds from the send to the frame that shows it in the other tab."""
    seen = asyncio.create_task(receiver.wait_frame(lambda f: text in f.text(), timeout=30, what=text))
    await asyncio.sleep(0)  # the waiter is registered before the message can arrive
    t0 = await sender.emit(H("send_message"),
                           {"form_data": {"text": text, "client_id": secrets.token_hex(8)}})
    return (await seen).t - t0


@pytest.mark.asyncio(loop_scope="session")
async def test_messages_flow_while_twenty_logins_hash(slow_hash_app):
    url = slow_hash_app.url
    suffix = secrets.token_hex(3)
    anna = await w.register(url, f"bca{suffix}", PASSWORD)
    ben = await w.register(url, f"bcb{suffix}", PASSWORD)
    carol = await w.register(url, f"bcc{suffix}", PASSWORD)
    room = rooms.open_private(anna.user_id, ben.user_id)
    msg_service.send_sync(anna.user_id, room, "hi", secrets.token_hex(8))
    tabs = []
    try:
        for session in (anna, ben):
            tab = w.ReflexClient(url, session)
            await tab.connect("/")
            await tab.call(H("open_room"), room_id=room)
            tabs.append(tab)
        a, b = tabs
        for i in range(5):  # warm-up: first-use costs are not what is measured
            await _latency(a, b, f"warm {i} {suffix}")

        started = time.monotonic()
        logins = asyncio.gather(*(w.login(url, carol.login, PASSWORD, timeout=60) for _ in range(LOGINS)))
        latencies = []
        while not logins.done() or len(latencies) < 5:
            latencies.append(await _latency(a, b, f"busy {len(latencies)} {suffix}"))
            await asyncio.sleep(0.02)
        sessions = await logins
        elapsed = time.monotonic() - started
    finally:
        for tab in tabs:
            await tab.close()
    assert all(s.user_id == carol.user_id for s in sessions)
    assert max(latencies) < MAX_LATENCY_S, (
        f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} messages during {LOGINS} logins "
        f"({elapsed:.1f} s): {[round(x * 1000) for x in latencies]}")


def test_first_start_leaves_tracked_files_alone(slow_hash_app):
    requirements, status = slow_hash_app.requirements_before
    assert support.file_state(support.ROOT / "requirements.txt") == requirements
    assert _git_status() == status
    log = slow_hash_app.log_path.read_text()
    assert "Initializing corpchat" in log  # Reflex's init did run
    assert "uv run reflex" not in log and "uv pip install" not in log
