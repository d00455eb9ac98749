"""Discovery datagrams: what nodes and clients broadcast, authenticated with the cluster secret.

Pure: callers pass the time. A datagram is ``MAGIC``, an HMAC-SHA256 of the rest, and a
compact JSON object. The MAC stops strangers from joining or steering a cluster; the
sender's timestamp and a random nonce, remembered for the freshness window, stop replays.
Anything malformed is rejected with a reason from a fixed set, so it can be counted and
never raises anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from typing import Any

MAGIC = b"TCD1"
MAC_BYTES = 32
MAX_DATAGRAM = 1400

REASONS = ("garbage", "bad-mac", "other-cluster", "stale", "replay", "too-big")


@dataclass(frozen=True, slots=True)
class Announcement:
    """A node says who it is, where to reach it, and how busy it is.

    ``settings`` is the digest of how the node applies the log (see
    :mod:`twistedchat.node.fingerprint`): nodes whose digests differ ignore each other.
    """

    cluster: str
    node_id: str
    peer: str
    irc: str
    status: str
    role: str
    term: int
    leader: str | None
    clients: int
    capacity: int
    has_state: bool
    voter: bool
    settings: str


@dataclass(frozen=True, slots=True)
class Query:
    """A client asks which node it should use."""

    cluster: str
    nonce: str


@dataclass(frozen=True, slots=True)
class Offer:
    """A node answers a query; ``assigned`` when the leader names the node it assigns."""

    cluster: str
    nonce: str
    node_id: str
    irc: str
    assigned: bool


Datagram = Announcement | Query | Offer
_KINDS: dict[str, type[Datagram]] = {"a": Announcement, "q": Query, "o": Offer}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}
_MAX_INT = 2**53


class Rejected(Exception):
    """A datagram was dropped; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(datagram: Datagram, secret: bytes, now: float) -> bytes:
    body = {"k": _KIND_OF[type(datagram)], "t": int(now * 1000), "n": secrets.token_hex(6)}
    body.update(asdict(datagram))
    payload = json.dumps(body, separators=(",", ":")).encode()
    data = MAGIC + hmac.new(secret, payload, hashlib.sha256).digest() + payload
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"datagram of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    return data


class Decoder:
    """Checks and decodes datagrams for one cluster, remembering recent ones (replays)."""

    def __init__(
        self, secret: bytes, cluster: str, window: float = 10.0, cache_size: int = 4096
    ) -> None:
        self.secret = secret
        self.cluster = cluster
        self.window = window
        self.cache_size = cache_size
        self._seen: OrderedDict[tuple[str, int], float] = OrderedDict()
        self.counters: dict[str, int] = dict.fromkeys(("accepted", *REASONS), 0)

    def decode(self, data: bytes, now: float) -> Datagram:
        try:
            datagram = self._decode(data, now)
        except Rejected as rejected:
            self.counters[rejected.reason] += 1
            raise
        self.counters["accepted"] += 1
        return datagram

    def _decode(self, data: bytes, now: float) -> Datagram:
        if len(data) > MAX_DATAGRAM:
            raise Rejected("too-big")
        if not data.startswith(MAGIC) or len(data) <= len(MAGIC) + MAC_BYTES:
            raise Rejected("garbage")
        mac, payload = data[4 : 4 + MAC_BYTES], data[4 + MAC_BYTES :]
        expected = hmac.new(self.secret, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise Rejected("bad-mac")
        body = _parse(payload)
        sent = body.pop("t")
        nonce = body.pop("n")
        datagram = _build(body)
        if datagram.cluster != self.cluster:
            raise Rejected("other-cluster")
        if abs(now - sent / 1000) > self.window:
            raise Rejected("stale")
        self._remember(nonce, sent, now)
        return datagram

    def _remember(self, nonce: str, sent: int, now: float) -> None:
        """Reject a datagram seen before, else record it, evicting the oldest entries.

        The replay check comes first: evicting first would, with the cache full, drop the
        very entry being replayed and let it through. Nothing that passed the freshness
        check can be expired here, so checking before the time-based purge loses nothing.
        """
        key = (nonce, sent)
        if key in self._seen:
            raise Rejected("replay")
        while self._seen and (
            len(self._seen) >= self.cache_size
            or next(iter(self._seen.values())) < now - 2 * self.window
        ):
            self._seen.popitem(last=False)
        self._seen[key] = now


def _parse(payload: bytes) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        raise Rejected("garbage") from None
    if not isinstance(body, dict):
        raise Rejected("garbage")
    sent, nonce = body.get("t"), body.get("n")
    if not _is_int(sent) or not isinstance(nonce, str) or len(nonce) > 64:
        raise Rejected("garbage")
    return body


def _build(body: dict[str, Any]) -> Datagram:
    kind = body.pop("k", None)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise Rejected("garbage")
    values: dict[str, Any] = {}
    for field in fields(cls):
        value = body.get(field.name)
        if not _fits(value, str(field.type)):
            raise Rejected("garbage")
        values[field.name] = value
    return cls(**values)


def _is_int(value: object) -> bool:
    return type(value) is int and -_MAX_INT < value < _MAX_INT


def _fits(value: object, annotation: str) -> bool:
    if annotation == "str":
        return isinstance(value, str) and len(value) <= 256
    if annotation == "str | None":
        return value is None or (isinstance(value, str) and len(value) <= 256)
    if annotation == "int":
        return isinstance(value, int) and _is_int(value) and value >= 0
    if annotation == "bool":
        return type(value) is bool
    return False
