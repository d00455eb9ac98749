"""Read-only commands answered from the local replica."""

from __future__ import annotations

from tests.chat.helpers import Chat, parse
from twistedchat.chat.command import REGISTER
from twistedchat.chat.commands import is_write
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.outbox import server_time
from twistedchat.chat.state import DEFAULT_LIMITS, ChatState
from twistedchat.wire.message import Message


def make() -> Chat:
    chat = Chat()
    chat.users("alice", "bob", "carol")
    chat.send("alice", "JOIN #a,#b")
    chat.send("bob", "JOIN #a")
    chat.send("alice", "TOPIC #a :the topic")
    return chat


def test_is_write_routes_commands() -> None:
    writes = ["NICK x", "JOIN #a", "PART #a", "PRIVMSG a :b", "NOTICE a :b", "TAGMSG a",
              "KICK #a b", "INVITE a #b", "AWAY", "QUIT", "TOPIC #a :x", "TOPIC #a :",
              "MODE #a +m", "MODE #a +b x", "MODE me +i", "MODE #a -b", "MODE me b"]  # fmt: skip
    reads = ["TOPIC #a", "MODE #a", "MODE #a b", "MODE #a +b", "MODE me", "NAMES #a", "WHO *",
             "WHOIS a", "WHOWAS a", "LIST", "ISON a", "USERHOST a", "LUSERS", "FROB"]  # fmt: skip
    assert [line for line in writes if not is_write(parse(line))] == []
    assert [line for line in reads if is_write(parse(line))] == []
    assert ChatState().is_write(Message("privmsg", ("a", "b")))


def test_unknown_command_and_unregistered_session() -> None:
    chat = make()
    assert chat.query("alice", "FROBNICATE now") == [":srv 421 alice FROBNICATE :Unknown command"]
    assert chat.query("ghost", "NAMES #a") == [":srv 451 * :You have not registered"]


def test_names() -> None:
    chat = make()
    assert chat.query("carol", "NAMES #a,#none") == [
        ":srv 353 carol = #a :@alice bob",
        ":srv 366 carol #a :End of /NAMES list",
        ":srv 366 carol #none :End of /NAMES list",
    ]
    assert chat.query("carol", "NAMES") == [":srv 366 carol * :End of /NAMES list"]


def test_names_hides_invisible_users_from_outsiders_only() -> None:
    chat = make()
    chat.send("bob", "MODE bob +i")
    assert chat.query("carol", "NAMES #a")[0] == ":srv 353 carol = #a @alice"
    assert chat.query("alice", "NAMES #a")[0] == ":srv 353 alice = #a :@alice bob"


def test_long_names_lists_are_split() -> None:
    chat = Chat(ChatLimits(nicklen=30))
    nicks = [f"user{i:02d}" + "x" * 20 for i in range(40)]
    for nick in nicks:
        chat.connect(nick, nick)
        chat.send(nick, "JOIN #big")
    replies = chat.state.query(nicks[0], parse("NAMES #big"), "irc.test")
    assert len(replies) > 2 and all(len(" ".join(m.params)) < 450 for m in replies)
    listed = " ".join(m.params[-1] for m in replies[:-1]).split()
    assert [name.lstrip("@").partition("!")[0] for name in listed] == nicks  # nick!user@host


def test_list_with_filters() -> None:
    chat = make()
    assert chat.query("carol", "LIST") == [
        ":srv 321 carol Channel :Users  Name",
        ":srv 322 carol #a 2 :the topic",
        ":srv 322 carol #b 1 :",
        ":srv 323 carol :End of /LIST",
    ]
    assert [line.split()[3] for line in chat.query("carol", "LIST >1")[1:-1]] == ["#a"]
    assert [line.split()[3] for line in chat.query("carol", "LIST <2")[1:-1]] == ["#b"]
    assert [line.split()[3] for line in chat.query("carol", "LIST #B,#none")[1:-1]] == ["#b"]


def test_who_channel_and_mask() -> None:
    chat = make()
    chat.send("bob", "AWAY :out")
    assert chat.query("carol", "WHO #a") == [
        ":srv 352 carol #a ~alice host irc.test alice H@ :0 Real alice",
        ":srv 352 carol #a ~bob host irc.test bob G :0 Real bob",
        ":srv 315 carol #a :End of WHO list",
    ]
    assert chat.query("carol", "WHO b*") == [
        ":srv 352 carol * ~bob host irc.test bob G :0 Real bob",
        ":srv 315 carol b* :End of WHO list",
    ]
    assert len(chat.query("carol", "WHO *real*")) == 4  # realname matches too
    assert len(chat.query("carol", "WHO 0")) == 4


