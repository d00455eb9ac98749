"""What a handler of one user command gets: the world, the outbox, the sender, the entry."""

from __future__ import annotations

from dataclasses import dataclass

from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.model import User, World
from twistedchat.chat.outbox import Outbox
from twistedchat.wire import numerics as N
from twistedchat.wire.casemap import casefold
from twistedchat.wire.message import Message


@dataclass(frozen=True, slots=True)
class Context:
    """One registered user's command being applied; ``time`` is the entry's (ms).

    ``origin`` is the session id of the connection that sent it: ``user.session``, or one
    of the user's further clients (multiclient); "" when it is the user's own.
    """

    world: World
    out: Outbox
    user: User
    message: Message
    time: int
    origin: str = ""

    @property
    def params(self) -> tuple[str, ...]:
        return self.message.params

    @property
    def limits(self) -> ChatLimits:
        return self.world.limits

    def reply(self, code: str, *params: str) -> None:
        self.out.reply(self.user, code, *params)

    def targets(self, raw: str, *, quiet: bool = False) -> list[str]:
        """The comma-separated targets of ``raw``, each once, at most TARGMAX of them.

        Targets past the limit are refused with one 407 (unless ``quiet``, for NOTICE) and
        the ones before it still go through, as most servers do.
        """
        unique: dict[str, str] = {}
        for target in raw.split(","):
            if target:
                unique.setdefault(casefold(target), target)
        return self.at_most_targmax(list(unique.values()), quiet=quiet)

    def at_most_targmax(self, targets: list[str], *, quiet: bool = False) -> list[str]:
        """The first TARGMAX of ``targets``; one 407 for the rest (unless ``quiet``)."""
        limit = self.limits.targmax
        if len(targets) > limit and not quiet:
            self.reply(N.ERR_TOOMANYTARGETS, targets[limit], f"Too many targets (at most {limit})")
        return targets[:limit]
