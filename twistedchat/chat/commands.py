"""The one table of IRC commands: for each, who answers it and what it needs.

Every fact about a command is here, once (decision 0026): how many parameters it needs,
whether a client may send it before registration, whether only an operator may, and who
answers it:

- :attr:`Answer.CONNECTION`: the client's connection (CAP, PING, ...); QUIT it proposes
  to the log itself, once it has ended the client's input;
- :attr:`Answer.CREDENTIALS`: the connection checks a password off the reactor thread
  and proposes only the outcome (OPER, REGISTER);
- :attr:`Answer.NODE`: the node, from what only it keeps (MONITOR lists); METADATA's
  subscription subcommands too, though its row says REPLICA (the node takes them out of
  the queries it is asked, see ``node.metadata``);
- :attr:`Answer.LOG`: a write, applied in log order on every node by the chat state;
- :attr:`Answer.REPLICA`: a query, answered from the local replica. A few queries turn
  into writes when they carry something to set (``TOPIC #c :new``); ``writes_when``
  says when.

The chat core's handlers are in the table itself; the connection keeps the handlers of
its own commands, and a test holds them to the table. Plugins add log commands of
their own (:func:`plugin_command`) and may not take a name that is here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from twistedchat.chat import (
    accounts,
    channels,
    messaging,
    metadata,
    modes,
    operators,
    queries,
    readmarker,
    redaction,
    rename,
    users,
)
from twistedchat.chat.command import (
    ACCOUNT_SET,
    ADMIN,
    ALIVE,
    CONNECT,
    LOGIN,
    MOVE,
    NODE_DOWN,
    NODE_LOST,
    NODE_RESET,
    NODE_UP,
    OPER,
    ORPHAN_QUIT,
    PLUGIN_SAY,
    PROBE,
    REGISTER,
    REHASH,
    RESUME,
    TICK,
)
from twistedchat.chat.context import Context
from twistedchat.chat.model import User, World
from twistedchat.wire import numerics as N
from twistedchat.wire.message import Message

#: A write's handler; CLUSTER's returns the operator request it accepted, (verb, node).
WriteHandler = Callable[[Context], tuple[str, str] | None]


class Answer(Enum):
    """Who answers a command once the client is registered."""

    CONNECTION = "connection"
    CREDENTIALS = "credentials"
    NODE = "node"
    LOG = "log"
    REPLICA = "replica"


@dataclass(frozen=True, slots=True)
class Spec:
    """What one command is: see the module docstring.

    ``min_params`` counts parameters the way IRC servers do: that many, the first not
    empty; fewer is a 461. ``before_registration`` is whether the connection takes it
    before registration completes (it answers every such command itself then).
    """

    name: str
    answer: Answer
    min_params: int = 0
    before_registration: bool = False
    operator: bool = False
    apply: WriteHandler | None = None
    query: queries.Handler | None = None
    writes_when: Callable[[tuple[str, ...]], bool] | None = None

    def is_write(self, params: tuple[str, ...]) -> bool:
        """Whether the command with ``params`` goes through the log (QUIT does, proposed
        by the connection)."""
        return self.answer is Answer.LOG or self.applies(params)

    def applies(self, params: tuple[str, ...]) -> bool:
        """Whether a log entry of this command with ``params`` runs ``apply``; one that
        does not is a query sent through the log, answered in log order."""
        return self.apply is not None and (self.writes_when is None or self.writes_when(params))

    def lacks_params(self, params: tuple[str, ...]) -> bool:
        """Whether ``params`` are too few for this command (answered with 461)."""
        need = self.min_params
        return need > 0 and (len(params) < need or not params[0])


def _topic_sets(params: tuple[str, ...]) -> bool:
    return len(params) >= 2


def _mode_sets(params: tuple[str, ...]) -> bool:
    """``MODE #c``, ``MODE nick`` and a list request (``MODE #c b``, ``+b``, ``e``, ``+e``,
    ``I``, ``+I``) ask; the rest set."""
    if len(params) < 2 or not params[0] or not params[1]:
        return False
    letter = params[1].removeprefix("+")
    listing = len(params) == 2 and len(letter) == 1 and letter in modes.LIST_MODES
    return not (listing and params[0][0] in channels.CHANTYPES)


def _cluster_sets(params: tuple[str, ...]) -> bool:
    return operators.is_admin_request(params)


def _reregister(ctx: Context) -> None:
    ctx.reply(N.ERR_ALREADYREGISTERED, "You may not reregister")


def _write(
    name: str,
    handler: WriteHandler,
    min_params: int = 0,
    *,
    before_registration: bool = False,
    operator: bool = False,
) -> Spec:
    return Spec(name, Answer.LOG, min_params, before_registration, operator, apply=handler)


def _query(name: str, handler: queries.Handler, min_params: int = 0) -> Spec:
    return Spec(name, Answer.REPLICA, min_params, query=handler)


def _connection(name: str, min_params: int = 0, before_registration: bool = True) -> Spec:
    return Spec(name, Answer.CONNECTION, min_params, before_registration)


_TABLE = (
    # the connection's own
    _connection("CAP"),
    _connection("PING"),
    _connection("PONG"),
    Spec("QUIT", Answer.CONNECTION, before_registration=True, apply=users.quit_),
    _connection("PASS", 1),
    _connection("USER", 4),
    _connection("AUTHENTICATE", 1),
    _connection("RESUME"),
    _connection("VERSION", before_registration=False),
    _connection("TIME", before_registration=False),
    _connection("MOTD", before_registration=False),
    _connection("INFO", before_registration=False),
    _connection("HELP", before_registration=False),
    _connection("HELPOP", before_registration=False),
    _connection("BATCH", 1, before_registration=False),  # client batches: draft/multiline
    Spec("OPER", Answer.CREDENTIALS, 2),
    Spec("REGISTER", Answer.CREDENTIALS),
    Spec("MONITOR", Answer.NODE),
    # writes
    _write("NICK", users.nick, before_registration=True),
    _write("JOIN", channels.join, 1),
    _write("PART", channels.part, 1),
    _write("KICK", channels.kick, 2),
    _write("INVITE", channels.invite, 2),
    _write("PRIVMSG", messaging.send_message),
    _write("NOTICE", messaging.send_message),
    _write("TAGMSG", messaging.send_message),
    _write("REDACT", redaction.redact, 2),
    _write("RENAME", rename.rename, 2),
    _write("AWAY", users.away),
    _write("SETNAME", users.setname),
    _write("KILL", operators.kill, 1, operator=True),
    _write("WALLOPS", operators.wallops, 1, operator=True),
    _write("CHGHOST", operators.chghost, 3, operator=True),
    # queries, some of which set something when given it
    Spec("TOPIC", Answer.REPLICA, 1, apply=channels.set_topic, query=queries.topic,
         writes_when=_topic_sets),
    Spec("MODE", Answer.REPLICA, 1, apply=modes.mode, query=queries.mode,
         writes_when=_mode_sets),
    Spec("CLUSTER", Answer.REPLICA, apply=operators.cluster, query=queries.cluster,
         writes_when=_cluster_sets),
    # SET and CLEAR write; SUB, UNSUB, SUBS and SYNC the client's node answers (its
    # subscriptions), before it would ask the replica (decision 0030)
    Spec("METADATA", Answer.REPLICA, 2, apply=metadata.write, query=metadata.query,
         writes_when=metadata.writes),
    # with a timestamp it sets the account's read marker (draft/read-marker, 0034); no
    # minimum: a missing target is FAIL MARKREAD NEED_MORE_PARAMS, not a 461
    Spec("MARKREAD", Answer.REPLICA, apply=readmarker.write, query=readmarker.query,
         writes_when=readmarker.sets),
    _query("NAMES", queries.names),
    _query("LIST", queries.list_),
    _query("WHO", queries.who),
    _query("WHOIS", queries.whois),
    _query("WHOWAS", queries.whowas),
    _query("ISON", queries.ison, 1),
    _query("USERHOST", queries.userhost, 1),
    _query("LUSERS", queries.lusers),
    _query("LINKS", queries.links),
    _query("CHATHISTORY", queries.chathistory),
    # the nodes' own entries (chat/command.py), which no client can send; those of a
    # registered session have a handler, the rest ChatState.apply carries out itself
    _write(CONNECT, _reregister),
    _write(OPER, operators.oper),
    _write(REGISTER, accounts.register),
    _write(LOGIN, accounts.login),
    _write(REHASH, accounts.rehash),
    _write(ACCOUNT_SET, accounts.set_option),
    *(Spec(name, Answer.LOG) for name in (
        NODE_RESET, NODE_LOST, NODE_DOWN, NODE_UP, PROBE, ALIVE, TICK, PLUGIN_SAY, MOVE, RESUME,
        ORPHAN_QUIT, ADMIN)),
)  # fmt: skip

#: Every command, by name (upper case).
COMMANDS: Mapping[str, Spec] = MappingProxyType({spec.name: spec for spec in _TABLE})


def lookup(name: str) -> Spec | None:
    """The table's entry for the command ``name`` (any case), or None."""
    return COMMANDS.get(name.upper())


def plugin_command(name: str) -> Spec:
    """A plugin's command: a write, applied by the plugin's handler in log order."""
    return Spec(name.upper(), Answer.LOG)


def is_write(message: Message) -> bool:
    """Whether ``message`` goes through the log (plugins' commands aside)."""
    spec = lookup(message.command)
    return spec is not None and spec.is_write(message.params)


def answer_query(world: World, viewer: User, message: Message, server: str) -> list[Message]:
    """The replies to the read-only ``message`` (a 421 for a command that is none)."""
    spec = lookup(message.command)
    if spec is None or spec.query is None:
        return queries.unknown(viewer, message)
    if spec.lacks_params(message.params):
        return queries.need_more_params(viewer, spec.name)
    return spec.query(world, viewer, message, server)
