"""Serialising once per kind of client: views, and what a rendering hands each one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twistedchat.irc import rendering
from twistedchat.irc.capabilities import OUTPUT_CAPS, SUPPORTED, for_client
from twistedchat.irc.rendering import Rendering, view_for
from twistedchat.wire.grammar import serialize
from twistedchat.wire.message import Message

TAGS = {"time": "2026-12-03T00:00:00.000Z", "msgid": "a-1", "account": "al", "+draft/x": "y"}
MESSAGES = [
    Message("PRIVMSG", ("#c", "hi"), "al!~al@h", TAGS),
    Message("TAGMSG", ("#c",), "al!~al@h", TAGS),
    Message("ACCOUNT", ("al",), "al!~al@h", TAGS),
    Message("BATCH", ("+1", "chathistory", "#c")),
    Message("JOIN", ("#c",), "al!~al@h"),
]
caps_sets = st.sets(st.sampled_from(sorted(SUPPORTED)))


@given(caps_sets)
def test_only_the_output_capabilities_change_what_a_client_is_sent(caps: set[str]) -> None:
    """A view keeps only OUTPUT_CAPS, so for_client must read nothing else."""
    for message in MESSAGES:
        assert for_client(message, caps) == for_client(message, caps & OUTPUT_CAPS)


@given(caps_sets, caps_sets)
def test_equal_views_are_one_object(a: set[str], b: set[str]) -> None:
    assert (view_for(a) is view_for(b)) == (a & OUTPUT_CAPS == b & OUTPUT_CAPS)


def test_views_are_bounded_by_the_output_capabilities() -> None:
    view_for({"sasl", "server-time", "echo-message"})
    assert len(rendering._VIEWS) <= 2 ** len(OUTPUT_CAPS)
    assert view_for({"echo-message"}).echo and not view_for({"server-time"}).echo


def test_a_rendering_serialises_once_per_view_and_gives_each_client_what_it_may_see(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Message] = []

    def counting(message: Message, server_name: str | None) -> bytes:
        calls.append(message)
        return serialize(message, server_name)

    monkeypatch.setattr(rendering, "serialize", counting)
    shared = Rendering(MESSAGES[0], "irc.test")
    plain, tagged = view_for(set()), view_for({"message-tags", "server-time"})
    for view in [plain, tagged] * 50:
        shared.bytes_for(view)
    assert len(calls) == 2
    assert shared.bytes_for(plain) == b":al!~al@h PRIVMSG #c :hi\r\n"
    tagged_line = shared.bytes_for(tagged)
    assert tagged_line is not None and tagged_line.startswith(b"@time=")
    assert b"+draft/x=y" in tagged_line


def test_a_client_that_must_not_see_a_message_gets_nothing() -> None:
    shared = Rendering(MESSAGES[1], "irc.test")  # TAGMSG
    assert shared.bytes_for(view_for(set())) is None
    assert shared.bytes_for(view_for({"message-tags"})) is not None


def test_a_rendering_cannot_inject_a_line() -> None:
    evil = Message("PRIVMSG", ("#c", "hi\r\nQUIT :pwned"), "al!~al@h", {"msgid": "x\r\ny"})
    for caps in (set(), {"message-tags"}, {"draft/multiline", "batch", "message-tags"}):
        data = Rendering(evil, "irc.test").bytes_for(view_for(caps))
        assert data is not None and data.endswith(b"\r\n")
        lines = data[:-2].split(b"\r\n")  # a line break is a multiline message's: cut, not sent
        assert all(b"\r" not in line and b"\n" not in line for line in lines)
        assert all(line.split(b" ")[0 if line[:1] == b":" else 1] == b":al!~al@h" for line in lines)


def test_a_rendering_that_needs_a_capability_reaches_only_views_with_it() -> None:
    notice = Message("INVITE", ("dave", "#a"), "op!~op@h")
    shared = Rendering(notice, "irc.test", needs="invite-notify")
    assert shared.bytes_for(view_for(set())) is None
    assert shared.bytes_for(view_for({"invite-notify"})) == b":op!~op@h INVITE dave #a\r\n"
