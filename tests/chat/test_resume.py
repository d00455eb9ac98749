"""Resuming a session on another node: the state side (``chat.resume``)."""

from __future__ import annotations

import itertools

from tests.chat.helpers import Chat, codes, to
from twistedchat.chat.command import CONNECT, RESUME, Command
from twistedchat.chat.model import RESUME_TOKENS_KEPT
from twistedchat.chat.resume import RESUME_SEQ_JUMP, RESUME_TAG, token_hash
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message


def resumable_chat() -> Chat:
    """alice (resumable, on n1, in #a and #b) and bob (on n2, in #a)."""
    chat = Chat()
    chat.nodes["alice"] = "n1"
    params = ("alice", "~alice", "host", "Alice")
    tags = {RESUME_TAG: token_hash("first")}
    connect = chat.command("alice", Message(CONNECT, params, None, tags), "n1")
    assert codes(chat.apply(connect), "alice") == ["001"]
    chat.connect("bob", "bob", node="n2")
    chat.send("alice", "JOIN #a,#b")
    chat.send("bob", "JOIN #a")
    return chat


def resume(chat: Chat, token: str, next_token: str, node: str = "n2") -> list[str]:
    temp = f"{node}/x/{chat.index}"
    message = Message(RESUME, (token_hash(token), token_hash(next_token)))
    return to(chat.apply(chat.command(temp, message, node)), temp)


def test_resume_moves_the_session_silently_and_replays_its_channels() -> None:
    chat = resumable_chat()
    temp = f"n2/x/{chat.index}"
    message = Message(RESUME, (token_hash("first"), token_hash("second")))
    deliveries = chat.apply(chat.command(temp, message, "n2"))
    assert to(deliveries, temp) == [
        ":alice!~alice@host JOIN #a",
        ":alice!~alice@host JOIN #b",
        ":srv RESUME SUCCESS alice",
    ]
    assert {d.session for d in deliveries} == {temp}  # bob sees nothing at all
    assert chat.state.sessions_of_node("n2") == ["bob", "alice"]
    assert chat.state.sessions_of_node("n1") == []


def test_a_lost_token_or_a_racing_resume_does_not_strand_the_client() -> None:
    """The next token reaches the client in a line a dying connection may lose, and a
    RESUME held by a partitioned node may commit after the client resumed elsewhere (the
    chaos suite found this): recent tokens keep working, the presented one included."""
    chat = resumable_chat()
    resume(chat, "first", "second")  # the client got "second"...
    assert resume(chat, "first", "stale")[-1] == ":srv RESUME SUCCESS alice"  # ...a late one
    assert resume(chat, "second", "third")[-1] == ":srv RESUME SUCCESS alice"


def test_stale_resumes_cannot_push_out_the_token_the_client_holds() -> None:
    """Two RESUMEs with old tokens, held by partitioned nodes, commit late: the newest
    token the client was given survives them (tokens are kept in the order issued)."""
    chat = resumable_chat()
    resume(chat, "first", "t1")
    resume(chat, "t1", "t2")  # the client holds t2; first and t1 are still good
    resume(chat, "first", "stale1")
    resume(chat, "t1", "stale2")
    assert resume(chat, "t2", "t3")[-1] == ":srv RESUME SUCCESS alice"


def test_only_the_last_few_tokens_resume() -> None:
    chat = resumable_chat()
    tokens = ["first", "t1", "t2", "t3", "t4"]
    for presented, fresh in itertools.pairwise(tokens):
        assert resume(chat, presented, fresh)[-1] == ":srv RESUME SUCCESS alice"
    assert len(chat.state._world.resumable) == RESUME_TOKENS_KEPT  # t4 and three before
    assert resume(chat, "first", "x")[-1].startswith(":srv FAIL RESUME INVALID_TOKEN")
    assert resume(chat, "t1", "t5")[-1] == ":srv RESUME SUCCESS alice"
    assert resume(chat, "t1", "x")[-1].startswith(":srv FAIL RESUME INVALID_TOKEN")  # oldest


def test_unknown_token_and_non_resumable_sessions_fail() -> None:
    chat = resumable_chat()
    assert resume(chat, "guess", "x")[-1].startswith(":srv FAIL RESUME INVALID_TOKEN")
    chat.send("alice", "QUIT :bye")
    assert resume(chat, "first", "x")[-1].startswith(":srv FAIL RESUME INVALID_TOKEN")


def test_late_commands_of_the_old_connection_are_ignored() -> None:
    """A write proposed before the resume must not take a seq the new connection uses,
    whether it comes from another node or an earlier run of the same one."""
    chat = resumable_chat()
    before = chat.state.last_applied_seq("alice")
    resume(chat, "first", "second", node="n1")  # back on the same node id
    jumped = chat.state.last_applied_seq("alice")
    assert jumped == before + RESUME_SEQ_JUMP
    stale = chat.command("alice", Message("PRIVMSG", ("#a", "from the old run")), "n1")
    assert stale.seq == before + 1 and chat.apply(stale) == []
    resume(chat, "second", "third", node="n2")
    elsewhere = chat.command("alice", Message("PRIVMSG", ("#a", "old node")), "n1")
    elsewhere = Command("alice", chat.state.last_applied_seq("alice") + 1, elsewhere.time, "n1",
                        elsewhere.message)  # fmt: skip
    assert chat.apply(elsewhere) == []  # fenced: alice is on n2 now
    chat.nodes["alice"] = "n2"
    chat.seqs["alice"] = chat.state.last_applied_seq("alice")
    assert to(chat.send("alice", "PRIVMSG #a :from the new node"), "bob") == [
        ":alice!~alice@host PRIVMSG #a :from the new node"
    ]


def test_a_resent_write_is_applied_once() -> None:
    chat = resumable_chat()
    first = chat.command("alice", Message("PRIVMSG", ("#a", "once")), "n1")
    first = Command(first.session, first.seq, first.time, first.node, first.message, "L7")
    assert to(chat.apply(first), "bob") == [":alice!~alice@host PRIVMSG #a once"]
    again = chat.command("alice", Message("PRIVMSG", ("#a", "once")), "n1")
    again = Command(again.session, again.seq, again.time, again.node, again.message, "L7")
    assert chat.apply(again) == []
    assert chat.state.last_applied_seq("alice") == again.seq  # answered: the client moves on


def test_refs_do_not_deduplicate_sessions_that_cannot_resume() -> None:
    chat = resumable_chat()
    for text in ("same", "label"):
        command = chat.command("bob", Message("PRIVMSG", ("#a", text)), "n2")
        labelled = Command(command.session, command.seq, command.time, "n2", command.message, "L")
        assert to(chat.apply(labelled), "alice") == [f":bob!~bob@host PRIVMSG #a {text}"]


def test_a_resumed_user_survives_the_loss_of_the_old_node() -> None:
    chat = resumable_chat()
    resume(chat, "first", "second")
    chat.lose("n1", reporter="n2")
    assert chat.state.session_nick("alice") == "alice"


def test_resume_state_survives_a_snapshot() -> None:
    chat = resumable_chat()
    labelled = chat.command("alice", Message("PRIVMSG", ("#a", "x")), "n1")
    chat.apply(Command("alice", labelled.seq, labelled.time, "n1", labelled.message, "L1"))
    restored = ChatState.restore(chat.state.snapshot(), chat.state.limits)
    assert restored.snapshot() == chat.state.snapshot()
    chat.state = restored
    assert resume(chat, "first", "second")[-1] == ":srv RESUME SUCCESS alice"
