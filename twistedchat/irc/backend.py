"""The contract between an IRC connection and the node that runs the chat.

The connection owns everything about one socket (framing, registration progress,
capabilities, flood control, keepalive); the backend owns the replicated chat. Keeping the
contract this narrow is what lets the same connection code run on a single node, in a Raft
cluster, and in unit tests with an in-memory log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from twistedchat.chat.commands import Spec
from twistedchat.chat.delivery import Delivery
from twistedchat.irc.rendering import Rendering
from twistedchat.wire.message import Message


class SessionSink(Protocol):
    """What the backend calls on a connection."""

    def deliver(self, rendering: Rendering, echo: bool = False) -> bool:
        """Something happened that this session must see (another user's message, ...).

        ``echo`` marks the copy of the session's own message (see
        :class:`~twistedchat.chat.delivery.Delivery`). The connection may hold the bytes
        until :meth:`flush`; it returns True when it started holding some, so the caller
        knows whom to flush.
        """

    def flush(self) -> None:
        """Write what :meth:`deliver` held: the node calls it once it has handed out
        everything a batch of log entries sent, so a client gets one write per batch."""

    def respond(self, label: str | None, deliveries: Sequence[Delivery]) -> None:
        """One command this session submitted was applied; ``deliveries`` are its replies.

        Called exactly once per ``submit``, in submission order, so the connection can count
        its writes in flight and keep queries behind them.
        """

    def end(self, reason: str) -> None:
        """The node drops this session (it was killed, or the node is shutting down).

        The connection must not call ``close_session`` for it afterwards.
        """

    def adopt(self, session: str) -> None:
        """From now on this connection is ``session``, which it resumed (``chat.resume``)."""


class ChatBackend(Protocol):
    """What a connection calls on the node."""

    def open_session(self, sink: SessionSink, host: str) -> str:
        """Register a new connection; returns its cluster-unique session id."""

    def close_session(self, session: str, reason: str) -> None:
        """The connection is gone: propose its QUIT if it was registered, forget it."""

    def submit(self, session: str, message: Message, label: str | None) -> None:
        """Propose a state-changing command; replies come back through ``respond``."""

    def query(self, session: str, message: Message) -> list[Message]:
        """Answer a read-only command from the local replica of the chat state."""

    def monitor(self, session: str, message: Message) -> list[Message]:
        """Answer ``MONITOR``: the session's watch list is kept by its node (730-734)."""

    def password_hash(self, account: str) -> str | None:
        """The stored password hash of ``account`` in the local replica (None: no account)."""

    def nick_in_use(self, nick: str) -> bool:
        """Whether ``nick`` is taken according to the local replica (a hint: the log decides)."""

    def nick_reclaimable(self, nick: str) -> bool:
        """Whether ``nick`` belongs to a logged-in session its account may take over."""

    def command(self, name: str) -> Spec | None:
        """The command table's entry for ``name``, plugins' commands included (None: none)."""

    def writable(self) -> bool:
        """Whether writes can be committed now (False on a node cut off from the majority)."""

    def local_client_count(self) -> int:
        """Connections open on this node."""
