"""IRCv3 capability negotiation for one connection: ``CAP LS / LIST / REQ / END``.

A plain object with no socket, shared by the node's connections and the gateway's, which
offer different sets (the gateway keeps SASL and resumption for its own upstream
session). It answers each ``CAP`` line with the messages to send and tracks whether
registration must wait: a client that starts negotiating before registering is held until
``CAP END`` (IRCv3 capability negotiation, "Registration").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

#: CAP LS 302 also turns on ``cap-notify`` implicitly, as the specification says.
CAP_302 = 302
#: The highest version we keep (a client may send any digits; "²" is a digit too).
CAP_MAX_VERSION = 999
#: The longest list of capabilities one ``CAP LS`` or ``LIST`` line carries (a 512-byte
#: line, less room for the server name and the rest of the line).
CAP_LINE = 380


class CapNegotiation:
    """The capabilities one client asked for, out of ``offered`` (name -> LS value)."""

    def __init__(self, offered: Mapping[str, str]) -> None:
        self.offered = dict(offered)
        self.caps: set[str] = set()
        self.version = 0
        self.negotiating = False  # registration waits while this is true

    def ls_tokens(self) -> list[str]:
        """The ``CAP LS`` list, with values only for clients that speak CAP 302."""
        return [
            f"{name}={value}" if value and self.version >= CAP_302 else name
            for name, value in sorted(self.offered.items())
        ]

    def handle(
        self,
        params: Sequence[str],
        nick: str,
        registered: bool,
        more_ls: Callable[[int], Sequence[str]] = lambda version: (),
    ) -> list[Message]:
        """Answer one ``CAP`` command. ``more_ls(version)`` adds ``CAP LS`` tokens only the
        caller can know (``sts`` depends on the transport and on the client's version)."""
        sub = params[0].upper() if params else ""
        if sub == "LS":
            self.negotiating = self.negotiating or not registered
            if len(params) > 1 and params[1].isascii() and params[1].isdigit():
                self.version = max(self.version, min(int(params[1]), CAP_MAX_VERSION))
                if self.version >= CAP_302:
                    self.caps.add("cap-notify")
            return _lines(nick, "LS", [*self.ls_tokens(), *more_ls(self.version)])
        if sub == "LIST":
            return _lines(nick, "LIST", sorted(self.caps))
        if sub == "REQ":
            self.negotiating = self.negotiating or not registered
            return [self._request(params[1].split() if len(params) > 1 else [], nick)]
        if sub == "END":
            self.negotiating = False
            return []
        return [Message(N.ERR_INVALIDCAPCMD, (nick, sub or "*", "Invalid CAP command"))]

    def _request(self, wanted: list[str], nick: str) -> Message:
        """All or nothing: one unknown name refuses the whole request."""
        if not wanted or any(token.lstrip("-") not in self.offered for token in wanted):
            return Message("CAP", (nick, "NAK", " ".join(wanted)))
        for token in wanted:
            if token == "-cap-notify" and self.version >= CAP_302:
                continue  # implied by CAP 302, which cannot be turned off (cap-notify spec)
            if token.startswith("-"):
                self.caps.discard(token[1:])
            else:
                self.caps.add(token)
        return Message("CAP", (nick, "ACK", " ".join(wanted)))


def _lines(nick: str, sub: str, tokens: Sequence[str]) -> list[Message]:
    """``CAP <nick> <sub>`` with ``tokens``, over as many lines as they need: each but the
    last marked ``*`` (IRCv3 capability negotiation, "Multiline replies")."""
    lines: list[list[str]] = [[]]
    size = 0
    for token in tokens:
        if lines[-1] and size + 1 + len(token.encode()) > CAP_LINE:
            lines.append([])
            size = 0
        size += (1 if lines[-1] else 0) + len(token.encode())
        lines[-1].append(token)
    *first, last = lines
    return [
        *(Message("CAP", (nick, sub, "*", " ".join(line))) for line in first),
        Message("CAP", (nick, sub, " ".join(last))),
    ]
