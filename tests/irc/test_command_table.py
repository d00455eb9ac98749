"""One command table: every fact about a command comes from it, for every answerer."""

from __future__ import annotations

import pytest

from tests.memorylog import Server
from twistedchat.chat.commands import COMMANDS, Answer, lookup, plugin_command
from twistedchat.irc.protocol import _OWN_COMMANDS, CONNECTION_ANSWERS, IRCConnection
from twistedchat.wire.names import valid_nick


def test_the_connection_has_a_handler_for_exactly_what_the_table_gives_it() -> None:
    """Of each command it answers, and of each a client may send before registration."""
    expected = {
        spec.name
        for spec in COMMANDS.values()
        if not spec.name.startswith("@")
        and (spec.answer in CONNECTION_ANSWERS or spec.before_registration)
    }
    assert set(_OWN_COMMANDS) == expected
    assert all(callable(getattr(IRCConnection, h.__name__)) for h in _OWN_COMMANDS.values())


def test_every_chat_answered_command_has_its_handler_in_the_table() -> None:
    for spec in COMMANDS.values():
        if spec.answer is Answer.REPLICA:
            assert spec.query is not None, spec.name
        if spec.writes_when is not None:
            assert spec.apply is not None, spec.name
        if spec.answer is Answer.LOG and not spec.name.startswith("@"):
            assert spec.apply is not None, spec.name


def test_pseudo_commands_cannot_be_typed_and_real_ones_can() -> None:
    """A client cannot send a node's own entry: ``@`` starts the tags of a line."""
    for name in COMMANDS:
        assert name.startswith("@") or (name.isalpha() and name.isupper()), name
    assert lookup("privmsg") is lookup("PRIVMSG")
    assert lookup("FROBNICATE") is None
    assert plugin_command("helpme").answer is Answer.LOG
    assert valid_nick("NICK", 30)  # names are plain words: the grammar reads them as commands


def test_writes_and_queries_follow_their_params() -> None:
    topic, mode, cluster = lookup("TOPIC"), lookup("MODE"), lookup("CLUSTER")
    assert topic and mode and cluster
    assert topic.is_write(("#a", "new")) and not topic.is_write(("#a",))
    assert mode.is_write(("#a", "+m")) and not mode.is_write(("#a", "b"))
    assert cluster.is_write(("DRAIN", "n1")) and not cluster.is_write(())
    quit_ = lookup("QUIT")
    assert quit_ and quit_.answer is Answer.CONNECTION and quit_.is_write(())


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("JOIN", " 461 alice JOIN :Not enough parameters"),  # checked by the chat state
        ("ISON", " 461 alice ISON :Not enough parameters"),  # by the query
        ("OPER name", " 461 alice OPER :Not enough parameters"),  # by the connection
        ("KILL", " 481 alice :Permission Denied- You're not an IRC operator"),  # privilege first
        ("USER a b c d", " 462 alice :You may not reregister"),
        ("RESUME token", "FAIL RESUME REGISTRATION_IS_COMPLETED"),
        ("FROB_2", " 421 alice FROB_2 :Unknown command"),
    ],
)
def test_each_answerer_applies_the_tables_facts(line: str, reply: str) -> None:
    server = Server()
    alice = server.register("alice")
    alice.send(line)
    assert alice.has(reply), alice.lines()
