"""``@REHASH``: an account's hash upgraded through the log, the same on every replica."""

from __future__ import annotations

from tests.chat.helpers import Chat
from tests.chat.test_passwords import legacy_hash
from twistedchat.chat.command import LOGIN, REGISTER, REHASH
from twistedchat.chat.passwords import hash_password, verify_password

OLD = legacy_hash("correct horse")
NEW = hash_password("correct horse", b"n" * 16)


def cluster_of_two() -> tuple[Chat, Chat]:
    """Two replicas fed the same entries: alice registers with an old hash, bob is there."""
    replicas = Chat(), Chat()
    for chat in replicas:
        chat.users("alice", "bob")
        chat.internal("alice", REGISTER, "alice", OLD)
    return replicas


def test_a_logged_in_session_upgrades_its_account_silently_on_every_replica() -> None:
    replicas = cluster_of_two()
    for chat in replicas:
        assert chat.internal("alice", REHASH, "ALICE", OLD, NEW) == []  # nothing to say
        assert chat.state.password_hash("alice") == NEW
    first, second = replicas
    assert first.state.snapshot() == second.state.snapshot()
    assert verify_password("correct horse", first.state.password_hash("alice") or "")


def test_only_a_session_logged_in_to_the_account_may_upgrade_it() -> None:
    chat, _ = cluster_of_two()
    chat.internal("bob", REHASH, "alice", OLD, NEW)
    assert chat.state.password_hash("alice") == OLD
    chat.internal("bob", LOGIN, "alice")  # bob proved the password: now he may
    chat.internal("bob", REHASH, "alice", OLD, NEW)
    assert chat.state.password_hash("alice") == NEW


def test_an_upgrade_applies_only_over_the_hash_it_was_checked_against() -> None:
    chat, _ = cluster_of_two()
    chat.internal("alice", REHASH, "alice", "scrypt$00$11", NEW)  # another hash meanwhile
    assert chat.state.password_hash("alice") == OLD
    chat.internal("alice", REHASH, "alice", OLD, "not a hash")
    assert chat.state.password_hash("alice") == OLD
    chat.internal("alice", REHASH, "nobody", OLD, NEW)
    chat.internal("alice", REHASH, "alice", OLD)  # too few parameters
    assert chat.state.password_hash("alice") == OLD
