"""Password hashes: scrypt, stored as PHC strings that name their algorithm and cost.

The node a user talks to hashes (REGISTER) or verifies (IDENTIFY, SASL) the password and
puts only the hash, or only the fact of a successful login, into the log: a password never
reaches the replicated log, the snapshots or the other nodes.

A hash reads ``$scrypt$ln=14,r=8,p=1$<salt>$<digest>`` (the PHC string format, base64
without padding), so the cost can be raised later: a hash made with a lower cost than
:data:`CURRENT` verifies all the same, and :func:`needs_rehash` tells the node to replace
it at the next successful login. The first format, ``scrypt$<salt hex>$<digest hex>``
(always n=2^14, r=8, p=1), still verifies and is always due for a rehash.

Pure (no clock, no randomness: the caller brings the salt), so the chat state may check
that a hash it is given is well formed. Hashing takes tens of ms: nodes run it off the
reactor thread (:mod:`twistedchat.security.hashing`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True, order=True, slots=True)
class Cost:
    """scrypt's parameters (RFC 7914): n = 2**ln, block size r, parallelism p."""

    ln: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """Bytes one hash needs (128 * r * n)."""
        return 128 * self.r * (1 << self.ln)

    def phc(self) -> str:
        return f"ln={self.ln},r={self.r},p={self.p}"


#: The cost new hashes get: ~16 MiB and a few tens of ms.
CURRENT = Cost(ln=14, r=8, p=1)
#: The most one hash may need; a stored hash asking for more is refused, not computed.
MAX_MEMORY = 256 << 20
SALT_BYTES = 16
DIGEST_BYTES = 32
_LEGACY = Cost(ln=14, r=8, p=1)


@dataclass(frozen=True, slots=True)
class ParsedHash:
    cost: Cost
    salt: bytes
    digest: bytes
    legacy: bool  # the first format, hex without parameters


def hash_password(password: str, salt: bytes, cost: Cost = CURRENT) -> str:
    """The PHC string of ``password`` with ``salt`` (16 random bytes) at ``cost``."""
    digest = _scrypt(password, salt, cost, DIGEST_BYTES)
    return f"$scrypt${cost.phc()}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (False for a bad hash)."""
    parsed = parse(stored)
    if parsed is None:
        return False
    candidate = _scrypt(password, parsed.salt, parsed.cost, len(parsed.digest))
    return hmac.compare_digest(candidate, parsed.digest)


def needs_rehash(stored: str, current: Cost = CURRENT) -> bool:
    """Whether ``stored`` should be replaced after a successful login: the old format,
    or any scrypt parameter below ``current``'s (a costlier hash is kept)."""
    parsed = parse(stored)
    if parsed is None:
        return False  # it cannot verify, so there is never a login to upgrade it at
    cost = parsed.cost
    return parsed.legacy or cost.ln < current.ln or cost.r < current.r or cost.p < current.p


def is_password_hash(stored: str) -> bool:
    """Whether ``stored`` is a hash this module can verify (either format)."""
    return parse(stored) is not None


def parse(stored: str) -> ParsedHash | None:
    """The parts of a hash in either format; None if it is malformed or too costly."""
    parsed = _parse_phc(stored) if stored.startswith("$") else _parse_legacy(stored)
    if parsed is None or not parsed.salt or not parsed.digest:
        return None
    cost = parsed.cost
    if not (1 <= cost.ln <= 24 and 1 <= cost.r <= 64 and 1 <= cost.p <= 16):
        return None
    if cost.memory > MAX_MEMORY:
        return None
    return parsed


def _parse_phc(stored: str) -> ParsedHash | None:
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "scrypt":
        return None
    params: dict[str, int] = {}
    for item in parts[2].split(","):
        key, sep, value = item.partition("=")
        if not sep or key in params or not value.isdigit() or len(value) > 3:
            return None
        params[key] = int(value)
    if set(params) != {"ln", "r", "p"}:
        return None
    salt, digest = _unb64(parts[3]), _unb64(parts[4])
    if salt is None or digest is None:
        return None
    return ParsedHash(Cost(params["ln"], params["r"], params["p"]), salt, digest, legacy=False)


def _parse_legacy(stored: str) -> ParsedHash | None:
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != "scrypt":
        return None
    try:
        salt, digest = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    return ParsedHash(_LEGACY, salt, digest, legacy=True)


def _scrypt(password: str, salt: bytes, cost: Cost, dklen: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=1 << cost.ln,
        r=cost.r,
        p=cost.p,
        maxmem=cost.memory + (1 << 20),
        dklen=dklen,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    if not text or len(text) > 128:
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
