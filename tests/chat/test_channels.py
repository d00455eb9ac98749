"""JOIN, PART, KICK, INVITE and TOPIC, with each of their error numerics."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, recipients, to
from twistedchat.chat.limits import ChatLimits


def test_first_joiner_creates_the_channel_as_operator_with_nt() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    out = chat.send("alice", "JOIN #Room")
    assert to(out, "alice") == [
        ":alice!~alice@host JOIN #Room",
        ":srv MARKREAD #Room *",  # draft/read-marker (the connection drops it for others)
        ":srv 353 alice = #Room @alice",
        ":srv 366 alice #Room :End of /NAMES list",
    ]
    out = chat.send("bob", "JOIN #room")
    assert recipients(out, "JOIN") == ["alice", "bob"]
    assert to(out, "alice") == [":bob!~bob@host JOIN #Room"]  # the channel's own spelling
    assert to(out, "bob")[2:] == [
        ":srv 353 bob = #Room :@alice bob",
        ":srv 366 bob #Room :End of /NAMES list",
    ]
    assert chat.query("bob", "MODE #room")[0] == ":srv 324 bob #Room +nt"


def test_join_sends_topic_before_names() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("alice", "TOPIC #a :hello world")
    out = chat.send("bob", "JOIN #a")
    topic_time = str((chat.time - 1000) // 1000)
    assert to(out, "bob")[2:4] == [
        ":srv 332 bob #a :hello world",
        f":srv 333 bob #a alice!~alice@host {topic_time}",
    ]
    assert codes(out, "bob")[4:] == ["353", "366"]


def test_join_several_with_keys_and_join_zero() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a,#b")
    chat.send("alice", "MODE #a +k ka")
    chat.send("alice", "MODE #b +k kb")
    out = chat.send("bob", "JOIN #a,#b,#c ka,wrong")
    joined = ["JOIN", "MARKREAD", "353", "366"]
    assert codes(out, "bob") == [*joined, "475", *joined]
    out = chat.send("bob", "JOIN 0")
    assert to(out, "bob") == [":bob!~bob@host PART #a", ":bob!~bob@host PART #c"]
    assert chat.state.channel_count() == 2  # #c had only default state


def test_join_bad_names() -> None:
    chat = Chat(ChatLimits(channellen=10))
    chat.users("alice")
    assert to(chat.send("alice", "JOIN nochan"), "alice") == [
        ":srv 403 alice nochan :No such channel"
    ]
    assert to(chat.send("alice", "JOIN #a\x07b"), "alice") == [
        ":srv 479 alice #a\x07b :Illegal channel name"
    ]
    assert codes(chat.send("alice", "JOIN #abcdefghij"), "alice") == ["479"]
    assert codes(chat.send("alice", "JOIN &local"), "alice") == ["JOIN", "MARKREAD", "353", "366"]


def test_join_is_refused_when_banned_invite_only_keyed_or_full() -> None:
    chat = Chat()
    chat.users("op", "bob")
    chat.send("op", "JOIN #a")
    chat.send("op", "MODE #a +b BOB!*@*")
    assert to(chat.send("bob", "JOIN #a"), "bob") == [":srv 474 bob #a :Cannot join channel (+b)"]
    chat.send("op", "MODE #a -b+i bob!*@*")
    assert to(chat.send("bob", "JOIN #a"), "bob") == [":srv 473 bob #a :Cannot join channel (+i)"]
    chat.send("op", "MODE #a -i+k secret")
    assert to(chat.send("bob", "JOIN #a"), "bob") == [":srv 475 bob #a :Cannot join channel (+k)"]
    chat.send("op", "MODE #a -k+l * 1")
    assert to(chat.send("bob", "JOIN #a secret"), "bob") == [
        ":srv 471 bob #a :Cannot join channel (+l)"
    ]
    chat.send("op", "MODE #a +l 2")
    assert codes(chat.send("bob", "JOIN #a"), "bob")[0] == "JOIN"


def test_ban_matches_user_and_host_with_rfc1459_casefolding() -> None:
    chat = Chat()
    chat.users("op")
    chat.connect("s", "Nick[1]", user="Who", host="Evil.Example")
    chat.send("op", "JOIN #a")
    chat.send("op", "MODE #a +b *!~WHO@*.example")
    assert codes(chat.send("s", "JOIN #a"), "s") == ["474"]
    chat.send("op", "MODE #a -b *!~who@*.EXAMPLE")
    chat.send("op", "MODE #a +b nick{1}")
    assert codes(chat.send("s", "JOIN #a"), "s") == ["474"]


def test_invite_lets_a_user_past_invite_only_key_and_limit_once() -> None:
    chat = Chat()
    chat.users("op", "bob", "carol")
    chat.send("op", "JOIN #a")
    chat.send("op", "MODE #a +ikl key 1")
    out = chat.send("op", "INVITE Bob #A")
    assert to(out, "op") == [":srv 341 op bob #a"]
    assert to(out, "bob") == [":op!~op@host INVITE bob #a"]
    assert codes(chat.send("bob", "JOIN #a"), "bob")[0] == "JOIN"
    chat.send("bob", "PART #a")
    assert codes(chat.send("bob", "JOIN #a"), "bob") == ["473"]  # the invitation was used


def test_invite_does_not_override_a_ban() -> None:
    chat = Chat()
    chat.users("op", "member", "bob")
    chat.send("op", "JOIN #a")
    chat.send("member", "JOIN #a")
    chat.send("op", "MODE #a +b bob")
    assert codes(chat.send("member", "INVITE bob #a"), "member") == ["341"]
    assert codes(chat.send("bob", "JOIN #a"), "bob") == ["474"]


def test_invite_errors() -> None:
    chat = Chat()
    chat.users("op", "bob", "carol")
    chat.send("op", "JOIN #a")
    chat.send("bob", "JOIN #a")
    assert codes(chat.send("carol", "INVITE bob"), "carol") == ["461"]
    assert to(chat.send("carol", "INVITE nobody #a"), "carol") == [
        ":srv 401 carol nobody :No such nick/channel"
    ]
    assert to(chat.send("carol", "INVITE bob #none"), "carol") == [
        ":srv 403 carol #none :No such channel"
    ]
    assert to(chat.send("carol", "INVITE bob #a"), "carol") == [
        ":srv 442 carol #a :You're not on that channel"
    ]
    assert to(chat.send("op", "INVITE bob #a"), "op") == [
        ":srv 443 op bob #a :is already on channel"
    ]
    assert codes(chat.send("bob", "INVITE carol #a"), "bob") == ["341"]  # -i: any member may
    chat.send("op", "MODE #a +i")
    assert to(chat.send("bob", "INVITE carol #a"), "bob") == [
        ":srv 482 bob #a :You're not channel operator"
    ]


def test_invite_to_an_away_user_says_so() -> None:
    chat = Chat()
    chat.users("op", "bob")
    chat.send("bob", "AWAY :lunch")
    chat.send("op", "JOIN #a")
    assert to(chat.send("op", "INVITE bob #a"), "op") == [
        ":srv 341 op bob #a",
        ":srv 301 op bob lunch",
    ]


def test_invites_per_channel_are_capped() -> None:
    chat = Chat(ChatLimits(maxlist=2))
    chat.users("op", "u1", "u2", "u3")
    chat.send("op", "JOIN #a")
    chat.send("op", "MODE #a +i")
    for nick in ("u1", "u2", "u3"):
        chat.send("op", f"INVITE {nick} #a")
    assert codes(chat.send("u1", "JOIN #a"), "u1") == ["473"]
    assert codes(chat.send("u3", "JOIN #a"), "u3")[0] == "JOIN"


def test_too_many_channels_per_user_gets_405() -> None:
    chat = Chat(ChatLimits(chanlimit=2))
    chat.users("alice")
    out = chat.send("alice", "JOIN #a,#b,#c")
    assert to(out, "alice")[-1] == ":srv 405 alice #c :You have joined too many channels"


def test_total_channel_limit_refuses_new_channels_but_not_existing_ones() -> None:
    chat = Chat(ChatLimits(max_channels=1))
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    assert to(chat.send("bob", "JOIN #b"), "bob") == [
        ":srv 437 bob #b :Cannot create channel: server channel limit reached"
    ]
    assert codes(chat.send("bob", "JOIN #a"), "bob")[0] == "JOIN"


def test_join_targets_beyond_targmax_get_407() -> None:
    chat = Chat(ChatLimits(targmax=2))
    chat.users("alice")
    out = chat.send("alice", "JOIN #a,#b,#c")
    assert codes(out, "alice")[0] == "407"
    assert to(out, "alice")[0] == ":srv 407 alice #c :Too many targets (at most 2)"
    assert recipients(out, "JOIN") == ["alice", "alice"]


def test_joining_twice_is_a_no_op() -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #a")
    assert chat.send("alice", "JOIN #A") == []


def test_part_with_reason_and_errors() -> None:
    chat = Chat()
    chat.users("alice", "bob")
    chat.send("alice", "JOIN #a")
    chat.send("bob", "JOIN #a")
    out = chat.send("bob", "PART #a,#none,#a :see you")
    assert recipients(out, "PART") == ["alice", "bob"]
    assert to(out, "alice") == [":bob!~bob@host PART #a :see you"]
    assert to(out, "bob")[1:] == [":srv 403 bob #none :No such channel"]
    assert to(chat.send("bob", "PART #a"), "bob") == [":srv 442 bob #a :You're not on that channel"]
    assert codes(chat.send("bob", "PART"), "bob") == ["461"]


def test_kick_several_users_with_reason_and_errors() -> None:
    chat = Chat(ChatLimits(kicklen=5))
    chat.users("op", "bob", "carol", "dave")
    for nick in ("op", "bob", "carol"):
        chat.send(nick, "JOIN #a")
    out = chat.send("op", "KICK #a bob,nobody,dave,carol :long reason")
    assert recipients(out, "KICK") == ["op", "bob", "carol", "op", "carol"]
    assert to(out, "op") == [
        ":op!~op@host KICK #a bob :long ",
        ":srv 401 op nobody :No such nick/channel",
        ":srv 441 op dave #a :They aren't on that channel",
        ":op!~op@host KICK #a carol :long ",
    ]
    kicks = [d.message.tags["msgid"] for d in out if d.message.command == "KICK"]
    assert len(set(kicks)) == 2
    assert chat.query("op", "NAMES #a")[0] == ":srv 353 op = #a @op"


def test_kick_defaults_to_the_kickers_nick_and_needs_op() -> None:
    chat = Chat()
    chat.users("op", "bob", "carol")
    for nick in ("op", "bob"):
        chat.send(nick, "JOIN #a")
    assert to(chat.send("bob", "KICK #a op"), "bob") == [
        ":srv 482 bob #a :You're not channel operator"
    ]
    assert to(chat.send("carol", "KICK #a op"), "carol") == [
        ":srv 442 carol #a :You're not on that channel"
    ]
    assert codes(chat.send("carol", "KICK #none op"), "carol") == ["403"]
    assert codes(chat.send("carol", "KICK #a"), "carol") == ["461"]
    assert to(chat.send("op", "KICK #a bob"), "bob") == [":op!~op@host KICK #a bob op"]


def test_kicking_oneself_ends_the_kick() -> None:
    chat = Chat()
    chat.users("op", "bob")
    chat.send("op", "JOIN #a")
    chat.send("bob", "JOIN #a")
    out = chat.send("op", "KICK #a op,bob")
    assert recipients(out, "KICK") == ["op", "bob"]
    assert codes(chat.send("bob", "PRIVMSG #a :still here"), "bob") == []


def test_topic_set_clear_and_errors() -> None:
    chat = Chat(ChatLimits(topiclen=5))
    chat.users("op", "bob", "carol")
    chat.send("op", "JOIN #a")
    chat.send("bob", "JOIN #a")
    out = chat.send("op", "TOPIC #a :abcdefgh")
    assert recipients(out, "TOPIC") == ["op", "bob"]
    assert to(out, "bob") == [":op!~op@host TOPIC #a abcde"]
    assert chat.query("carol", "TOPIC #a")[0] == ":srv 332 carol #a abcde"
    assert to(chat.send("bob", "TOPIC #a :mine"), "bob") == [
        ":srv 482 bob #a :You're not channel operator"
    ]
    assert codes(chat.send("carol", "TOPIC #a :x"), "carol") == ["442"]
    assert codes(chat.send("carol", "TOPIC #none :x"), "carol") == ["403"]
    chat.send("op", "MODE #a -t")
    assert codes(chat.send("bob", "TOPIC #a :mine"), "bob") == ["TOPIC"]
    assert to(chat.send("bob", "TOPIC #a :"), "op") == [":bob!~bob@host TOPIC #a :"]
    assert chat.query("bob", "TOPIC #a") == [":srv 331 bob #a :No topic is set"]


def test_keys_pair_with_channels_as_written_even_with_duplicates() -> None:
    chat = Chat()
    chat.users("op", "bob")
    chat.send("op", "JOIN #b")
    chat.send("op", "MODE #b +k kb")
    out = chat.send("bob", "JOIN #a,#A,#b x,y,kb")
    assert recipients(out, "JOIN") == ["bob", "op", "bob"]


def test_lengths_are_utf8_bytes_and_never_split_a_character() -> None:
    chat = Chat(ChatLimits(topiclen=5, channellen=5))
    chat.users("op")
    assert codes(chat.send("op", "JOIN #ééé"), "op") == ["479"]  # 7 bytes
    chat.send("op", "JOIN #éé")
    assert to(chat.send("op", "TOPIC #éé :aéééé"), "op") == [":op!~op@host TOPIC #éé aéé"]


def test_kick_takes_pairs_of_channels_and_nicks_or_one_channel_and_several_nicks() -> None:
    chat = Chat()
    chat.users("op", "bob", "carol")
    for channel in ("#a", "#b"):
        for nick in ("op", "bob", "carol"):
            chat.send(nick, f"JOIN {channel}")
    out = chat.send("op", "KICK #a,#b bob,carol :out")
    assert [d.message.params[:2] for d in out if d.message.command == "KICK"][::3] == [
        ("#a", "bob"),
        ("#b", "carol"),
    ]
    out = chat.send("op", "KICK #a,#b carol")
    assert codes(out, "op") == ["461"]
    out = chat.send("op", "KICK #b bob,nobody")
    assert codes(out, "op") == ["KICK", "401"]
