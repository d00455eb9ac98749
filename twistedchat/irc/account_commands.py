"""REGISTER (IRCv3 draft/account-registration) and a NickServ-style service, node side.

This is where a password is seen, and the only place: it is hashed (registration) or
checked against the local replica's hash (login) by the node, and what goes to the log
is the internal ``@REGISTER (account, hash)`` or ``@LOGIN (account,)`` (see
:mod:`twistedchat.chat.accounts`). Pure functions: they say what a command asks for (a
:class:`Registration` to hash, an :class:`Identification` to check) or answer it at
once (an :class:`Outcome`); the connection does the hashing off the reactor thread
and builds the log entry with the methods of the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twistedchat.chat.command import ACCOUNT_SET, LOGIN, REGISTER
from twistedchat.chat.service import SERVICE, SERVICE_PREFIX
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message

MAX_PASSWORD = 300
BUSY = "The server is busy checking passwords; try again in a few seconds"


@dataclass
class Outcome:
    """What the connection does: submit ``write`` to the log (if any), send ``replies``."""

    write: Message | None = None
    replies: list[Message] = field(default_factory=list)


@dataclass(frozen=True)
class Registration:
    """Register ``account`` once ``password`` is hashed; ``via_service``: NickServ asked,
    so refusals are its notices, not ``FAIL REGISTER``."""

    nick: str
    account: str
    password: str = field(repr=False)
    via_service: bool = False

    def write(self, password_hash: str) -> Message:
        if self.via_service:  # answered by NickServ's notices (see chat.accounts)
            return Message(REGISTER, (self.account, password_hash, SERVICE))
        return Message(REGISTER, (self.account, password_hash))

    def busy(self) -> Outcome:
        if self.via_service:
            return _notice(self.nick, BUSY + ".")
        return _fail("TEMPORARILY_UNAVAILABLE", self.account, BUSY)


@dataclass(frozen=True)
class Identification:
    """NickServ ``IDENTIFY``: log in to ``account`` if ``password`` checks out."""

    nick: str
    account: str
    password: str = field(repr=False)

    def write(self) -> Message:
        return Message(LOGIN, (self.account,))

    def refused(self, reason: str | None) -> Outcome:
        """The answer to a failed login: wrong credentials (``reason`` None), or the
        reason it was not checked (throttled, busy)."""
        return _notice(
            self.nick, "Invalid account or password." if reason is None else reason + "."
        )


Request = Outcome | Registration | Identification


def is_service_message(message: Message) -> bool:
    """A PRIVMSG to NickServ (or the NS / NICKSERV shortcuts) is handled here, not relayed."""
    if message.command in ("NS", "NICKSERV"):
        return True
    return (
        message.command == "PRIVMSG"
        and len(message.params) >= 2
        and casefold(message.params[0]) == casefold(SERVICE)
    )


def register_command(
    nick: str, params: tuple[str, ...], min_password: int
) -> Outcome | Registration:
    """``REGISTER <account|*> <email|*> <password>`` from a registered client; the
    account may be another name than the nick (``custom-account-name``)."""
    if len(params) < 3:
        return _fail("NEED_MORE_PARAMS", "*", "REGISTER needs an account, an email and a password")
    account = nick if params[0] == "*" else params[0]
    password = params[2]
    if not min_password <= len(password) <= MAX_PASSWORD:
        return _fail("WEAK_PASSWORD", account, f"Passwords need {min_password} or more characters")
    return Registration(nick, account, password)


def service_command(nick: str, message: Message, min_password: int) -> Request:
    """``REGISTER <password> [email]``, ``IDENTIFY [account] <password>``, ``SET
    ALWAYS-ON [ON|OFF|DEFAULT]``, ``HELP``."""
    text = " ".join(message.params) if message.command != "PRIVMSG" else message.params[1]
    words = text.split()
    verb = words[0].upper() if words else "HELP"
    if verb == "REGISTER" and len(words) >= 2:
        request = register_command(nick, (nick, "*", words[1]), min_password)
        if isinstance(request, Outcome):
            return _notice(nick, f"Passwords need {min_password} or more characters.")
        return Registration(nick, request.account, request.password, via_service=True)
    if verb == "IDENTIFY" and len(words) >= 2:
        account, password = (words[1], words[2]) if len(words) >= 3 else (nick, words[1])
        return Identification(nick, account, password)
    if verb == "SET":  # answered in log order, by the chat state (chat.accounts.set_option)
        return Outcome(write=Message(ACCOUNT_SET, tuple(words[1:3])))
    return _notice(
        nick,
        "Commands: REGISTER <password>, IDENTIFY [account] <password>, "
        "SET ALWAYS-ON [ON|OFF|DEFAULT].",
    )


def _fail(code: str, account: str, text: str) -> Outcome:
    return Outcome(replies=[Message("FAIL", ("REGISTER", code, account, text))])


def _notice(nick: str, text: str) -> Outcome:
    return Outcome(replies=[Message("NOTICE", (nick, text), SERVICE_PREFIX)])
