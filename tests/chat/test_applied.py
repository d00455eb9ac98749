"""What ``ChatState.apply`` returns: one record per message, and what the node must do."""

from __future__ import annotations

from tests.chat.helpers import Chat
from tests.plugins.helpers import PluginChat, host_with
from twistedchat.chat.command import OPER
from twistedchat.chat.delivery import Broadcast, Delivery, expand
from twistedchat.chat.state import Applied


def channel(*nicks: str) -> Chat:
    chat = Chat()
    chat.users(*nicks)
    for nick in nicks:
        chat.send(nick, "JOIN #c")
    return chat


def last(chat: Chat) -> Applied:
    assert chat.applied is not None
    return chat.applied


def test_a_channel_message_is_one_record_naming_the_members_in_join_order() -> None:
    chat = channel("carol", "alice", "bob")
    chat.send("alice", "PRIVMSG #c :hi all")
    broadcast, echo = last(chat).deliveries
    assert isinstance(broadcast, Broadcast) and isinstance(echo, Delivery)
    assert broadcast.audience == ("carol", "alice", "bob")
    assert broadcast.skip == "alice"  # the sender gets the echo instead
    assert (echo.session, echo.echo) == ("alice", True)
    assert echo.message is broadcast.message  # one message, one msgid
    assert [d.session for d in expand(last(chat).deliveries)] == ["carol", "bob", "alice"]


def test_a_join_is_one_record_that_includes_the_joiner() -> None:
    chat = channel("alice", "bob")
    chat.users("dave")
    chat.send("dave", "JOIN #c")
    join = last(chat).deliveries[0]
    assert isinstance(join, Broadcast)
    assert join.audience == ("alice", "bob", "dave") and join.skip is None


def test_a_message_to_a_channel_of_one_sends_only_the_echo() -> None:
    chat = channel("alice")
    chat.send("alice", "PRIVMSG #c :anyone?")
    (echo,) = last(chat).deliveries
    assert isinstance(echo, Delivery) and echo.echo


def test_a_resume_names_the_session_it_moved() -> None:
    from tests.chat.test_resume import resumable_chat, resume

    chat = resumable_chat()
    resume(chat, "first", "second")
    assert last(chat).moved == "alice"
    chat.send("bob", "PRIVMSG #a :after")
    assert last(chat).moved is None


def test_an_operator_request_is_returned_for_the_nodes_to_carry_out() -> None:
    chat = Chat()
    chat.reset("n1", "127.0.0.1:6667")
    chat.users("root")
    chat.internal("root", OPER, "admin")
    chat.send("root", "CLUSTER DRAIN n1")
    assert last(chat).admin == ("DRAIN", "n1")
    chat.send("root", "CLUSTER DRAIN nowhere")
    assert last(chat).admin is None  # not a node the log knows


def test_the_plugin_event_carries_the_messages_the_entry_sent() -> None:
    chat = PluginChat(host_with("bots"))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #c")
    chat.send("bob", "JOIN #c")
    chat.send("alice", "PRIVMSG #c :hello")
    event = last(chat).event
    assert event is not None and event.command == "PRIVMSG" and event.nick == "alice"
    assert [m.params for m in event.messages] == [("#c", "hello")]
    plain = channel("alice")
    plain.send("alice", "PRIVMSG #c :no plugins")
    assert last(plain).event is None  # no plugin to show it to: not even built
