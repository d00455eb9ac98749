"""The IRC message value type, shared by the grammar, the chat state machine and the protocol.

Parsing and serialising live in :mod:`twistedchat.wire.grammar`; this module holds only
the immutable value so that the pure chat core can build messages without importing a parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

EMPTY_TAGS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Message:
    """One IRC message.

    ``source`` is ``None`` for messages a client sends and for messages "from this server":
    the connection fills in its own server name when serialising, so the replicated chat
    core never needs to know which node delivers a reply. ``tags`` holds IRCv3 message tags
    with *unescaped* values ("" for a tag without value).
    """

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: EMPTY_TAGS)

    def with_tags(self, **extra: str) -> Message:
        """Return a copy with ``extra`` tags added (later wins)."""
        merged = dict(self.tags)
        merged.update(extra)
        return Message(self.command, self.params, self.source, merged)
