"""The AUTHENTICATE exchange of IRCv3 SASL 3.1, mechanism PLAIN, as a pure state machine.

The connection feeds it each AUTHENTICATE parameter and acts on what comes back: send a
``+`` challenge, wait for more 400-byte chunks, check the credentials, or answer a failure.
:func:`plain_response` is the other side, for clients (the session a gateway or a bot
keeps with the cluster).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

MECHANISMS = "PLAIN"
CHUNK = 400
MAX_RESPONSE = 4096


@dataclass(frozen=True)
class Challenge:
    """Send ``AUTHENTICATE +``: the client may now send its response."""


@dataclass(frozen=True)
class Pending:
    """A full 400-byte chunk arrived: more follows."""


@dataclass(frozen=True)
class Credentials:
    """An account and its password; the password stays out of reprs (and so out of logs)."""

    account: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Failure:
    numeric: str
    params: tuple[str, ...]

    def replies(self) -> list[tuple[str, tuple[str, ...]]]:
        """The numerics (code, params after the nick) that answer this failure: the
        mechanism list (908) is followed by 904, as IRCv3 SASL asks."""
        if self.numeric == N.RPL_SASLMECHS:
            return [(self.numeric, self.params), (N.ERR_SASLFAIL, ("SASL authentication failed",))]
        return [(self.numeric, self.params)]


Step = Challenge | Pending | Credentials | Failure


def server_lines(step: Step, nick: str) -> list[Message]:
    """What a server sends a client for ``step``: the challenge, or the failure's numerics
    (to ``nick``). Nothing for a pending chunk or for credentials, which only the caller
    can check."""
    if isinstance(step, Challenge):
        return [Message("AUTHENTICATE", ("+",))]
    if isinstance(step, Failure):
        return [Message(code, (nick, *params)) for code, params in step.replies()]
    return []


class PlainExchange:
    """One SASL attempt; a new attempt starts with a new ``AUTHENTICATE PLAIN``."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.started = False
        self._response = ""

    def interrupt(self) -> Failure | None:
        """Registration is completing: an exchange still in progress ends with 906, as
        IRCv3 SASL says, so the client is not left waiting for a verdict."""
        if not self.started:
            return None
        self._reset()
        return Failure(N.ERR_SASLABORTED, ("SASL authentication aborted",))

    def step(self, param: str) -> Step:
        if param == "*":
            self._reset()
            return Failure(N.ERR_SASLABORTED, ("SASL authentication aborted",))
        if not self.started:
            if param.upper() != "PLAIN":
                return Failure(N.RPL_SASLMECHS, (MECHANISMS, "are available SASL mechanisms"))
            self.started = True
            return Challenge()
        if param != "+":
            self._response += param
        if len(self._response) > MAX_RESPONSE:
            self._reset()
            return Failure(N.ERR_SASLTOOLONG, ("SASL message too long",))
        if len(param) == CHUNK:
            return Pending()
        response = self._response
        self._reset()
        return _parse_plain(response)


def _parse_plain(response: str) -> Step:
    try:
        decoded = base64.b64decode(response, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return Failure(N.ERR_SASLFAIL, ("SASL authentication failed",))
    parts = decoded.split("\0")
    if len(parts) != 3 or not parts[1] or (parts[0] and parts[0] != parts[1]):
        return Failure(N.ERR_SASLFAIL, ("SASL authentication failed",))
    return Credentials(parts[1], parts[2])


def plain_response(credentials: Credentials) -> list[str]:
    """The AUTHENTICATE parameters that answer a PLAIN challenge with ``credentials``.

    The base64 response goes in 400-byte chunks; a last chunk of exactly 400 bytes (or an
    empty response) is followed by ``+``, so the server knows nothing more comes.
    """
    account, password = credentials.account, credentials.password
    payload = f"{account}\0{account}\0{password}".encode()
    response = base64.b64encode(payload).decode("ascii")
    chunks = [response[i : i + CHUNK] for i in range(0, len(response), CHUNK)]
    if len(response) % CHUNK == 0:
        chunks.append("+")
    return chunks
