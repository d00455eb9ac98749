"""One message, serialised once for each kind of client that receives it.

Which bytes a client gets for a message depends only on a few of its capabilities (the
tags it may see, whether it takes TAGMSG, ACCOUNT and BATCH; whether it wants its own
messages echoed). A connection keeps the :class:`ClientView` of its capabilities,
computed when CAP changes, and views are interned, so clients that negotiated the same
set share one. A :class:`Rendering` then serialises a message at most once per view
among its recipients and hands the same bytes to each, as InspIRCd's
``ClientProtocol::Message`` caches one serialisation per tag selection: a channel
message to 1,000 members costs one or two serialisations, not 1,000.

The bytes still come from :func:`~twistedchat.wire.grammar.serialize`, the one serializer
that cannot be made to inject a line.
"""

from __future__ import annotations

from collections.abc import Set

from twistedchat.chat.delivery import given
from twistedchat.irc.capabilities import OUTPUT_CAPS, shown
from twistedchat.wire.grammar import serialize
from twistedchat.wire.message import Message


class ClientView:
    """The capabilities that change the bytes a client receives; one object per set.

    Compare views by identity: :func:`view_for` returns the same object for equal sets.
    There are at most ``2 ** len(OUTPUT_CAPS)`` of them, so interning them is bounded.
    """

    __slots__ = ("caps", "echo")

    def __init__(self, caps: frozenset[str]):
        self.caps = caps
        self.echo = "echo-message" in caps

    def __repr__(self) -> str:
        return f"ClientView({sorted(self.caps)})"


_VIEWS: dict[frozenset[str], ClientView] = {}


def view_for(caps: Set[str]) -> ClientView:
    """The (interned) view of a client that negotiated ``caps``."""
    key = frozenset(caps & OUTPUT_CAPS)
    view = _VIEWS.get(key)
    if view is None:
        view = _VIEWS[key] = ClientView(key)
    return view


class Rendering:
    """``message`` as each view receives it from ``server_name``, serialised on demand;
    with ``needs``, only the views it is given to (:func:`~twistedchat.chat.delivery.given`)."""

    __slots__ = ("_bytes", "message", "needs", "server_name")

    def __init__(self, message: Message, server_name: str, needs: str | None = None):
        self.message = message
        self.server_name = server_name
        self.needs = needs
        self._bytes: dict[ClientView, bytes | None] = {}

    def bytes_for(self, view: ClientView) -> bytes | None:
        """The line for a client of ``view``; None if such a client must not get it."""
        cache = self._bytes
        if view in cache:
            return cache[view]
        lines = shown(self.message, view.caps) if given(self.needs, view.caps) else []
        data = b"".join(serialize(m, self.server_name) for m in lines) if lines else None
        cache[view] = data
        return data
