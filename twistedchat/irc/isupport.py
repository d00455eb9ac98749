"""RPL_ISUPPORT (005) tokens, derived from the limits the chat state enforces.

Deriving them from :class:`~twistedchat.chat.limits.ChatLimits` keeps what we advertise and
what we enforce from drifting apart.
"""

from __future__ import annotations

from twistedchat.chat.limits import ChatLimits
from twistedchat.irc.casemap import CASEMAPPING


def isupport_tokens(limits: ChatLimits, network: str) -> tuple[str, ...]:
    t = limits.targmax
    return (
        "AWAYLEN=%d" % limits.awaylen,
        "CASEMAPPING=" + CASEMAPPING,
        "CHANLIMIT=#&:%d" % limits.chanlimit,
        "CHANMODES=b,k,l,imnst",
        "CHANNELLEN=%d" % limits.channellen,
        "CHANTYPES=#&",
        "KICKLEN=%d" % limits.kicklen,
        "MAXLIST=b:%d" % limits.maxlist,
        "MAXTARGETS=%d" % t,
        "MODES=%d" % limits.modes,
        "NETWORK=" + network,
        "NICKLEN=%d" % limits.nicklen,
        "PREFIX=(ov)@+",
        "TARGMAX=JOIN:%d,PART:%d,KICK:%d,PRIVMSG:%d,NOTICE:%d,TAGMSG:%d,WHOIS:1" % ((t,) * 6),
        "TOPICLEN=%d" % limits.topiclen,
        "UTF8ONLY",
    )
