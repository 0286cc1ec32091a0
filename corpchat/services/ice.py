"""The ICE servers a browser gets for a call (issue 23, item 7): STUN/TURN from settings; without
any, calls on one LAN work on host candidates. No Reflex, no database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from corpchat.config import settings


def ice_servers() -> list[dict]:
    """The ICE servers for a browser; TURN with credentials valid for `turn_ttl_seconds` when a
    secret is set (coturn's REST API scheme: user = expiry, credential = HMAC-SHA1 of it)."""
    servers: list[dict] = []
    stun = [u.strip() for u in settings.stun_urls.split(",") if u.strip()]
    turn = [u.strip() for u in settings.turn_urls.split(",") if u.strip()]
    if stun:
        servers.append({"urls": stun})
    if turn:
        entry: dict = {"urls": turn}
        if settings.turn_secret:
            user = str(int(time.time()) + settings.turn_ttl_seconds)
            mac = hmac.new(settings.turn_secret.encode(), user.encode(), hashlib.sha1).digest()
            entry |= {"username": user, "credential": base64.b64encode(mac).decode()}
        servers.append(entry)
    return servers
