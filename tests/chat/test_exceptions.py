"""Ban exceptions (+e), invite exceptions (+I) and extbans ($a accounts, $m mutes)."""

from __future__ import annotations

import json

import pytest

from tests.chat.helpers import Chat, codes, to
from twistedchat.chat.command import REGISTER
from twistedchat.chat.commands import lookup
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState

HASH = "scrypt$00$11"


def make(limits: ChatLimits | None = None) -> Chat:
    """op holds #a; bob and carol are registered but outside it."""
    chat = Chat(limits)
    chat.users("op", "bob", "carol")
    chat.send("op", "JOIN #a")
    return chat


def joined(chat: Chat, session: str, line: str = "JOIN #a") -> str:
    """The first command ``session`` got back for ``line``: JOIN or a refusal numeric."""
    return codes(chat.send(session, line), session)[0]


def test_a_ban_exception_lets_a_banned_user_join() -> None:
    chat = make()
    chat.send("op", "MODE #a +b *!*@host")
    assert joined(chat, "bob") == "474"
    out = chat.send("op", "MODE #a +e bob")
    assert to(out, "op") == [":op!~op@host MODE #a +e bob!*@*"]
    assert joined(chat, "bob") == "JOIN"
    assert joined(chat, "carol") == "474"


def test_an_invite_exception_lets_an_uninvited_user_past_invite_only_and_nothing_else() -> None:
    chat = make()
    chat.send("op", "MODE #a +i")
    assert joined(chat, "bob") == "473"
    assert to(chat.send("op", "MODE #a +I ~bob@*"), "op") == [":op!~op@host MODE #a +I *!~bob@*"]
    assert joined(chat, "bob") == "JOIN"
    assert joined(chat, "carol") == "473"
    chat.send("bob", "PART #a")
    chat.send("op", "MODE #a +k sesame")
    assert joined(chat, "bob") == "475"  # +I is no invitation: the key still counts
    assert joined(chat, "bob", "JOIN #a sesame") == "JOIN"
    chat.send("bob", "PART #a")
    chat.send("op", "MODE #a +b bob")
    assert joined(chat, "bob", "JOIN #a sesame") == "474"  # nor does it lift a ban


def test_list_requests_are_queries_answered_with_their_numerics() -> None:
    chat = make()
    chat.send("op", "MODE #a +eI bob carol")
    exceptions = chat.query("op", "MODE #a e")
    assert [line.split()[1:5] for line in exceptions] == [
        ["348", "op", "#a", "bob!*@*"],
        ["349", "op", "#a", ":End"],
    ]
    assert exceptions[0].split()[5] == "op!~op@host"
    assert chat.query("op", "MODE #a +e") == exceptions
    assert chat.query("op", "MODE #a I") == [
        exceptions[0].replace(" 348 ", " 346 ").replace("bob!", "carol!"),
        ":srv 347 op #a :End of Channel Invite Exception List",
    ]
    assert chat.query("op", "MODE #a +b") == [":srv 368 op #a :End of channel ban list"]
    mode = lookup("MODE")
    assert mode is not None
    for params in (("#a", "e"), ("#a", "+e"), ("#a", "I"), ("#a", "+I"), ("#a", "b")):
        assert not mode.is_write(params), params
    for params in (("#a", "+e", "x"), ("#a", "-I"), ("#a", "eI"), ("#a", "+"), ("#a", "E")):
        assert mode.is_write(params), params


def test_only_operators_see_the_exception_lists() -> None:
    """As on Solanum and Ergo: anyone may list the bans, only operators the exceptions."""
    chat = make()
    chat.send("bob", "JOIN #a")
    chat.send("op", "MODE #a +e carol")
    refusal = ":srv 482 bob #a :You're not channel operator"
    assert chat.query("bob", "MODE #a e") == [refusal]
    assert chat.query("bob", "MODE #a +I") == [refusal]
    assert chat.query("carol", "MODE #a e") == [refusal.replace("bob", "carol")]
    assert chat.query("bob", "MODE #a b") == [":srv 368 bob #a :End of channel ban list"]
    # through the log (a mode string that is not a bare list request): one 482, in order
    assert codes(chat.send("bob", "MODE #a beI"), "bob") == ["368", "482"]
    assert codes(chat.send("op", "MODE #a eIe"), "op") == ["348", "349", "347"]  # each once