def test_who_hides_invisible_users_unless_a_channel_is_shared() -> None:
    chat = make()
    chat.send("bob", "MODE bob +i")
    assert chat.query("carol", "WHO b*") == [":srv 315 carol b* :End of WHO list"]
    assert len(chat.query("carol", "WHO bob")) == 2  # an exact nick is not a mask
    assert len(chat.query("alice", "WHO b*")) == 2
    assert len(chat.query("bob", "WHO bob")) == 2


def test_whois() -> None:
    chat = make()
    chat.send("alice", "MODE #b +s")
    chat.send("alice", "AWAY :busy")
    assert chat.query("carol", "WHOIS alice") == [
        ":srv 311 carol alice ~alice host * :Real alice",
        ":srv 319 carol alice @#a",
        ":srv 312 carol alice irc.test :twistedchat, a Raft-replicated IRC server",
        ":srv 301 carol alice busy",
        ":srv 318 carol alice :End of /WHOIS list",
    ]
    assert chat.query("alice", "WHOIS irc.test ALICE")[1] == ":srv 319 alice alice :@#a @#b"
    assert chat.query("carol", "WHOIS nobody") == [
        ":srv 401 carol nobody :No such nick/channel",
        ":srv 318 carol nobody :End of /WHOIS list",
    ]
    assert chat.query("carol", "WHOIS") == [":srv 431 carol :No nickname given"]


def test_whowas_newest_first_with_count() -> None:
    chat = make()
    chat.send("bob", "NICK bobby")
    renamed_at = chat.time
    chat.connect("bob2", "bob", host="elsewhere")
    chat.send("bob2", "QUIT :bye")
    assert chat.query("carol", "WHOWAS BOB") == [
        ":srv 314 carol bob ~bob elsewhere * :Real bob",
        f":srv 312 carol bob irc.test {server_time(chat.time)}",
        ":srv 314 carol bob ~bob host * :Real bob",
        f":srv 312 carol bob irc.test {server_time(renamed_at)}",
        ":srv 369 carol BOB :End of WHOWAS",
    ]
    assert len(chat.query("carol", "WHOWAS bob 1")) == 3
    assert chat.query("carol", "WHOWAS zed") == [
        ":srv 406 carol zed :There was no such nickname",
        ":srv 369 carol zed :End of WHOWAS",
    ]


def test_whowas_is_bounded() -> None:
    chat = Chat(ChatLimits(whowas=3))
    chat.users("alice")
    for i in range(5):
        chat.send("alice", f"NICK alice{i}")
    found = [
        chat.query("alice", f"WHOWAS {n}")[0].split()[1] for n in ("alice0", "alice1", "alice4")
    ]
    assert found == ["406", "314", "406"]  # alice4 is the current nick, not history


def test_ison_and_userhost() -> None:
    chat = make()
    chat.send("bob", "AWAY :out")
    assert chat.query("carol", "ISON ALICE nobody bob") == [":srv 303 carol :alice bob"]
    assert chat.query("carol", "ISON :alice bob") == [":srv 303 carol :alice bob"]
    assert chat.query("carol", "USERHOST alice bob nobody") == [
        ":srv 302 carol :alice=+~alice@host bob=-~bob@host"
    ]
    assert chat.query("carol", "ISON") == [":srv 461 carol ISON :Not enough parameters"]


def test_topic_query() -> None:
    chat = make()
    replies = chat.query("carol", "TOPIC #a")
    assert replies[0] == ":srv 332 carol #a :the topic"
    assert replies[1].startswith(":srv 333 carol #a alice!~alice@host ")
    assert chat.query("carol", "TOPIC #b") == [":srv 331 carol #b :No topic is set"]
    assert chat.query("carol", "TOPIC #none") == [":srv 403 carol #none :No such channel"]
    assert chat.query("carol", "TOPIC") == [":srv 461 carol TOPIC :Not enough parameters"]


