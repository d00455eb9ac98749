"""Account passwords: only scrypt hashes are stored, and only the receiving node sees a password.

The node a user talks to hashes (REGISTER) or verifies (IDENTIFY) the password and puts
only the hash, or only the fact of a successful login, into the log: a password never
reaches the replicated log, the snapshots or the other nodes.
"""

from __future__ import annotations

import hashlib
import hmac

#: scrypt cost (RFC 7914 parameters): ~16 MiB and a few tens of ms per hash.
N, R, P = 2**14, 8, 1


def hash_password(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    if scheme != "scrypt":
        return False
    try:
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=len(digest))
    return hmac.compare_digest(candidate, digest)
