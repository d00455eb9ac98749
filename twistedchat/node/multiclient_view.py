"""What of the answer to one connection of a user its other connections see (multiclient).

A user's connections share the nick, channels and modes, so a change one of them makes
must show on all: its messages, joins, parts, kicks, nick, topic and mode changes, and
the channel state a join sends (topic and names). Errors and other numerics answer only
the client that asked: another client would show them out of context.
"""

from __future__ import annotations

from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

#: Numerics that are state every connection of the user must see.
SHARED_NUMERICS = frozenset({
    N.RPL_TOPIC, N.RPL_TOPICWHOTIME, N.RPL_NAMREPLY, N.RPL_ENDOFNAMES,
    N.RPL_UNAWAY, N.RPL_NOWAWAY,
})  # fmt: skip
#: Replies that only the asking client understands.
PRIVATE = frozenset({"FAIL", "WARN", "NOTE", "ACK", "PONG", "RESUME", "REGISTER"})


def shared(message: Message) -> bool:
    """Whether the other connections of a user see ``message``, sent to the user in the
    answer to one of them."""
    command = message.command
    if command.isdigit():
        return command in SHARED_NUMERICS
    return command not in PRIVATE
