"""Accounts in the replicated state: registration, login, notify and snapshots."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, to
from twistedchat.chat.command import LOGIN, REGISTER
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.passwords import hash_password, verify_password
from twistedchat.chat.state import ChatState

HASH = "scrypt$00$11"


def test_register_logs_in_and_tells_channel_peers() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    for session in ("alice", "bob"):
        chat.send(session, "JOIN #a")
    out = chat.internal("alice", REGISTER, "alice", HASH)
    assert ":srv REGISTER SUCCESS alice Registered" in to(out, "alice")
    assert codes(out, "alice") == ["REGISTER", "900"]
    assert [line for line in to(out, "bob") if "ACCOUNT" in line] == [
        ":alice!~alice@host ACCOUNT alice"
    ]
    assert chat.state.password_hash("ALICE") == HASH
    out = chat.send("alice", "PRIVMSG #a :signed")
    assert any(d.message.tags.get("account") == "alice" for d in out)


def refusal(chat: Chat, session: str, name: str) -> str:
    """The FAIL code a registration of ``name`` by ``session`` gets."""
    (line,) = to(chat.internal(session, REGISTER, name, HASH), session)
    return line.split()[3]


def test_register_refusals() -> None:
    chat = Chat(ChatLimits(max_accounts=1))
    chat.users("alice", "bob", "carol")
    chat.internal("alice", REGISTER, "alice", HASH)
    assert refusal(chat, "alice", "other") == "ALREADY_AUTHENTICATED"
    assert refusal(chat, "bob", "Alice") == "ACCOUNT_EXISTS"
    assert refusal(chat, "bob", "1bad") == "BAD_ACCOUNT_NAME"
    assert refusal(chat, "carol", "carol") == "TEMPORARILY_UNAVAILABLE"


def test_login_applies_only_for_an_existing_account() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.internal("alice", REGISTER, "alice", HASH)
    assert codes(chat.internal("bob", LOGIN, "nobody"), "bob") == ["904"]
    assert codes(chat.internal("bob", LOGIN, "alice"), "bob") == ["900"]
    assert any(" 330 alice bob alice " in line for line in chat.query("alice", "WHOIS bob"))


def test_accounts_survive_a_snapshot() -> None:
    chat = Chat()
    chat.users("alice")
    chat.internal("alice", REGISTER, "alice", HASH)
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert restored.password_hash("alice") == HASH


def test_passwords_hash_and_verify() -> None:
    stored = hash_password("correct horse", b"s" * 16)
    assert stored.startswith("$scrypt$ln=14,r=8,p=1$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("x", "md5$00$00") and not verify_password("x", "scrypt$zz$zz")


def test_someone_else_on_a_registered_nick_is_warned_then_renamed() -> None:
    chat = Chat()
    chat.users("carol", "mallory", "bob")
    chat.internal("carol", REGISTER, "carol", HASH)
    chat.send("carol", "NICK carol_away")
    out = chat.send("mallory", "NICK carol")
    assert any("is a registered account" in line for line in to(out, "mallory"))
    chat.send("mallory", "JOIN #m")
    chat.send("bob", "JOIN #m")
    chat.time += 30_000
    assert chat.state.nick_in_use("carol")  # still within the grace period
    chat.time += 31_000
    out = chat.send("bob", "PRIVMSG #m :tick")  # any entry applies the rule
    renames = [line for line in to(out, "bob") if " NICK " in line]
    assert len(renames) == 1 and renames[0].startswith(":carol!")
    assert not chat.state.nick_in_use("carol")
    assert chat.state.nick_in_use(renames[0].split()[-1].lstrip(":"))


def test_the_owner_and_an_identified_user_keep_the_nick() -> None:
    chat = Chat()
    chat.users("carol", "guest")
    chat.internal("carol", REGISTER, "carol", HASH)
    chat.time += 120_000
    chat.send("guest", "AWAY :x")
    assert chat.state.nick_in_use("carol")  # the owner is never renamed
    chat.send("carol", "NICK other")
    chat.send("guest", "NICK carol")
    chat.internal("guest", LOGIN, "carol")  # identified in time
    chat.time += 120_000
    chat.send("guest", "AWAY :y")
    assert chat.state.session_nick("guest") == "carol"


def test_nick_guard_survives_a_snapshot() -> None:
    chat = Chat()
    chat.users("carol", "mallory")
    chat.internal("carol", REGISTER, "carol", HASH)
    chat.send("carol", "NICK elsewhere")
    chat.send("mallory", "NICK carol")
    restored = ChatState.restore(chat.state.snapshot(), ChatLimits())
    assert restored.snapshot() == chat.state.snapshot()
    assert restored._world.nick_guard == chat.state._world.nick_guard == {"mallory": chat.time}
