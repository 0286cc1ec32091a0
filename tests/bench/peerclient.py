"""A raw PeerJS client of our signalling route (api/signalling.py) for load generation: what the
`peerjs@1.5.5` browser client sends during a call, with payloads of a real call's size, and the
relay time of each message (sender's write -> the peer's read, one process, one clock).

Relayed messages carry `payload.bench`, a sequence number the server passes through untouched
(it forwards `payload` as is); HEARTBEATs are read by the server and not relayed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

HEARTBEAT_S = 5.0  # peerjs's default pingInterval
SDP_BYTES = 4200
CANDIDATE_AT = [0.0, 0.005, 0.01, 0.03, 0.06, 0.12, 0.25, 0.4]  # s after the SDP: host, srflx, relay


def sdp(kind: str) -> str:
    """A Chrome-like audio+video SDP of about SDP_BYTES (codec sections repeated to size)."""
    ufrag, pwd = "".join(random.choices("abcdefghijklmnop", k=4)), "x" * 24
    head = ["v=0", f"o=- {random.randrange(10**18)} 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
            "a=group:BUNDLE 0 1", "a=extmap-allow-mixed", "a=msid-semantic: WMS stream"]
    media = []
    for mid, (m, pts) in enumerate([("audio", "111 63 9 0 8 13 110 126"), ("video", "96 97 102 103 104 105")]):
        media += [f"m={m} 9 UDP/TLS/RTP/SAVPF {pts}", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
                  f"a=ice-ufrag:{ufrag}", f"a=ice-pwd:{pwd}", "a=ice-options:trickle",
                  "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
                  f"a=setup:{'actpass' if kind == 'offer' else 'active'}", f"a=mid:{mid}",
                  "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=sendrecv",
                  f"a=msid:stream track{mid}", "a=rtcp-mux", "a=rtcp-rsize"]
    pt = 96
    while len("\r\n".join(head + media)) < SDP_BYTES:
        media += [f"a=rtpmap:{pt} VP8/90000", f"a=rtcp-fb:{pt} goog-remb", f"a=rtcp-fb:{pt} transport-cc",
                  f"a=rtcp-fb:{pt} ccm fir", f"a=rtcp-fb:{pt} nack", f"a=rtcp-fb:{pt} nack pli",
                  f"a=rtpmap:{pt + 1} rtx/90000", f"a=fmtp:{pt + 1} apt={pt}"]
        pt += 2
    return "\r\n".join(head + media) + "\r\n"


def candidate(i: int) -> dict:
    typ = ("host", "srflx", "relay")[min(2, i // 3)]
    return {"candidate": f"candidate:{random.randrange(10**9)} 1 udp {2122260223 - i * 1000} 203.0.113.{i} "
                         f"{50000 + i} typ {typ} raddr 10.0.0.5 rport {50000 + i} generation 0 ufrag abcd "
                         "network-id 1 network-cost 10", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"}


@dataclass
class Load:
    """What every socket of a load sent and got, by the phase (`phase`) it happened in."""

    url: str
    phase: str = ""
    seq: int = 0
    sent_at: dict = field(default_factory=dict)
    relay: dict = field(default_factory=dict)  # phase -> [latency s]
    counts: dict = field(default_factory=dict)  # (phase, what) -> n

    def count(self, what: str) -> None:
        self.counts[(self.phase, what)] = self.counts.get((self.phase, what), 0) + 1


class Sock:
    """One peer's signalling socket; `call` counts what reached either side (got, expected, done)."""

    def __init__(self, load: Load, ws, call):
        self.load, self.ws, self.call = load, ws, call
        self.opened, self.got_offer = asyncio.Event(), asyncio.Event()
        self.closing = False
        self.reader = asyncio.get_running_loop().create_task(self._read())
        self.beat: asyncio.Task | None = None

    async def _read(self) -> None:
        import aiohttp

        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            m = json.loads(msg.data)
            if m["type"] == "OPEN":
                self.opened.set()
            elif m["type"] == "EXPIRE":
                self.load.count("expired")
            else:
                t0 = self.load.sent_at.pop((m.get("payload") or {}).get("bench"), None)
                if t0 is not None:
                    self.load.relay.setdefault(self.load.phase, []).append(time.monotonic() - t0)
                self.load.count("relayed")
                self.call.got += 1
                if self.call.got == self.call.expected:
                    self.call.done.set()
                if m["type"] == "OFFER":
                    self.got_offer.set()
        if not self.closing:
            self.load.count("sockets lost")

    async def send(self, kind: str, dst: str | None = None, payload: dict | None = None) -> None:
        if kind == "HEARTBEAT":
            self.load.count("heartbeats")
            await self.ws.send_str('{"type":"HEARTBEAT"}')
            return
        self.load.seq += 1
        self.load.sent_at[self.load.seq] = time.monotonic()
        self.load.count("sent")
        await self.ws.send_str(json.dumps({"type": kind, "dst": dst, "payload": {**payload, "bench": self.load.seq}}))

    async def trickle(self, dst: str) -> None:
        t0 = time.monotonic()
        for i, at in enumerate(CANDIDATE_AT):
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            await self.send("CANDIDATE", dst, {"candidate": candidate(i), "type": "media", "connectionId": "mc_b"})

    async def heartbeats(self) -> None:
        await asyncio.sleep(random.uniform(0, HEARTBEAT_S))
        while not self.ws.closed:
            await self.send("HEARTBEAT")
            await asyncio.sleep(HEARTBEAT_S)

    async def close(self) -> None:
        self.closing = True
        for task in filter(None, (self.beat, self.reader)):
            task.cancel()
        await self.ws.close()
