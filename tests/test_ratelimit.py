"""The flood-control token bucket."""

from __future__ import annotations

import pytest

from twistedchat.ratelimit import KeyedBuckets, TokenBucket


def test_burst_then_rate() -> None:
    bucket = TokenBucket(burst=3, rate=2.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)


def test_refill_is_capped_at_burst() -> None:
    bucket = TokenBucket(burst=2, rate=1.0)
    bucket.take(0.0)
    assert [bucket.take(1000.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.take(1000.0) > 0


def test_rate_zero_never_waits() -> None:
    bucket = TokenBucket(burst=1, rate=0.0)
    assert all(bucket.take(0.0) == 0.0 for _ in range(1000))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(burst=0, rate=1.0)
    with pytest.raises(ValueError):
        TokenBucket(burst=1, rate=-1.0)


def test_keyed_buckets_limit_each_key_and_forget_the_oldest() -> None:
    buckets = KeyedBuckets(burst=2, rate=1.0, keys=3)
    assert [buckets.allow("a", 0) for _ in range(3)] == [True, True, False]
    assert buckets.allow("b", 0) and buckets.allow("a", 1.0)
    for key in "cde":
        buckets.allow(key, 0)
    assert len(buckets) == 3
