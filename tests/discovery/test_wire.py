"""Discovery datagrams: authentication, freshness, replay and garbage."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twistedchat.discovery.wire import (
    MAGIC,
    Announcement,
    Decoder,
    Offer,
    Query,
    Rejected,
    encode,
)

SECRET = b"s" * 32
NOW = 1_800_000_000.0
ANNOUNCEMENT = Announcement(
    cluster="c1", node_id="127.0.0.1:7667", peer="127.0.0.1:7667", irc="127.0.0.1:6667",
    status="127.0.0.1:8667", role="leader", term=3, leader="127.0.0.1:7667", clients=2,
    capacity=100, has_state=True, voter=True, settings="0123456789abcdef",
)  # fmt: skip


def reason(decoder: Decoder, data: bytes, now: float = NOW) -> str:
    with pytest.raises(Rejected) as rejected:
        decoder.decode(data, now)
    return rejected.value.reason


@pytest.mark.parametrize(
    "datagram", [ANNOUNCEMENT, Query("c1", "abc"), Offer("c1", "abc", "n", "h:1", True)]
)
def test_round_trip(datagram: Announcement | Query | Offer) -> None:
    assert Decoder(SECRET, "c1").decode(encode(datagram, SECRET, NOW), NOW) == datagram


def test_wrong_secret_other_cluster_and_stale_are_rejected() -> None:
    decoder = Decoder(SECRET, "c1", window=10)
    assert reason(decoder, encode(ANNOUNCEMENT, b"x" * 32, NOW)) == "bad-mac"
    assert reason(Decoder(SECRET, "c2"), encode(ANNOUNCEMENT, SECRET, NOW)) == "other-cluster"
    assert reason(decoder, encode(ANNOUNCEMENT, SECRET, NOW - 11)) == "stale"
    assert reason(decoder, encode(ANNOUNCEMENT, SECRET, NOW + 11)) == "stale"
    assert decoder.counters["bad-mac"] == 1 and decoder.counters["stale"] == 2


def test_a_replayed_datagram_is_rejected() -> None:
    decoder = Decoder(SECRET, "c1")
    data = encode(ANNOUNCEMENT, SECRET, NOW)
    decoder.decode(data, NOW)
    assert reason(decoder, data, NOW + 1) == "replay"
    decoder.decode(encode(ANNOUNCEMENT, SECRET, NOW + 1), NOW + 1)  # a fresh one is fine


def test_replay_cache_is_bounded() -> None:
    decoder = Decoder(SECRET, "c1", cache_size=50)
    for i in range(500):
        decoder.decode(encode(ANNOUNCEMENT, SECRET, NOW + i / 1000), NOW)
    assert len(decoder._seen) <= 50


def test_tampering_breaks_the_mac() -> None:
    data = bytearray(encode(ANNOUNCEMENT, SECRET, NOW))
    data[-5] ^= 1
    assert reason(Decoder(SECRET, "c1"), bytes(data)) == "bad-mac"


def signed(payload: bytes) -> bytes:
    import hashlib
    import hmac

    return MAGIC + hmac.new(SECRET, payload, hashlib.sha256).digest() + payload


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'{"k": "a", "t": 1800000000000, "n": "x"}',
        b'{"k": ["a"], "t": 1800000000000, "n": "x", "cluster": "c1", "nonce": "q"}',
        b'{"k": "q", "t": "soon", "n": "x", "cluster": "c1", "nonce": "q"}',
        b'{"k": "q", "t": 1e400, "n": "x", "cluster": "c1", "nonce": "q"}',
        b'{"k": "q", "t": 1800000000000, "n": "x", "cluster": "c1", "nonce": 5}',
        b"\xff\xfe",
        b"[" * 100000,
    ],
)
def test_signed_garbage_is_garbage(payload: bytes) -> None:
    expected = "too-big" if len(payload) > 1400 else "garbage"
    assert reason(Decoder(SECRET, "c1"), signed(payload)) == expected


@given(st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    with pytest.raises(Rejected):
        Decoder(SECRET, "c1").decode(data, NOW)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(max_size=3), inner),
                    max_leaves=10))  # fmt: skip
def test_any_signed_json_is_decoded_or_rejected(value: object) -> None:
    payload = json.dumps({"k": "q", "t": int(NOW * 1000), "n": "z", "cluster": value,
                          "nonce": value})  # fmt: skip
    try:
        decoded = Decoder(SECRET, "c1").decode(signed(payload.encode()), NOW)
    except Rejected as rejected:
        assert rejected.reason in ("garbage", "other-cluster")
    else:
        assert decoded == Query("c1", "c1")


def test_oversized_datagram_is_refused_when_encoding() -> None:
    with pytest.raises(ValueError):
        encode(Query("c1", "x" * 2000), SECRET, NOW)
