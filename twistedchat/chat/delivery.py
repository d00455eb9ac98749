"""What applying a log entry sends: the records a node hands to its local sessions.

Every node applies the same entries and gets the same records back; each node then sends
each record only to the sessions connected to it. A message to one session is a
:class:`Delivery`; a message to many (a channel's members, a user's peers) is one
:class:`Broadcast` naming its audience, so that a node's work for a message grows with
its own recipients, not with the cluster's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass

from twistedchat.wire.message import Message


@dataclass(frozen=True, slots=True)
class Delivery:
    """Send ``message`` to ``session``.

    ``echo`` marks the copy of a user's own PRIVMSG/NOTICE/TAGMSG sent back to them: the
    connection sends it only if the client negotiated ``echo-message``. Tags such as
    ``time``, ``msgid`` and ``account`` are always attached; the connection drops those its
    client did not ask for.

    ``separate`` marks a message to the entry's own session that is not an answer to its
    command (mail handed over at login): the node sends it after the answer, like a
    message from someone else, so it is not labelled (labeled-response) and not taken for
    part of the registration reply, and arrives after the welcome burst.

    ``needs`` names a capability without which the client is not sent the message at all
    (an ``invite-notify`` INVITE, which cannot be told from an invitation by its shape;
    a REDACT, for ``draft/message-redaction``);
    ``!`` before it means the opposite, only clients without it (the NAMES after a JOIN,
    which ``draft/no-implicit-names`` turns off). See :func:`given`.
    """

    session: str
    message: Message
    echo: bool = False
    separate: bool = False
    needs: str | None = None


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``message`` to every session of ``audience`` but ``skip``.

    ``audience`` is in the state's deterministic order (a channel's members in the order
    they joined), so every node reads the same record. ``skip`` is the sender of a channel
    message, who gets their own copy as an echo :class:`Delivery` instead; leaving them
    out here saves building a second tuple of the members for every message. ``needs``
    is as for :class:`Delivery`.
    """

    audience: tuple[str, ...]
    message: Message
    skip: str | None = None
    needs: str | None = None


def without(capability: str) -> str:
    """The ``needs`` of a message only clients without ``capability`` are sent."""
    return "!" + capability


def given(needs: str | None, caps: Set[str]) -> bool:
    """Whether a client with capabilities ``caps`` is sent a message that ``needs``."""
    if needs is None:
        return True
    if needs[0] == "!":
        return needs[1:] not in caps
    return needs in caps


#: One thing an applied entry sends.
Sending = Delivery | Broadcast


def expand(sendings: Iterable[Sending]) -> Iterator[Delivery]:
    """Each :class:`Delivery` the records stand for, in order (a broadcast's in its
    audience's order): for readers that look at sessions one by one (tests, replay)."""
    for sending in sendings:
        if isinstance(sending, Delivery):
            yield sending
            continue
        skip = sending.skip
        for session in sending.audience:
            if session != skip:
                yield Delivery(session, sending.message, needs=sending.needs)
