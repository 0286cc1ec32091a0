"""Per-user limits on sending, editing and reacting (services/rate_limits.py)."""

from __future__ import annotations

import pytest

from corpchat.services import rate_limits
from corpchat.services.errors import Throttled
from corpchat.services.rate_limits import TokenBucket


def test_a_burst_then_the_sustained_rate():
    bucket = TokenBucket(burst=5, per_minute=60)
    assert all(bucket.take(1, now=100.0) for _ in range(5))
    assert not bucket.take(1, now=100.0)
    assert bucket.take(2, now=100.0), "other users are unaffected"
    assert not bucket.take(1, now=100.5)
    assert bucket.take(1, now=101.0)  # one per second comes back
    assert not bucket.take(1, now=101.0)
    assert all(bucket.take(1, now=200.0) for _ in range(5)), "an idle minute refills the burst"
    assert not bucket.take(1, now=200.0)


def test_memory_stays_bounded_under_many_users(monkeypatch):
    bucket = TokenBucket(burst=2, per_minute=60)
    monkeypatch.setattr(TokenBucket, "MAX_KEYS", 100)
    for user in range(1000):
        bucket.take(user, now=float(user))
    assert len(bucket._buckets) <= 101


def test_check_raises_a_localised_refusal(monkeypatch):
    monkeypatch.setitem(rate_limits._LIMITS, "send", TokenBucket(burst=1, per_minute=1))
    rate_limits.check("send", 7)
    with pytest.raises(Throttled) as refused:
        rate_limits.check("send", 7)
    assert refused.value.key == "err.too_fast"
