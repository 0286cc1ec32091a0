"""The address a request really comes from, for the per-address limits.

Behind a reverse proxy every request arrives from the proxy, so one guessing client would
lock out everybody. The forwarded headers are believed only when the socket's peer is one
of TRUSTED_PROXIES: anyone else could write any address there and dodge every limit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from corpchat.config import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """`10.0.0.1, 192.168.0.0/16, ::1` -> networks; a bad entry is a configuration error."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _ip(text: str):
    """An address from a header entry: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `"[::1]"`; None if not one."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_for(headers) -> list[str]:
    """The hops named by X-Forwarded-For, else by RFC 7239 Forwarded, oldest first."""
    xff = headers.getlist("x-forwarded-for") if hasattr(headers, "getlist") else [headers.get("x-forwarded-for", "")]
    hops = [h for line in xff if line for h in line.split(",")]
    if hops:
        return hops
    fwd = headers.getlist("forwarded") if hasattr(headers, "getlist") else [headers.get("forwarded", "")]
    for element in (e for line in fwd if line for e in line.split(",")):
        for pair in element.split(";"):
            key, _, value = pair.partition("=")
            if key.strip().lower() == "for":
                hops.append(value)
    return hops


def _trusted(ip, networks: Iterable[Network]) -> bool:
    return any(ip in net for net in networks)


def client_address(peer: str, headers, trusted: tuple[Network, ...]) -> str:
    """Walk the forwarded chain from the nearest hop back while the hop is a trusted proxy.

    The first untrusted hop is the client: entries left of it were written by the client
    itself and prove nothing. A malformed entry ends the walk at the last hop we trust.
    """
    current = _ip(peer)
    if current is None or not trusted or not _trusted(current, trusted):
        return peer
    for hop in reversed(_forwarded_for(headers)):
        ip = _ip(hop)
        if ip is None:
            break
        current = ip
        if not _trusted(ip, trusted):
            break
    return str(current)


_TRUSTED = parse_networks(settings.trusted_proxies)


def of(connection: HTTPConnection) -> str:
    peer = connection.client.host if connection.client else ""
    return client_address(peer, connection.headers, _TRUSTED)
