"""Password hashes as PHC strings: parse, verify, cost, the first format, upgrades."""

from __future__ import annotations

import hashlib

import pytest

from twistedchat.chat.passwords import (
    CURRENT,
    Cost,
    hash_password,
    is_password_hash,
    needs_rehash,
    parse,
    verify_password,
)

SALT = b"s" * 16


def legacy_hash(password: str, salt: bytes = SALT) -> str:
    """A hash as nodes wrote them before PHC strings: hex, parameters implied."""
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def test_a_new_hash_names_its_algorithm_and_cost() -> None:
    stored = hash_password("correct horse", SALT)
    assert stored.startswith("$scrypt$ln=14,r=8,p=1$c3Nzc3Nzc3Nzc3Nzc3Nzcw$")
    assert "=" not in stored.split("$", 4)[4]  # PHC base64 has no padding
    parsed = parse(stored)
    assert parsed is not None and parsed.cost == CURRENT and parsed.salt == SALT
    assert len(parsed.digest) == 32 and not parsed.legacy
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsf", stored)
    assert not needs_rehash(stored)


def test_the_first_format_still_verifies_and_is_due_for_a_rehash() -> None:
    stored = legacy_hash("correct horse")
    assert verify_password("correct horse", stored) and not verify_password("wrong", stored)
    assert is_password_hash(stored) and needs_rehash(stored)


def test_a_lower_cost_is_upgraded_a_higher_one_kept() -> None:
    cheap = hash_password("pw", SALT, Cost(ln=10, r=8, p=1))
    assert verify_password("pw", cheap) and needs_rehash(cheap)
    assert needs_rehash(hash_password("pw", SALT, Cost(ln=14, r=4, p=1)))
    costly = hash_password("pw", SALT, Cost(ln=15, r=8, p=1))
    assert verify_password("pw", costly) and not needs_rehash(costly)
    assert needs_rehash(costly, current=Cost(ln=16, r=8, p=1))  # the cost can be raised later


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "md5$00$00",
        "scrypt$zz$zz",
        "scrypt$$",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$scrypt$ln=14,r=8$c2FsdA$aGFzaA",  # p missing
        "$scrypt$ln=14,r=8,p=1,x=2$c2FsdA$aGFzaA",
        "$scrypt$ln=14,ln=14,r=8$c2FsdA$aGFzaA",
        "$scrypt$ln=14,r=8,p=1$!!$aGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdA$",
        "$scrypt$ln=30,r=8,p=1$c2FsdA$aGFzaA",  # 128 GiB: refused, never computed
        "$scrypt$ln=20,r=64,p=1$c2FsdA$aGFzaA",  # 8 GiB
        "$scrypt$ln=-1,r=8,p=1$c2FsdA$aGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdA$aGFzaA$extra",
    ],
)
def test_malformed_or_too_costly_hashes_never_verify(stored: str) -> None:
    assert not is_password_hash(stored)
    assert not verify_password("pw", stored)
    assert not needs_rehash(stored)
