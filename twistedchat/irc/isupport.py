"""RPL_ISUPPORT (005) tokens, derived from the limits the chat state enforces.

Deriving them from :class:`~twistedchat.chat.limits.ChatLimits` keeps what we advertise and
what we enforce from drifting apart.
"""

from __future__ import annotations

from twistedchat.chat.extbans import EXTBAN_PREFIX, EXTBAN_TYPES, LIST_MODES, MATCHING
from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.modes import FLAG_MODES
from twistedchat.wire.casemap import CASEMAPPING

#: Nicks one client may MONITOR (kept by its node, see ``node.monitor``).
MONITOR_TARGETS = 100


def isupport_tokens(limits: ChatLimits, network: str) -> tuple[str, ...]:
    """Every token we advertise, sorted by name as most servers do."""
    t = limits.targmax
    return (
        f"ACCOUNTEXTBAN={MATCHING}",  # IRCv3 account-extban: $a:<account>
        f"AWAYLEN={limits.awaylen}",
        "BOT=B",
        "CASEMAPPING=" + CASEMAPPING,
        f"CHANLIMIT=#&:{limits.chanlimit}",
        f"CHANMODES={LIST_MODES},k,l,{FLAG_MODES}",
        f"CHANNELLEN={limits.channellen}",
        "CHANTYPES=#&",
        f"CHATHISTORY={limits.history_batch}",
        "ELIST=CMNTU",
        "EXCEPTS=e",
        f"EXTBAN={EXTBAN_PREFIX},{EXTBAN_TYPES}",
        "INVEX=I",
        f"KEYLEN={limits.keylen}",
        f"KICKLEN={limits.kicklen}",
        f"MAXLIST={LIST_MODES}:{limits.maxlist}",  # the three lists together
        f"MAXTARGETS={t}",
        f"MODES={limits.modes}",
        f"MONITOR={MONITOR_TARGETS}",
        f"NAMELEN={limits.namelen}",
        "NETWORK=" + network,
        f"NICKLEN={limits.nicklen}",
        "PREFIX=(ov)@+",
        "STATUSMSG=@+",
        f"TARGMAX=JOIN:{t},PART:{t},KICK:{t},PRIVMSG:{t},NOTICE:{t},TAGMSG:{t},WHOIS:1",
        f"TOPICLEN={limits.topiclen}",
        "UTF8ONLY",
        "WHOX",
    )