def test_lusers_counts_users_channels_nodes() -> None:
    chat = make()
    chat.reset("n2")
    chat.connect("d", "dave", node="n2")
    chat.send("dave", "MODE dave +i")
    chat.send("d", "MODE dave +i")
    assert chat.query("alice", "LUSERS") == [
        ":srv 251 alice :There are 3 users and 1 invisible on 2 servers",
        ":srv 254 alice 2 :channels formed",
        ":srv 255 alice :I have 3 clients and 1 servers",
        ":srv 265 alice 3 3 :Current local users 3, max 3",
        ":srv 266 alice 4 4 :Current global users 4, max 4",
    ]
    chat.send("bob", "QUIT :bye")
    assert chat.query("d", "LUSERS")[3:] == [
        ":srv 265 dave 1 1 :Current local users 1, max 1",
        ":srv 266 dave 3 4 :Current global users 3, max 4",
    ]


def test_links_lists_the_clusters_nodes_as_servers() -> None:
    chat = Chat()
    chat.reset("n2", "127.0.0.2:6667", server="irc.two")
    chat.reset("n1", "127.0.0.1:6667", server="irc.one")
    chat.reset("n3", "127.0.0.3:6667")  # an older node: its NODE-RESET names no server
    chat.connect("alice", "alice", node="n1")
    assert chat.query("alice", "LINKS", server="irc.one") == [
        ":srv 364 alice irc.one irc.one :0 twistedchat node n1, 1 users",
        ":srv 364 alice irc.two irc.one :1 twistedchat node n2, 0 users",
        ":srv 364 alice n3 irc.one :1 twistedchat node n3, 0 users",
        ":srv 365 alice * :End of /LINKS list",
    ]


def test_whois_and_who_name_the_server_the_user_is_on_not_the_one_asked() -> None:
    chat = Chat()
    chat.reset("n1", server="irc.one")
    chat.reset("n2", server="irc.two")
    chat.connect("alice", "alice", node="n1")
    chat.connect("bob", "bob", node="n2")
    assert " 312 alice bob irc.two :" in " ".join(chat.query("alice", "WHOIS bob", "irc.one"))
    assert " irc.two bob H :0 " in chat.query("alice", "WHO bob", "irc.one")[0]
    assert chat.query("alice", "WHO bob %s", "irc.one")[0].endswith(" 354 alice irc.two")
    restored = ChatState.restore(chat.state.snapshot(), DEFAULT_LIMITS)
    assert restored.query("alice", parse("WHOIS bob"), "irc.one") == chat.state.query(
        "alice", parse("WHOIS bob"), "irc.one"
    )


def test_whox_gives_the_requested_fields_in_whox_order_with_the_token() -> None:
    chat = Chat()
    chat.users("op", "bob")
    chat.internal("bob", REGISTER, "bob", "scrypt$00$11")
    for nick in ("op", "bob"):
        chat.send(nick, "JOIN #c")
    chat.send("op", "MODE #c +v op")
    replies = chat.state.query("bob", parse("WHO #c %tuhnairf,1"), "irc.test")
    assert [m.params for m in replies[:-1]] == [
        ("bob", "1", "~op", "255.255.255.255", "host", "op", "H@", "0", "Real op"),
        ("bob", "1", "~bob", "255.255.255.255", "host", "bob", "H", "bob", "Real bob"),
    ]
    assert replies[0].command == "354" and replies[-1].command == "315"
    (row, _) = chat.state.query("bob", parse("WHO op %cn"), "irc.test")
    assert row.params == ("bob", "*", "op")


def test_elist_filters_by_mask_creation_and_topic_age() -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #old-chat")
    chat.send("alice", "TOPIC #old-chat :ancient")
    chat.time += 30 * 60_000  # half an hour of log time
    chat.send("alice", "JOIN #new-chat,#test")

    def listed(filters: str) -> list[str]:
        return [line.split()[3] for line in chat.query("alice", f"LIST {filters}")[1:-1]]

    assert listed("*chat*") == ["#old-chat", "#new-chat"]
    assert listed("!*chat*") == ["#test"]
    assert listed("C>10") == ["#old-chat"]
    assert listed("C<10") == ["#new-chat", "#test"]
    assert listed("T>10") == ["#old-chat"] and listed("T<10") == []  # no topic, no age
    assert listed("*chat*,C<10") == ["#new-chat"]  # several filters: all must hold
