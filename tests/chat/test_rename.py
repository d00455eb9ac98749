"""RENAME (IRCv3 draft/channel-rename): who may, what follows the channel, who is told what."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, room, show, to
from twistedchat.chat.command import OPER
from twistedchat.chat.delivery import Broadcast, Delivery, given
from twistedchat.chat.plugin_api import POLICY_STORE
from twistedchat.chat.rename import CAPABILITY, FALLBACK
from twistedchat.chat.state import ChatState
from twistedchat.wire.message import Message

CAPABLE = frozenset({CAPABILITY})
PLAIN: frozenset[str] = frozenset()


def seen(chat: Chat, session: str, caps: frozenset[str]) -> list[str]:
    """What the last entry showed ``session``, as a client with ``caps``."""
    assert chat.applied is not None
    lines = []
    for record in chat.applied.deliveries:
        if isinstance(record, Broadcast):
            audience = session in record.audience and session != record.skip
            if audience and given(record.needs, caps):
                lines.append(show(record.message))
        elif record.session == session and given(record.needs, caps):
            lines.append(show(record.message))
    return lines


def history(chat: Chat, session: str, target: str, *, events: bool = False) -> list[str]:
    tags = {"twistedchat.org/event-playback": ""} if events else {}
    query = Message("CHATHISTORY", ("LATEST", target, "*", "50"), None, tags)
    return [show(m) for m in chat.state.query(session, query, "srv")[1:-1]]


def test_a_channel_operator_renames_and_capable_members_get_rename() -> None:
    chat = room()
    chat.send("op", "RENAME #a #b tidier")
    assert chat.applied is not None
    (notice,) = [d for d in chat.applied.deliveries if d.message.command == "RENAME"]
    assert isinstance(notice, Broadcast)
    assert notice.audience == ("op", "bob", "carol") and notice.needs == CAPABILITY
    for nick in ("op", "bob", "carol"):
        assert seen(chat, nick, CAPABLE) == [":op!~op@host RENAME #a #b tidier"]
    assert seen(chat, "dave", CAPABLE) == seen(chat, "dave", PLAIN) == []
    world = chat.state.plugin_world()
    assert world.channel("#a") is None
    channel = world.channel("#b")
    assert channel is not None and channel.name == "#b"
    assert list(channel.members) == ["op", "bob", "carol"] and channel.members["op"].op


def test_the_rename_always_carries_a_reason() -> None:
    chat = room()
    chat.send("op", "RENAME #a #b")
    assert seen(chat, "bob", CAPABLE) == [":op!~op@host RENAME #a #b :"]
    assert seen(chat, "bob", PLAIN)[0] == ":bob!~bob@host PART #a"


def test_members_without_the_capability_see_their_own_part_and_join() -> None:
    chat = room()
    chat.send("op", "TOPIC #a :the topic")
    chat.send("op", "RENAME #a #b tidier")
    assert seen(chat, "bob", PLAIN) == [
        ":bob!~bob@host PART #a tidier",
        ":bob!~bob@host JOIN #b",
        ":srv 332 bob #b :the topic",
        f":srv 333 bob #b op!~op@host {(chat.time - 1000) // 1000}",
        ":srv 353 bob = #b :@op bob carol",
        ":srv 366 bob #b :End of /NAMES list",
    ]
    assert chat.applied is not None
    fallback = [d for d in chat.applied.deliveries if isinstance(d, Delivery)]
    assert fallback and all(d.needs == FALLBACK for d in fallback)
    assert ":op!~op@host PART #a tidier" in seen(chat, "op", PLAIN)
    assert "PART" not in [line.split()[1] for line in seen(chat, "bob", CAPABLE)]


def test_only_channel_operators_and_irc_operators_may_rename() -> None:
    chat = room()
    chat.send("bob", "RENAME #a #b")
    assert seen(chat, "bob", PLAIN) == [":srv 482 bob #a :You're not channel operator"]
    chat.send("dave", "RENAME #a #b")
    assert seen(chat, "dave", PLAIN) == [":srv 442 dave #a :You're not on that channel"]
    chat.send("dave", "RENAME #nope #b")
    assert seen(chat, "dave", PLAIN) == [":srv 403 dave #nope :No such channel"]
    assert chat.state.plugin_world().channel("#a") is not None
    chat.internal("dave", OPER, "admin")  # an IRC operator, not in the channel
    chat.send("dave", "RENAME #a #b :by order")
    assert seen(chat, "dave", CAPABLE) == [":dave!~dave@host RENAME #a #b :by order"]
    assert seen(chat, "bob", CAPABLE) == [":dave!~dave@host RENAME #a #b :by order"]
    assert chat.state.plugin_world().channel("#b") is not None


def test_too_few_parameters_is_461() -> None:
    chat = room()
    assert to(chat.send("op", "RENAME #a"), "op") == [":srv 461 op RENAME :Not enough parameters"]


def test_a_name_in_use_a_prefix_change_and_an_illegal_name_are_refused() -> None:
    chat = room()
    chat.send("dave", "JOIN #b")
    chat.send("op", "RENAME #a #B :taken")
    assert seen(chat, "op", PLAIN) == [
        ":srv FAIL RENAME CHANNEL_NAME_IN_USE #a #B :Channel already exists"
    ]
    chat.send("op", "RENAME #a &a")
    assert seen(chat, "op", PLAIN) == [
        ":srv FAIL RENAME CANNOT_RENAME #a &a :You cannot change a channel prefix type"
    ]
    for bad in ("a", "#a,b", "#" + "x" * 64):
        chat.send("op", f"RENAME #a {bad}")
        assert seen(chat, "op", PLAIN) == [f":srv 479 op {bad} :Illegal channel name"]
    assert [c.name for c in chat.state.plugin_world().channels.values()] == ["#a", "#b"]


def test_a_case_only_rename_changes_the_display_name_and_sends_no_fallback() -> None:
    chat = room()
    chat.send("op", "PRIVMSG #a :hello")
    chat.send("op", "RENAME #A #A louder")
    assert seen(chat, "bob", CAPABLE) == [":op!~op@host RENAME #a #A louder"]
    assert seen(chat, "bob", PLAIN) == []
    world = chat.state.plugin_world()
    channel = world.channel("#a")
    assert channel is not None and channel.name == "#A"
    assert list(world.channels) == ["#a"]  # keyed by the folded name, as before
    assert history(chat, "bob", "#a")[-1] == ":op!~op@host PRIVMSG #A hello"
    chat.send("op", "RENAME #a #A")  # the same name again: nothing to do
    assert chat.applied is not None and list(chat.applied.deliveries) == []


def test_history_follows_the_channel_and_comes_back_under_its_new_name() -> None:
    chat = room()
    chat.send("bob", "PRIVMSG #a :one")
    chat.send("carol", "PRIVMSG #a :two")
    chat.send("op", "RENAME #a #b moved")
    chat.send("bob", "PRIVMSG #b three")
    assert history(chat, "carol", "#b") == [
        ":bob!~bob@host PRIVMSG #b one",
        ":carol!~carol@host PRIVMSG #b two",
        ":bob!~bob@host PRIVMSG #b three",
    ]
    events = history(chat, "carol", "#b", events=True)
    assert ":op!~op@host RENAME #a #b moved" in events
    assert ":bob!~bob@host JOIN #b" in events  # kept as #a's, shown under its name now
    # the old name is free: no channel, no history, anyone may create it afresh
    assert history(chat, "carol", "#a") == []
    assert codes(chat.send("dave", "JOIN #a"), "dave")[:1] == ["JOIN"]
    assert history(chat, "dave", "#a") == []


def test_a_new_name_with_history_of_a_channel_gone_starts_from_the_renamed_one() -> None:
    chat = room()
    chat.send("dave", "JOIN #b")
    chat.send("dave", "PRIVMSG #b :old #b")
    chat.send("dave", "PART #b")
    assert chat.state.plugin_world().channel("#b") is None
    chat.send("bob", "PRIVMSG #a :kept")
    chat.send("op", "RENAME #a #b")
    assert history(chat, "bob", "#b") == [":bob!~bob@host PRIVMSG #b kept"]


def test_members_channel_sets_follow_in_place() -> None:
    chat = room()
    chat.send("bob", "JOIN #c")
    chat.send("bob", "JOIN #d")
    chat.send("op", "RENAME #a #b")
    world = chat.state.plugin_world()
    assert list(world.users["bob"].channels) == ["#b", "#c", "#d"]
    assert list(world.users["op"].channels) == ["#b"]
    assert list(world.channels) == ["#b", "#c", "#d"]
    said = chat.send("bob", "PRIVMSG #b :still here")
    assert to(said, "carol") == [":bob!~bob@host PRIVMSG #b :still here"]
    chat.send("carol", "PART #b")
    assert list(world.users["carol"].channels) == []


def test_modes_lists_topic_and_invitations_follow() -> None:
    chat = room()
    chat.send("op", "MODE #a +ik-t secret")
    chat.send("op", "MODE #a +b bad!*@*")
    chat.send("op", "TOPIC #a :kept topic")
    chat.send("op", "INVITE dave #a")
    chat.send("op", "RENAME #a #b")
    channel = chat.state.plugin_world().channel("#b")
    assert channel is not None
    assert channel.flags == "in" and channel.key == "secret"
    assert [b.mask for b in channel.bans] == ["bad!*@*"]
    assert channel.topic is not None and channel.topic.text == "kept topic"
    assert list(channel.invites) == ["dave"]
    joined = chat.send("dave", "JOIN #b")  # the invitation to #a lets dave into #b
    assert codes(joined, "dave")[:1] == ["JOIN"]


def test_the_snapshot_round_trips_and_two_replicas_agree() -> None:
    chat = room()
    chat.send("bob", "PRIVMSG #a :one")
    chat.send("op", "RENAME #a #b moved")
    chat.send("op", "RENAME #b #B")
    data = chat.state.snapshot()
    restored = ChatState.restore(data, chat.state.limits)
    assert restored.snapshot() == data
    channel = restored.plugin_world().channel("#b")
    assert channel is not None and channel.name == "#B"
    assert list(restored.plugin_world().users["bob"].channels) == ["#b"]
    one, two = ChatState(chat.state.limits), ChatState(chat.state.limits)
    for index, command in chat.log:
        assert one.apply(index, command).deliveries == two.apply(index, command).deliveries
    assert one.snapshot() == two.snapshot() == data


def _gap_seen(chat: Chat, since: int, session: str, caps: frozenset[str]) -> list[str]:
    """What a node that skipped the entries after ``since`` by a snapshot replays."""
    before = ChatState(chat.state.limits)
    for index, command in chat.log[:since]:
        before.apply(index, command)
    gap = chat.state.gap(before, since)
    return [show(d.message) for d in gap.missed(session) if given(d.needs, caps)]


def test_a_rename_skipped_by_a_snapshot_is_replayed_with_the_channels_messages() -> None:
    chat = room()
    since = chat.index
    chat.send("bob", "PRIVMSG #a :before it")
    chat.send("op", "RENAME #a #b moved")
    chat.send("carol", "PRIVMSG #b :after it")
    chat.send("dave", "JOIN #a")  # the old name again: another channel, bob is not in it
    chat.send("dave", "PRIVMSG #a :not for bob")
    assert _gap_seen(chat, since, "carol", CAPABLE) == [
        ":bob!~bob@host PRIVMSG #a :before it",
        ":op!~op@host RENAME #a #b moved",
        ":carol!~carol@host PRIVMSG #b :after it",
    ]
    assert _gap_seen(chat, since, "bob", PLAIN) == [
        ":bob!~bob@host PRIVMSG #a :before it",
        ":bob!~bob@host PART #a moved",
        ":bob!~bob@host JOIN #b",
        ":carol!~carol@host PRIVMSG #b :after it",
    ]


def test_the_channels_plugin_policy_follows() -> None:
    chat = room()
    world = chat.state.plugin_world()
    world.plugin_data[POLICY_STORE] = {"#a": ["bots"], "#z": ["chatlog"]}
    chat.send("op", "RENAME #a #b")
    assert world.plugin_data[POLICY_STORE] == {"#z": ["chatlog"], "#b": ["bots"]}
