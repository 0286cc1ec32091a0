"""Which address a request comes from, with and without trusted proxies (19#6)."""

from __future__ import annotations

from starlette.datastructures import Headers

from corpchat.api.client_address import client_address, parse_networks

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8, ::1")


def addr(peer: str, trusted=PROXIES, **headers) -> str:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return client_address(peer, Headers(raw=raw), trusted)


def test_forwarded_headers_are_ignored_unless_the_peer_is_a_trusted_proxy():
    assert addr("203.0.113.5", x_forwarded_for="1.2.3.4") == "203.0.113.5"
    assert addr("127.0.0.1", trusted=(), x_forwarded_for="1.2.3.4") == "127.0.0.1"


def test_the_first_untrusted_hop_from_the_right_is_the_client():
    assert addr("127.0.0.1", x_forwarded_for="198.51.100.7") == "198.51.100.7"
    # A client writing its own X-Forwarded-For gets it appended to, never believed.
    assert addr("127.0.0.1", x_forwarded_for="6.6.6.6, 198.51.100.7") == "198.51.100.7"
    assert addr("127.0.0.1", x_forwarded_for="6.6.6.6, 198.51.100.7, 10.1.2.3") == "198.51.100.7"


def test_rfc7239_forwarded_and_ports_and_ipv6():
    assert addr("::1", forwarded='for="[2001:db8::1]:4711";proto=https') == "2001:db8::1"
    assert addr("127.0.0.1", forwarded="for=198.51.100.8:1234, for=10.0.0.2") == "198.51.100.8"


def test_garbage_ends_the_walk_at_the_last_trusted_hop():
    assert addr("127.0.0.1", x_forwarded_for="not-an-address") == "127.0.0.1"
    assert addr("127.0.0.1", x_forwarded_for="198.51.100.9, unknown, 10.0.0.3") == "10.0.0.3"
    assert addr("127.0.0.1", x_forwarded_for="") == "127.0.0.1"
