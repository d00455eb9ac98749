"""Channel MODE: flags, prefixes, key, limit, bans, limits and error numerics."""

from __future__ import annotations

from tests.chat.helpers import Chat, codes, recipients, to
from twistedchat.chat.limits import ChatLimits


def make(limits: ChatLimits | None = None) -> Chat:
    chat = Chat(limits)
    chat.users("op", "bob", "carol")
    chat.send("op", "JOIN #a")
    chat.send("bob", "JOIN #a")
    return chat


def test_changes_are_announced_once_normalised_to_every_member() -> None:
    chat = make()
    out = chat.send("op", "MODE #a +mi-n+ov+k-t bob bob sesame")
    assert recipients(out, "MODE") == ["op", "bob"]
    assert to(out, "bob") == [":op!~op@host MODE #a +mi-n+ovk-t bob bob sesame"]
    assert chat.query("op", "MODE #a")[0] == ":srv 324 op #a +imk sesame"
    assert chat.query("carol", "MODE #a")[0] == ":srv 324 carol #a +imk *"
    assert chat.query("op", "NAMES #a")[0] == ":srv 353 op = #a :@op @bob"


def test_changes_that_change_nothing_are_not_announced() -> None:
    chat = make()
    assert chat.send("op", "MODE #a +nt-ims") == []
    chat.send("op", "MODE #a +v bob")
    assert chat.send("op", "MODE #a +v bob") == []


def test_query_shows_creation_time() -> None:
    chat = make()
    created = chat.log[3][1].time // 1000  # op's JOIN created it
    assert chat.query("bob", "MODE #a") == [":srv 324 bob #a +nt", f":srv 329 bob #a {created}"]
    assert chat.query("bob", "MODE #none") == [":srv 403 bob #none :No such channel"]


def test_non_operator_gets_482_once_and_unknown_modes_472_each() -> None:
    chat = make()
    out = chat.send("bob", "MODE #a +mzvz bob")
    assert to(out, "bob") == [
        ":srv 472 bob z :is unknown mode char to me",
        ":srv 482 bob #a :You're not channel operator",
    ]
    assert to(chat.send("carol", "MODE #a +m"), "carol") == [
        ":srv 482 carol #a :You're not channel operator"
    ]
    assert codes(chat.send("carol", "MODE #none +m"), "carol") == ["403"]


def test_prefix_mode_targets_must_exist_and_be_members() -> None:
    chat = make()
    out = chat.send("op", "MODE #a +ov nobody carol")
    assert to(out, "op") == [
        ":srv 401 op nobody :No such nick/channel",
        ":srv 441 op carol #a :They aren't on that channel",
    ]
    assert to(chat.send("op", "MODE #a +o"), "op") == [":srv 696 op #a o * :Mode needs a parameter"]


def test_key_rules() -> None:
    chat = make(ChatLimits(keylen=5))
    assert to(chat.send("op", "MODE #a +k toolong"), "op") == [
        ":srv 696 op #a k toolong :Invalid key"
    ]
    assert codes(chat.send("op", "MODE #a +k a,b"), "op") == ["696"]
    chat.send("op", "MODE #a +k one")
    assert to(chat.send("op", "MODE #a +k two"), "op") == [
        ":srv 467 op #a :Channel key already set"
    ]
    assert to(chat.send("op", "MODE #a -k whatever"), "op") == [":op!~op@host MODE #a -k *"]
    assert chat.send("op", "MODE #a -k") == []


def test_limit_rules() -> None:
    chat = make()
    assert to(chat.send("op", "MODE #a +l 0"), "op") == [":srv 696 op #a l 0 :Invalid limit"]
    assert codes(chat.send("op", "MODE #a +l lots"), "op") == ["696"]
    assert codes(chat.send("op", "MODE #a +l ²"), "op") == ["696"]
    assert codes(chat.send("op", "MODE #a +l 99999999999"), "op") == ["696"]
    assert to(chat.send("op", "MODE #a +l 5"), "op") == [":op!~op@host MODE #a +l 5"]
    assert to(chat.send("op", "MODE #a -l+m"), "op") == [":op!~op@host MODE #a -l+m"]


def test_bans_are_normalised_listed_removed_and_capped() -> None:
    chat = make(ChatLimits(maxlist=2))
    out = chat.send("op", "MODE #a +bbb troll user@host nick!user")
    assert to(out, "op") == [
        ":srv 478 op #a b :Channel ban list is full",
        ":op!~op@host MODE #a +bb troll!*@* *!user@host",
    ]
    listing = chat.query("bob", "MODE #a b")
    assert [line.split()[3:5] for line in listing] == [
        ["#a", "troll!*@*"],
        ["#a", "*!user@host"],
        ["#a", ":End"],
    ]
    assert listing[0].split()[5] == "op!~op@host"
    assert chat.query("bob", "MODE #a +b") == listing
    assert to(chat.send("op", "MODE #a -b TROLL"), "bob") == [":op!~op@host MODE #a -b troll!*@*"]
    assert chat.send("op", "MODE #a -b troll") == []
    assert chat.send("op", "MODE #a +b *!USER@HOST") == []  # already there, case-insensitively


def test_ban_list_request_through_the_log_is_answered_too() -> None:
    chat = make()
    chat.send("op", "MODE #a +b troll")
    out = chat.send("bob", "MODE #a +bm")
    assert codes(out, "bob") == ["367", "368", "482"]


def test_overlong_ban_mask_is_refused() -> None:
    chat = make()
    assert codes(chat.send("op", "MODE #a +b " + "x" * 200), "op") == ["696"]


def test_parameter_modes_beyond_modes_limit_are_ignored() -> None:
    chat = make(ChatLimits(modes=2))
    out = chat.send("op", "MODE #a +vvvm op bob carol")
    assert to(out, "op") == [":op!~op@host MODE #a +vvm op bob"]


def test_moderated_and_banned_members_cannot_speak_unless_voiced() -> None:
    chat = make()
    chat.send("op", "MODE #a +m")
    assert to(chat.send("bob", "PRIVMSG #a :hi"), "bob") == [
        ":srv 404 bob #a :Cannot send to channel"
    ]
    chat.send("op", "MODE #a +v bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]
    chat.send("op", "MODE #a -m+b bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "op") == ["PRIVMSG"]  # voice wins
    chat.send("op", "MODE #a -v bob")
    assert codes(chat.send("bob", "PRIVMSG #a :hi"), "bob") == ["404"]


def test_secret_channel_is_hidden_from_outsiders() -> None:
    chat = make()
    chat.send("op", "MODE #a +s")
    assert chat.query("carol", "NAMES #a") == [":srv 366 carol #a :End of /NAMES list"]
    assert chat.query("carol", "LIST")[1:] == [":srv 323 carol :End of /LIST"]
    assert chat.query("carol", "TOPIC #a") == [":srv 403 carol #a :No such channel"]
    assert chat.query("bob", "NAMES #a")[0] == ":srv 353 bob @ #a :@op bob"


def test_a_key_may_not_start_with_a_colon() -> None:
    chat = Chat()
    chat.users("alice")
    chat.send("alice", "JOIN #c")
    out = chat.send("alice", "MODE #c +k ::x")
    assert to(out, "alice") == [":srv 696 alice #c k :x :Invalid key"]
