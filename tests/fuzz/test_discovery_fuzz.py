"""Fuzzing the discovery datagram decoder: UDP broadcasts anyone on the LAN can send.

The decoder's contract is that every bad datagram is dropped with a :class:`Rejected`
reason from :data:`REASONS` (counted, never raised further), that only the holder of the
cluster secret can get one accepted, and that a captured datagram cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from tests.fuzz.budget import FUZZ, FUZZ_HEAVY
from twistedchat.discovery.wire import (
    MAC_BYTES,
    MAGIC,
    MAX_DATAGRAM,
    REASONS,
    Announcement,
    Datagram,
    Decoder,
    Offer,
    Query,
    Rejected,
    encode,
)

SECRET = b"fuzz-secret-" * 3
CLUSTER = "c1"
NOW = 1_800_000_000.0
WINDOW = 10.0

_short = st.text(max_size=16)
_count = st.integers(0, 2**53 - 1)
datagrams: st.SearchStrategy[Datagram] = st.one_of(
    st.builds(
        Announcement,
        cluster=st.just(CLUSTER),
        node_id=_short,
        peer=_short,
        irc=_short,
        status=_short,
        role=_short,
        term=_count,
        leader=st.none() | _short,
        clients=_count,
        capacity=_count,
        has_state=st.booleans(),
        voter=st.booleans(),
    ),
    st.builds(Query, cluster=st.just(CLUSTER), nonce=_short),
    st.builds(
        Offer, cluster=st.just(CLUSTER), nonce=_short, node_id=_short, irc=_short,
        assigned=st.booleans(),
    ),
)  # fmt: skip


def _encode(datagram: Datagram, now: float = NOW) -> bytes:
    try:
        return encode(datagram, SECRET, now)
    except ValueError:  # over MAX_DATAGRAM: heavily escaped text; not what we test here
        assume(False)
        raise


def _sign(payload: bytes, secret: bytes = SECRET) -> bytes:
    """A datagram around ``payload`` with a correct MAC: what a cluster member could send."""
    return MAGIC + hmac.new(secret, payload, hashlib.sha256).digest() + payload


def _query(nonce: str, sent_ms: int) -> bytes:
    """A valid Query with a chosen replay key (nonce, timestamp), for deterministic tests."""
    body = {"k": "q", "t": sent_ms, "n": nonce, "cluster": CLUSTER, "nonce": "x"}
    return _sign(json.dumps(body, separators=(",", ":")).encode())


def _reason_or_datagram(decoder: Decoder, data: bytes, now: float = NOW) -> str | Datagram:
    try:
        return decoder.decode(data, now)
    except Rejected as rejected:
        assert rejected.reason in REASONS
        return rejected.reason


# -- untrusted input ---------------------------------------------------------------------------


@FUZZ
@given(
    st.binary(max_size=MAX_DATAGRAM + 10)
    | st.binary(max_size=200).map(lambda b: MAGIC + b)
    | st.binary(min_size=MAC_BYTES + 1, max_size=200).map(lambda b: MAGIC + b)
)
def test_arbitrary_bytes_are_rejected_with_a_reason(data: bytes) -> None:
    """Anyone on the LAN can send a datagram: without the secret it must be refused with a
    countable reason, and never raise anything else into the UDP protocol."""
    decoder = Decoder(SECRET, CLUSTER)
    result = _reason_or_datagram(decoder, data)
    assert result in ("too-big", "garbage", "bad-mac")
    assert decoder.counters[str(result)] == 1 and decoder.counters["accepted"] == 0


_json_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_keys = st.sampled_from(
    ["k", "t", "n", "cluster", "nonce", "node_id", "peer", "irc", "status", "role", "term",
     "leader", "clients", "capacity", "has_state", "voter", "assigned"]
)  # fmt: skip
_values = (
    _json
    | st.sampled_from(["a", "q", "o", CLUSTER, True, False, 0, -1, 2**53, 2**53 - 1])
    | st.integers(int(NOW * 1000) - 20_000, int(NOW * 1000) + 20_000)
    | st.text(min_size=60, max_size=300)
)


@FUZZ
@given(
    st.dictionaries(_keys, _values).map(lambda d: json.dumps(d).encode())
    | _json.map(lambda d: json.dumps(d).encode())
    | st.binary(max_size=100)
    | st.sampled_from([b"[" * 1300, b'{"a":' * 270, b'{"t":1,"n":"x","k":' + b"[" * 1200])
)
def test_authenticated_garbage_is_rejected_not_raised(payload: bytes) -> None:
    """Past the MAC the decoder trusts the sender's key, not its code: a member running other
    software (or a bug) may send any JSON. It must be decoded into a well-typed datagram of
    this cluster or rejected with a reason, never crash the discovery listener."""
    data = _sign(payload)
    decoder = Decoder(SECRET, CLUSTER)
    result = _reason_or_datagram(decoder, data)
    if isinstance(result, str):
        assert decoder.counters[result] == 1
        return
    assert isinstance(result, (Announcement, Query, Offer)) and result.cluster == CLUSTER
    for name in ("term", "clients", "capacity"):
        value = getattr(result, name, 0)
        assert type(value) is int and 0 <= value < 2**53
    for name in ("has_state", "voter", "assigned"):
        assert type(getattr(result, name, False)) is bool


@FUZZ
@given(datagrams, st.data())
def test_bit_flipped_datagrams_are_rejected(datagram: Datagram, data: st.DataObject) -> None:
    """A single flipped bit anywhere must never be accepted: in the magic it is garbage,
    anywhere else the MAC no longer matches. Accepting it would let a corrupted (or forged)
    announcement steer clients to the wrong node."""
    valid = _encode(datagram)
    bit = data.draw(st.integers(0, len(valid) * 8 - 1))
    flipped = bytearray(valid)
    flipped[bit // 8] ^= 1 << (bit % 8)
    expected = "garbage" if bit // 8 < len(MAGIC) else "bad-mac"
    assert _reason_or_datagram(Decoder(SECRET, CLUSTER), bytes(flipped)) == expected


@FUZZ
@given(datagrams, st.integers(0, 200), st.binary(min_size=1, max_size=8))
def test_truncated_or_extended_datagrams_are_rejected(
    datagram: Datagram, cut: int, extra: bytes
) -> None:
    """Datagrams cut short or with bytes appended (both happen with broken middleboxes or
    a deliberate attacker) must be refused, not half-decoded."""
    valid = _encode(datagram)
    decoder = Decoder(SECRET, CLUSTER)
    assert _reason_or_datagram(decoder, valid[: cut % len(valid)]) in ("garbage", "bad-mac")
    assert _reason_or_datagram(decoder, valid + extra) in ("bad-mac", "too-big")


@FUZZ
@given(datagrams, st.floats(-WINDOW, WINDOW))
def test_valid_datagram_round_trips(datagram: Datagram, skew: float) -> None:
    """What a node encodes must decode to the same value at every receiver whose clock is
    within the freshness window, or discovery silently stops working; the very same bytes
    a second time are a replay."""
    decoder = Decoder(SECRET, CLUSTER, window=WINDOW)
    data = _encode(datagram)
    assert decoder.decode(data, NOW + skew * 0.999) == datagram
    assert _reason_or_datagram(decoder, data, NOW + skew * 0.999) == "replay"


# -- replays -----------------------------------------------------------------------------------


@st.composite
def _histories(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, float]], int, float]:
    """Distinct datagrams (nonce, send time) received at non-decreasing times, fewer than
    the cache size; then one of them chosen for a replay at a later time."""
    cache_size = draw(st.integers(2, 12))
    nonces = draw(
        st.lists(st.text("0123456789abcdef", max_size=3), min_size=1, max_size=cache_size - 1).map(
            lambda found: list(dict.fromkeys(found))
        )  # distinct, so no legitimate replay
    )
    history: list[tuple[str, int, float]] = []
    received = NOW
    for nonce in nonces:
        received += draw(st.floats(0, 3 * WINDOW))
        skew_ms = draw(st.integers(-9_998, 9_998))  # the sender's clock, within the window
        history.append((nonce, int(received * 1000) + skew_ms, received))
    victim = draw(st.integers(0, len(history) - 1))
    replay_at = received + draw(st.floats(0, 5 * WINDOW))
    return cache_size, history, victim, replay_at


@FUZZ
@given(_histories())
def test_a_replayed_datagram_is_never_accepted_twice(
    case: tuple[int, list[tuple[str, int, float]], int, float],
) -> None:
    """An attacker who captured a datagram can send it again at any later time: while the
    cache has room it must be refused (as a replay, or as stale once out of the window),
    or a recorded "leader" announcement could redirect clients long after the fact."""
    cache_size, history, victim, replay_at = case
    decoder = Decoder(SECRET, CLUSTER, window=WINDOW, cache_size=cache_size)
    for nonce, sent_ms, received in history:
        result = _reason_or_datagram(decoder, _query(nonce, sent_ms), received)
        assert isinstance(result, Query), result
    nonce, sent_ms, _ = history[victim]
    result = _reason_or_datagram(decoder, _query(nonce, sent_ms), replay_at)
    fresh = abs(replay_at - sent_ms / 1000) <= WINDOW
    assert result == ("replay" if fresh else "stale")


@FUZZ_HEAVY
@given(
    st.integers(1, 16),
    st.lists(st.floats(0, 2 * WINDOW), min_size=1, max_size=120),
)
def test_replay_cache_stays_bounded(cache_size: int, gaps: list[float]) -> None:
    """A flood of distinct valid datagrams (a busy cluster, or a member gone rogue) must not
    grow the replay cache past its size: it lives in every node and client for good."""
    decoder = Decoder(SECRET, CLUSTER, window=WINDOW, cache_size=cache_size)
    now = NOW
    for i, gap in enumerate(gaps):
        now += gap
        result = _reason_or_datagram(decoder, _query(f"{i:x}", int(now * 1000)), now)
        assert isinstance(result, Query), result
        assert len(decoder._seen) <= cache_size
    assert decoder.counters["accepted"] == len(gaps)


def test_replay_is_caught_while_the_cache_still_holds_it() -> None:
    """A cache of N entries should catch replays of any of the N datagrams it holds."""
    decoder = Decoder(SECRET, CLUSTER, window=WINDOW, cache_size=2)
    first, second = _query("a", int(NOW * 1000)), _query("b", int(NOW * 1000))
    decoder.decode(first, NOW)
    decoder.decode(second, NOW)
    assert _reason_or_datagram(decoder, first, NOW) == "replay"


def test_helpers_build_datagrams_the_decoder_accepts() -> None:
    """The hand-signed datagrams above must be valid, or the replay tests prove nothing."""
    decoder = Decoder(SECRET, CLUSTER)
    assert decoder.decode(_query("n", int(NOW * 1000)), NOW) == Query(CLUSTER, "x")
    body: dict[str, Any] = {"k": "q", "t": int(NOW * 1000), "n": "m"}
    body.update(cluster=CLUSTER, nonce="y")
    assert decoder.decode(_sign(json.dumps(body).encode()), NOW) == Query(CLUSTER, "y")
