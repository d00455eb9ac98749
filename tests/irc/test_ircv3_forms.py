"""multi-prefix, userhost-in-names, extended-join, away-notify and setname: what each
client gets of one rich message (``capabilities.for_client``), over real connections."""

from __future__ import annotations

from tests.memorylog import Server
from twistedchat.irc.capabilities import SUPPORTED, for_client
from twistedchat.wire.message import Message

NAMES = Message("353", ("me", "=", "#a", "@+op!~op@h +voice!~v@h plain!~p@h"))
JOIN = Message("JOIN", ("#a", "acct", "Real Name"), "n!~u@h")


def test_names_are_cut_to_what_the_client_asked_for() -> None:
    def names(*caps: str) -> str:
        shown = for_client(NAMES, set(caps))
        assert shown is not None
        return shown.params[-1]

    assert names() == "@op +voice plain"
    assert names("multi-prefix") == "@+op +voice plain"
    assert names("userhost-in-names") == "@op!~op@h +voice!~v@h plain!~p@h"
    assert names("multi-prefix", "userhost-in-names") == NAMES.params[-1]


def test_who_and_whois_keep_the_highest_prefix_without_multi_prefix() -> None:
    who = Message("352", ("me", "#a", "~op", "h", "srv", "op", "G*@+", "0 Real"))
    assert for_client(who, set()).params[6] == "G*@"  # type: ignore[union-attr]
    assert for_client(who, {"multi-prefix"}) == who
    whois = Message("319", ("me", "op", "@+#a +#b #c"))
    assert for_client(whois, set()).params[-1] == "@#a +#b #c"  # type: ignore[union-attr]


def test_join_is_extended_only_for_extended_join() -> None:
    assert for_client(JOIN, set()) == Message("JOIN", ("#a",), "n!~u@h")
    assert for_client(JOIN, {"extended-join"}) == JOIN


def test_away_and_setname_notices_need_their_capability() -> None:
    away, setname = Message("AWAY", ("lunch",), "n!~u@h"), Message("SETNAME", ("R",), "n!~u@h")
    assert for_client(away, set()) is None and for_client(away, {"away-notify"}) == away
    assert for_client(setname, set()) is None and for_client(setname, {"setname"}) == setname


def test_the_capabilities_are_offered() -> None:
    caps = {"multi-prefix", "userhost-in-names", "extended-join", "away-notify", "setname"}
    assert caps <= set(SUPPORTED)
    server = Server()
    client = server.connect()
    client.send("CAP LS 302")
    offered = " ".join(line for line in client.lines() if " CAP " in line)
    assert all(cap in offered.split(" ") or f":{cap}" in offered for cap in caps)


def test_each_connection_gets_its_own_form_of_a_join_and_its_names() -> None:
    server = Server()
    rich = server.register("rich", caps=("multi-prefix", "userhost-in-names", "extended-join"))
    plain = server.register("plain")
    rich.send("JOIN #a", "MODE #a +v rich")
    plain.send("JOIN #a")
    assert plain.has(" 353 plain = #a :@rich plain")
    assert rich.has(":plain!~plain@192.168.1.1 JOIN #a * :Real plain")
    rich.clear()
    rich.send("NAMES #a")
    assert rich.has(" 353 rich = #a :@+rich!~rich@192.168.1.1 plain!~plain@192.168.1.1")


def test_away_notify_and_setname_reach_only_those_who_asked() -> None:
    server = Server()
    notified = server.register("notified", caps=("away-notify", "setname"))
    plain = server.register("plain")
    bob = server.register("bob", caps=("setname",))
    for client in (notified, plain, bob):
        client.send("JOIN #a")
    notified.clear()
    plain.clear()
    bob.send("AWAY :out", "SETNAME :Bob B")
    assert notified.has(":bob!~bob@192.168.1.1 AWAY :out")
    assert notified.has(":bob!~bob@192.168.1.1 SETNAME :Bob B")
    assert bob.has(":bob!~bob@192.168.1.1 SETNAME :Bob B")  # its own change, acknowledged
    assert plain.lines() == []
    plain.send("WHO bob")
    assert plain.has(" 352 plain * ~bob 192.168.1.1 irc.test bob G :0 Bob B")


def test_a_bot_is_marked_by_isupport_who_and_the_bot_tag_for_tagged_clients() -> None:
    server = Server()
    bot = server.register("beepbot")
    tagged = server.register("tagged", caps=("message-tags",))
    plain = server.register("plain")
    for client in (bot, tagged, plain):
        client.send("JOIN #a")
    bot.send("MODE beepbot +B", "PRIVMSG #a :beep")
    (line,) = [x for x in tagged.lines() if x.endswith("PRIVMSG #a :beep")]
    assert "bot" in line[1:].split(" ")[0].split(";")
    assert plain.lines()[-1] == ":beepbot!~beepbot@192.168.1.1 PRIVMSG #a :beep"
    client = server.connect()
    client.send("NICK n", "USER n 0 * :N")
    assert any(" BOT=B " in x for x in client.lines())


def test_invite_notify_reaches_members_who_asked_and_the_invitee_always() -> None:
    server = Server()
    op = server.register("op")
    told = server.register("told", caps=("invite-notify",))
    untold = server.register("untold")
    dave = server.register("dave")
    for client in (op, told, untold):
        client.send("JOIN #a")
    told.clear()
    untold.clear()
    op.send("INVITE dave #a")
    assert dave.lines()[-1] == ":op!~op@192.168.1.1 INVITE dave #a"
    assert told.lines() == [":op!~op@192.168.1.1 INVITE dave #a"]
    assert untold.lines() == []
    assert "INVITE" not in " ".join(op.lines()[-1:])  # the inviter gets 341, not the notice


def test_no_implicit_names_turns_off_the_names_after_a_join_only() -> None:
    server = Server()
    quiet = server.register("quiet", caps=("draft/no-implicit-names", "labeled-response"))
    plain = server.register("plain")
    plain.send("TOPIC #a :t", "JOIN #a", "TOPIC #a :hello")
    plain.clear()
    quiet.send("@label=j JOIN #a")
    lines = quiet.lines()
    assert any(" JOIN #a" in x for x in lines) and any(" 332 quiet #a hello" in x for x in lines)
    assert not any(" 353 " in x or " 366 " in x for x in lines), lines
    assert plain.has(" JOIN #a")
    quiet.send("NAMES #a")  # asked for: answered
    assert quiet.has(" 353 quiet = #a :@plain quiet")
    again = server.register("again")
    again.send("JOIN #a")
    assert again.has(" 353 again = #a :@plain quiet again")
