"""REGISTER (IRCv3 draft/account-registration) and a NickServ-style service, node side.

This is where a password is seen, and the only place: it is hashed (registration) or
checked against the local replica's hash (login) here, and what goes to the log is the
internal ``@REGISTER (account, hash)`` or ``@LOGIN (account,)`` (see
:mod:`twistedchat.chat.accounts`). Pure functions: the caller passes the salt and the
stored-hash lookup, and submits what comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twistedchat.chat.accounts import LOGIN, REGISTER
from twistedchat.chat.passwords import hash_password, verify_password
from twistedchat.irc.casemap import casefold
from twistedchat.irc.message import Message

SERVICE = "NickServ"
SERVICE_PREFIX = "NickServ!NickServ@services."
MIN_PASSWORD = 8
MAX_PASSWORD = 300


@dataclass
class Outcome:
    """What the connection does: submit ``write`` to the log (if any), send ``replies``."""

    write: Message | None = None
    replies: list[Message] = field(default_factory=list)


def is_service_message(message: Message) -> bool:
    """A PRIVMSG to NickServ (or the NS / NICKSERV shortcuts) is handled here, not relayed."""
    if message.command in ("NS", "NICKSERV"):
        return True
    return (
        message.command == "PRIVMSG"
        and len(message.params) >= 2
        and casefold(message.params[0]) == casefold(SERVICE)
    )


def register_command(nick: str, params: tuple[str, ...], salt: bytes) -> Outcome:
    """``REGISTER <account|*> <email|*> <password>`` from a registered client."""
    if len(params) < 3:
        return _fail("NEED_MORE_PARAMS", "*", "REGISTER needs an account, an email and a password")
    account = nick if params[0] == "*" else params[0]
    password = params[2]
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return _fail("WEAK_PASSWORD", account, f"Passwords need {MIN_PASSWORD} or more characters")
    return Outcome(write=Message(REGISTER, (account, hash_password(password, salt))))


def service_command(
    nick: str, message: Message, salt: bytes, stored_hash: Callable[[str], str | None]
) -> Outcome:
    """``REGISTER <password> [email]``, ``IDENTIFY [account] <password>``, ``HELP``."""
    text = " ".join(message.params) if message.command != "PRIVMSG" else message.params[1]
    words = text.split()
    verb = words[0].upper() if words else "HELP"
    if verb == "REGISTER" and len(words) >= 2:
        outcome = register_command(nick, (nick, "*", words[1]), salt)
        if outcome.write is None:
            return _notice(nick, "Passwords need 8 or more characters.")
        return outcome
    if verb == "IDENTIFY" and len(words) >= 2:
        account, password = (words[1], words[2]) if len(words) >= 3 else (nick, words[1])
        stored = stored_hash(account)
        if stored is None or not verify_password(password, stored):
            return _notice(nick, "Invalid account or password.")
        return Outcome(write=Message(LOGIN, (account,)))
    return _notice(nick, "Commands: REGISTER <password>, IDENTIFY [account] <password>.")


def _fail(code: str, account: str, text: str) -> Outcome:
    return Outcome(replies=[Message("FAIL", ("REGISTER", code, account, text))])


def _notice(nick: str, text: str) -> Outcome:
    return Outcome(replies=[Message("NOTICE", (nick, text), SERVICE_PREFIX)])