def test_only_operators_set_exceptions() -> None:
    chat = make()
    chat.send("bob", "JOIN #a")
    for line in ("MODE #a +e bob", "MODE #a +I bob", "MODE #a -e op", "MODE #a +b-e x y"):
        assert to(chat.send("bob", line), "bob") == [":srv 482 bob #a :You're not channel operator"]
    assert chat.query("op", "MODE #a e")[0].split()[1] == "349"


def test_masks_are_normalised_deduplicated_and_removed_like_bans() -> None:
    chat = make()
    out = chat.send("op", "MODE #a +eIb user@host BOB $A:Bob")
    assert to(out, "op") == [":op!~op@host MODE #a +eIb *!user@host BOB!*@* $a:Bob"]
    assert chat.send("op", "MODE #a +e *!USER@HOST") == []  # there, case-insensitively
    assert chat.send("op", "MODE #a +I bob!*@*") == []
    assert chat.send("op", "MODE #a +b $a:BOB") == []
    out = chat.send("op", "MODE #a -eI USER@host bob")
    assert to(out, "op") == [":op!~op@host MODE #a -eI *!user@host BOB!*@*"]
    assert chat.send("op", "MODE #a -e user@host") == []
    out = chat.send("op", "MODE #a +bbb $a: $M:troll $m:$A:spam*")
    assert to(out, "op") == [":op!~op@host MODE #a +bbb $a $m:troll!*@* $m:$a:spam*"]
    assert to(chat.send("op", "MODE #a -b $m:TROLL"), "op") == [
        ":op!~op@host MODE #a -b $m:troll!*@*"
    ]


def test_maxlist_counts_the_three_lists_together() -> None:
    chat = make(ChatLimits(maxlist=3))
    chat.send("op", "MODE #a +beI x y z")
    out = chat.send("op", "MODE #a +beI w v u")
    assert to(out, "op") == [
        ":srv 478 op #a b :Channel ban list is full",
        ":srv 478 op #a e :Channel exception list is full",
        ":srv 478 op #a I :Channel invite exception list is full",
    ]
    chat.send("op", "MODE #a -b x")
    assert to(chat.send("op", "MODE #a +I u"), "op") == [":op!~op@host MODE #a +I u!*@*"]


def test_an_account_extban_matches_the_accounts_logged_in() -> None:
    chat = make()
    chat.users("dave")
    chat.internal("bob", REGISTER, "bob", HASH)
    chat.internal("dave", REGISTER, "dave", HASH)
    chat.send("op", "MODE #a +b $a:B*")
    assert joined(chat, "bob") == "474"
    assert joined(chat, "dave") == "JOIN"
    assert joined(chat, "carol") == "JOIN"
    chat.send("op", "MODE #a -b+b $a:B* $a")  # anyone logged in
    chat.send("dave", "PART #a")
    chat.send("carol", "PART #a")
    assert joined(chat, "dave") == "474"
    assert joined(chat, "carol") == "JOIN"  # not logged in
    chat.send("op", "MODE #a +e $a:dave")
    assert joined(chat, "dave") == "JOIN"
    chat.send("op", "MODE #a -b+i $a")
    assert joined(chat, "bob") == "473"
    chat.send("op", "MODE #a +I $a:bob")
    assert joined(chat, "bob") == "JOIN"


def test_an_account_extban_does_not_match_a_nick_of_that_name() -> None:
    chat = make()
    chat.send("op", "MODE #a +b $a:bob")
    assert joined(chat, "bob") == "JOIN"  # bob is nobody's account: not logged in


def test_a_mute_stops_speaking_not_joining_and_voice_or_an_exception_lifts_it() -> None:
    chat = make()
    chat.send("op", "MODE #a +b $m:bob")
    assert joined(chat, "bob") == "JOIN"
    refused = [":srv 404 bob #a :Cannot send to channel"]
    assert to(chat.send("bob", "PRIVMSG #a :hi"), "bob") == refused
    assert to(chat.send("bob", "TAGMSG #a"), "bob") == refused
    assert codes(chat.send("bob", "NOTICE #a :hi"), "op") == []  # NOTICE: refused silently
    chat.send("op", "MODE #a +v bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]
    chat.send("op", "MODE #a -v bob")
    assert to(chat.send("bob", "PRIVMSG #a :hi"), "bob") == refused
    chat.send("op", "MODE #a +e ~bob@*")  # any exception lifts a mute
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]
    chat.send("op", "MODE #a -e+e ~bob@* $m:bob")  # and so does a mute exception
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]
    assert codes(chat.send("carol", "PRIVMSG #a :hi"), "op") == []  # +n: carol is outside


