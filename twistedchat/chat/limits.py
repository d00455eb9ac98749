"""The sizes the chat state enforces.

One frozen value shared by the state machine and RPL_ISUPPORT
(:mod:`twistedchat.irc.isupport`), so what we advertise and what we enforce cannot drift.
Every node of a cluster must run with the same limits: they decide what ``apply`` does.
Lengths are in UTF-8 bytes, like the 512-byte line limit they exist to respect.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Limits of names, texts, lists and totals (ISUPPORT names in parentheses).

    ``targmax`` bounds the comma-separated targets of PRIVMSG, NOTICE, TAGMSG, JOIN, PART
    and KICK; ``modes`` bounds the parameter-taking channel modes of one MODE command.
    ``max_channels`` caps channels in total (empty persisted ones included), ``whowas``
    caps the WHOWAS history, and ``session_records`` caps how many ended sessions (quit,
    reset, or never registered) keep their last sequence number for exactly-once. The
    ``history_*`` limits bound the replicated message history (see ``chat.history``), and
    the ``mail_*`` ones the messages kept for offline accounts (see ``chat.mailbox``), and
    the ``metadata_*`` ones the IRCv3 metadata of one user or channel (``chat.metadata``),
    the ``read_markers*`` ones the IRCv3 read markers kept (``chat.markstore``);
    ``replay_lines`` caps what a reclaimed session is replayed (``chat.replay``), and the
    ``always_on*`` ones the sessions that stay without a client (``chat.alwayson``).
    """

    nicklen: int = 30  # NICKLEN
    channellen: int = 50  # CHANNELLEN
    topiclen: int = 390  # TOPICLEN
    kicklen: int = 255  # KICKLEN
    awaylen: int = 200  # AWAYLEN
    namelen: int = 150  # NAMELEN: a realname, in bytes (USER cuts it, SETNAME refuses)
    keylen: int = 23
    chanlimit: int = 50  # CHANLIMIT, per user
    targmax: int = 4  # TARGMAX / MAXTARGETS
    modes: int = 4  # MODES
    maxlist: int = 100  # MAXLIST beI: bans, exceptions and invite exceptions together
    max_channels: int = 10_000
    whowas: int = 1000
    session_records: int = 10_000
    history_max: int = 500  # CHATHISTORY: messages kept per channel or private conversation
    history_days: int = 30
    history_conversations: int = 2000
    history_batch: int = 100  # CHATHISTORY limit per request
    max_accounts: int = 100_000
    mail_per_account: int = 100  # offline messages kept for one account (oldest dropped)
    mail_per_sender: int = 20  # of those, from one sender
    mail_from_sender: int = 200  # one sender's messages waiting in all mailboxes
    mail_accounts: int = 2000  # accounts with messages waiting, at most
    metadata_keys: int = 20  # draft/metadata-3 max-keys: keys on one user or channel
    metadata_key_bytes: int = 64  # max-key-bytes
    metadata_value_bytes: int = 300  # max-value-bytes (a key and value fit one 761 line)
    replay_lines: int = 300  # lines replayed to a session reclaimed from a down node
    always_on: str = "opt-in"  # off, opt-in, opt-out or mandatory (see chat.alwayson)
    always_on_days: int = 30  # a detached always-on session ends after this long
    always_on_max: int = 1000  # detached sessions at once; past it, leaving quits
    multiclient: bool = True  # a login to a connected account joins it (chat.multiclient)
    clients_per_user: int = 8  # connections one user may have at once (multiclient)
    read_markers: int = 200  # draft/read-marker: markers one account keeps (LRU)
    read_markers_total: int = 100_000  # markers of all accounts together (LRU)


#: A multiline message (IRCv3 ``draft/multiline``, one PRIVMSG or NOTICE whose text holds
#: line breaks): at most this many bytes of text in at most this many lines. The
#: connection refuses a batch past them and the chat state a message past them.
MULTILINE_MAX_BYTES = 4096
MULTILINE_MAX_LINES = 24


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never in the middle of a character."""
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")