def test_a_mute_silences_outsiders_of_a_channel_open_to_them() -> None:
    chat = make()
    chat.send("op", "MODE #a -n+b $m:$a")
    chat.internal("bob", REGISTER, "bob", HASH)
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "bob") == ["404"]
    assert codes(chat.send("carol", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]


def test_a_mute_exception_lifts_mutes_only() -> None:
    chat = make()
    chat.send("op", "MODE #a +be bob $m:bob")
    assert joined(chat, "bob") == "474"


def test_a_ban_silences_a_member_who_joined_before_it_unless_excepted() -> None:
    chat = make()
    chat.send("bob", "JOIN #a")
    chat.send("op", "MODE #a +b bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "bob") == ["404"]
    chat.send("op", "MODE #a +e $m:bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "bob") == ["404"]  # a ban, not a mute
    chat.send("op", "MODE #a +e bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]


@pytest.mark.parametrize(
    ("line", "mask", "why"),
    [
        ("MODE #a +b $x:foo", "$x:foo", "Unknown extban type"),
        ("MODE #a +e $", "$", "Unknown extban type"),
        ("MODE #a +b $ab", "$ab", "Unknown extban type"),
        ("MODE #a +b $~a", "$~a", "Unknown extban type"),  # no negation (Solanum's $~a)
        ("MODE #a +I $m:bob", "$m:bob", "A mute ($m) only means something in +b or +e"),
        ("MODE #a +b $m", "$m", "A mute needs a mask: $m:<mask>"),
        ("MODE #a +b $m:", "$m:", "A mute needs a mask: $m:<mask>"),
        ("MODE #a +b $m:$m:x", "$m:$m:x", "A mute ($m) takes a hostmask or an account"),
    ],
)
def test_unknown_and_misplaced_extbans_are_refused(line: str, mask: str, why: str) -> None:
    chat = make()
    (reply,) = to(chat.send("op", line), "op")
    letter = line.split()[2][1]
    assert reply.startswith(f":srv 696 op #a {letter} {mask} :{why}")
    assert chat.query("op", f"MODE #a {letter}")[0].split()[1] in ("368", "349", "347")


def test_unknown_extban_text_names_the_known_types() -> None:
    chat = make()
    assert to(chat.send("op", "MODE #a +b $x:foo"), "op") == [
        ":srv 696 op #a b $x:foo :Unknown extban type; this server knows $a (account) and $m (mute)"
    ]
    assert chat.send("op", "MODE #a -b $x:foo") == []  # nothing to remove, nothing said


def test_the_lists_survive_a_snapshot_and_an_older_snapshot_still_loads() -> None:
    chat = make()
    chat.send("op", "MODE #a +ieIb bob carol $m:bob")
    snapshot = chat.state.snapshot()
    chat.state = ChatState.restore(snapshot, ChatLimits())
    assert chat.state.snapshot() == snapshot
    for letter, mask in (("e", "bob!*@*"), ("I", "carol!*@*"), ("b", "$m:bob!*@*")):
        assert chat.query("op", f"MODE #a {letter}")[0].split()[4] == mask
    assert joined(chat, "carol") == "JOIN"
    assert joined(chat, "bob") == "473"
    chat.send("op", "MODE #a -i")
    assert joined(chat, "bob") == "JOIN"
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]  # excepted
    chat.send("op", "MODE #a -e bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "bob") == ["404"]
    # a snapshot written before +e and +I existed has neither field
    doc = json.loads(snapshot)
    for channel in doc["channels"]:
        del channel["excepts"], channel["invexes"]
    older = ChatState.restore(json.dumps(doc).encode(), ChatLimits())
    (channel,) = json.loads(older.snapshot())["channels"]
    assert (channel["excepts"], channel["invexes"], channel["bans"][0][0]) == ([], [], "$m:bob!*@*")


def test_a_channel_holding_only_exceptions_outlives_its_members() -> None:
    chat = make()
    chat.send("op", "MODE #a +I carol")
    chat.send("op", "PART #a")
    assert chat.state.channel_count() == 1
