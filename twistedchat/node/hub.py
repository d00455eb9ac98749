"""Local sessions on one node: their lives, and what the node does with each applied entry.

The hub implements the connections' :class:`~twistedchat.irc.backend.ChatBackend`. It
hands a session's writes to the :class:`~twistedchat.node.proposer.Proposer` (sequence
numbers, retries, batches: exactly-once, Raft dissertation 6.3), applies each committed
entry to the chat state, gives what the entry sent to the
:class:`~twistedchat.node.router.Router` (the local connections) and answers the
session that proposed it. Then it carries out what the entry asks of this node: a move of
some clients, the end of a lost node's sessions, an operator's request, plugin hooks. It
keeps the sessions that outlive their connection (a resumable session waits for its
client) and those a previous run of this node left. It never decides anything about the
chat: the state does.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from twistedchat.chat.command import (
    ADMIN,
    ALIVE,
    HANDED_TAG,
    MOVE,
    NODE_DOWN,
    NODE_LOST,
    NODE_RESET,
    NODE_UP,
    ORPHAN_QUIT,
    PROBE,
    SERVER_TAG,
    WEB_TAG,
    Command,
)
from twistedchat.chat.commands import Spec
from twistedchat.chat.delivery import Delivery
from twistedchat.chat.state import Applied, ChatState
from twistedchat.irc.backend import SessionSink
from twistedchat.irc.capabilities import EXTENDED_MONITOR, METADATA_CAP
from twistedchat.node import metadata, multiclient_view
from twistedchat.node.held_logins import HeldLogins
from twistedchat.node.monitor import Monitors
from twistedchat.node.plugin_duties import PluginDuties
from twistedchat.node.proposer import CommandLog, Proposer, Writes
from twistedchat.node.router import Router
from twistedchat.plugins import PluginHost
from twistedchat.wire.message import Message

log = Logger()

#: Seconds a session that resumed here is left alone by rebalancing.
ARRIVAL_SETTLE = 10.0


@dataclass(slots=True)
class LocalSession:
    """A session of this node: its writes, and what became of its connection (which the
    router holds while it is open).

    A resumable session whose connection dropped waits until ``quit_at`` for its client to
    resume it (here or on another node) before its QUIT is proposed.
    """

    writes: Writes = field(default_factory=Writes)
    detached_at: float | None = None
    quit_at: float | None = None
    quit_reason: str = ""
    handed_out: int = 0  # the last log index handed to its connection, once it dropped
    asked_to_move: bool = False  # sent RESUME MOVE: another request asks someone else
    arrived_at: float = float("-inf")  # when it resumed here (a rebalance leaves it be)


class SessionHub:
    """Implements :class:`~twistedchat.irc.backend.ChatBackend` on top of a command log."""

    def __init__(
        self,
        node_id: str,
        state: ChatState,
        clock: IReactorTime,
        server_name: str,
        *,
        retry_interval: float = 1.0,
        detached_lifetime: float = 300.0,
        resume_grace: float = 60.0,
        reclaim_wait: float = 5.0,
        plugins: PluginHost | None = None,
        is_leader: Callable[[], bool] = lambda: False,
        administer: Callable[[str, str], None] = lambda verb, node: None,
    ):
        self.node_id = node_id
        self.state = state
        self.clock = clock
        self.server_name = server_name
        self.detached_lifetime = detached_lifetime
        self.resume_grace = resume_grace
        self.plugin_duties = (
            None
            if plugins is None
            else PluginDuties(plugins, clock, self._propose_for_node, is_leader)
        )
        self.is_leader = is_leader
        self.administer = administer  # the leader's TRANSFER and REMOVE (the service's)
        self.proposer = Proposer(node_id, clock, retry_interval)
        self.router = Router(server_name)
        self.monitors = Monitors()
        self.metadata = metadata.Subscriptions()  # draft/metadata-3, per connection
        #: Resumable sessions a previous run of this node left: (resume hash, quit time).
        self._orphans: dict[str, tuple[str, float]] = {}
        self.sessions: dict[str, LocalSession] = {}
        self.held_logins = HeldLogins(
            node_id, lambda: self.state, clock, self._submit, self._propose_for_node,
            reclaim_wait,
        )  # fmt: skip
        self._boot = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._retry_call: IDelayedCall | None = None
        self._node_session = f"{node_id}/{self._boot}/node"
        self.ready = False  # our NODE_RESET has been applied: user writes may go out
        self.applied_index = 0  # the log index the state reflects
        self._told_cut_off = False  # users were told writes are refused for now

    @property
    def log(self) -> CommandLog | None:
        return self.proposer.log

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, log_: CommandLog, irc_addresses: tuple[str, ...], web_url: str = "") -> None:
        """Attach to the log and announce this boot, ending sessions of a previous run.

        The announcement names the node's IRC addresses and, with ``web_url``, where its
        IRC over WebSocket is, for web clients moving between nodes."""
        self.proposer.log = log_
        self.sessions[self._node_session] = LocalSession()
        tags = {SERVER_TAG: self.server_name, **({WEB_TAG: web_url} if web_url else {})}
        reset = Message(NODE_RESET, irc_addresses, None, tags)
        self._submit(self._node_session, reset, None)
        self._retry_call = self.clock.callLater(self.proposer.retry_interval, self._retry)

    def stop(self, reason: str) -> None:
        self._end_local_sessions(reason)
        self.proposer.stop()
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()

    def drain(self, reason: str) -> int:
        """Ask every resumable session here to resume on another node; returns how many.

        Clients that negotiated ``twistedchat.org/resume`` get ``RESUME MOVE :<reason>``
        and move before this node leaves, so its users quit for nobody.
        """
        return self._move_some(len(self.sessions), reason, again=True)

    def request_moves(self, node: str, count: int) -> None:
        """The leader asks ``node`` (through the log) to move ``count`` resumable clients."""
        if self.ready:
            self._submit(self._node_session, Message(MOVE, (node, str(count))), None)

    def request_admin(self, verb: str, node: str) -> str | None:
        """A request from the status endpoint goes through the log like an operator's."""
        if not self.ready or not self.writable():
            return "this node cannot reach the cluster majority now"
        if node not in self.state.node_ids():
            return f"no node {node} in the cluster's log"
        self._submit(self._node_session, Message(ADMIN, (verb, node)), None)
        return None

    def clients_on(self, node: str) -> int:
        """Users the log places on ``node`` (the load the leader balances)."""
        return len(self.state.sessions_of_node(node))

    def _move_some(self, count: int, reason: str, *, again: bool = False) -> int:
        """Ask up to ``count`` of our connected resumable sessions to go elsewhere;
        returns how many were asked. A session asked before (and still moving) is asked
        ``again`` only by a drain: the leader's requests, which pile up in the log while
        a node lags, must each move someone else. A rebalance leaves alone a session that
        resumed here moments ago: it has just failed over (its node died, which is what
        unbalanced the cluster), and bouncing it on at once only adds a second failover."""
        asked = 0
        settled = self.clock.seconds() - ARRIVAL_SETTLE
        for session_id, session in list(self.sessions.items()):
            if asked == count:
                break
            if self.router.sink(session_id) is None or (session.asked_to_move and not again):
                continue
            if session.arrived_at > settled and not again:
                continue
            if self.state.is_resumable(session_id):
                self.router.tell(session_id, Message("RESUME", ("MOVE", reason)))
                session.asked_to_move = True
                asked += 1
        self.router.flush()
        return asked

    def resumable_here(self) -> int:
        """Resumable sessions the log still places on this node (a drain waits for zero).

        A client that left to resume elsewhere counts until its resume is applied.
        """
        sessions = self.state.sessions_of_node(self.node_id)
        return sum(1 for session_id in sessions if self.state.is_resumable(session_id))

    def report_node_lost(self, node_id: str) -> None:
        """The leader gave up on ``node_id``: end its users' sessions for everyone."""
        if self.ready:
            self._submit(self._node_session, Message(NODE_LOST, (node_id,)), None)

    def report_node_down(self, node_id: str, handed_out: int) -> None:
        """The leader hears nothing from ``node_id``, which is known to have handed out
        the log up to ``handed_out``: its sessions, if reclaimed, are replayed from there."""
        if self.ready:
            message = Message(NODE_DOWN, (node_id, str(handed_out)))
            self._submit(self._node_session, message, None)

    def report_node_up(self, node_id: str) -> None:
        """The leader hears from ``node_id`` again."""
        if self.ready:
            self._submit(self._node_session, Message(NODE_UP, (node_id,)), None)

    def node_is_down(self, node_id: str) -> bool | None:
        """Whether the log has ``node_id`` marked down; None if it knows no such node."""
        down_at = self.state.node_down_at(node_id)
        return None if down_at is None else down_at != 0

    # -- ChatBackend -------------------------------------------------------------------

    def _end_local_sessions(self, reason: str) -> None:
        for session_id in list(self.sessions):
            if session_id != self._node_session:
                self._drop(session_id, reason)

    def _drop(self, session_id: str, reason: str) -> None:
        """Forget a local session without proposing anything, closing its connection."""
        del self.sessions[session_id]
        self.held_logins.forget(session_id)
        self.monitors.forget(session_id)
        self.metadata.forget(session_id)
        sink = self.router.detach(session_id)
        if sink is not None:
            sink.end(reason)

    def open_session(self, sink: SessionSink, host: str) -> str:
        session_id = f"{self.node_id}/{self._boot}/{next(self._counter)}"
        self.sessions[session_id] = LocalSession()
        self.router.attach(session_id, sink)
        return session_id

    def close_session(self, session_id: str, reason: str) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            return
        self.router.detach(session_id)
        self.held_logins.forget(session_id)
        self.monitors.forget(session_id)  # a watch list is its connection's
        self.metadata.forget(session_id)  # and so are its metadata subscriptions
        session.detached_at = self.clock.seconds()
        session.handed_out = self.applied_index
        session.quit_reason = reason
        resumable = self.state.session_node(session_id) == self.node_id and (
            self.state.is_resumable(session_id)
        )
        if reason and resumable:
            session.quit_at = session.detached_at + self.resume_grace
            return
        pending = session.writes.pending
        if reason and (pending or self.state.session_nick(session_id) is not None):
            self._submit(session_id, self._lost_connection_quit(session), None)
        if not pending:
            del self.sessions[session_id]

    @staticmethod
    def _lost_connection_quit(session: LocalSession) -> Message:
        """The QUIT of a session whose connection dropped, saying what it had been handed
        (an always-on session stays, and is replayed from there)."""
        tags = {HANDED_TAG: str(session.handed_out)}
        return Message("QUIT", (session.quit_reason,), None, tags)

    def submit(self, session_id: str, message: Message, label: str | None) -> None:
        if self.held_logins.take(session_id, message, label):
            nick = self.state.session_nick(session_id) or "*"
            text = "*** Logging in to your session: checking where it is connected"
            self.router.tell(session_id, Message("NOTICE", (nick, text)))
            self.router.flush()
        else:
            self._submit(session_id, message, label)

    def query(self, session_id: str, message: Message) -> list[Message]:
        if metadata.answers(message):  # subscriptions live here (decision 0030)
            watched = self.monitors.watched(session_id)
            return self.metadata.answer(session_id, message.params, self.state, watched)
        return self.state.query(session_id, message, self.server_name)

    def monitor(self, session_id: str, message: Message) -> list[Message]:
        me = self.state.session_nick(session_id) or "*"
        return self.monitors.command(session_id, me, message.params, self.state.user_mask)

    def password_hash(self, account: str) -> str | None:
        return self.state.password_hash(account)

    def nick_in_use(self, nick: str) -> bool:
        return self.state.nick_in_use(nick)

    def nick_reclaimable(self, nick: str) -> bool:
        return self.state.nick_account(nick) is not None

    def command(self, name: str) -> Spec | None:
        return self.state.command(name)

    def writable(self) -> bool:
        return self.ready and self.log is not None and self.log.writable()

    def local_client_count(self) -> int:
        return len(self.router.connections)

    # -- proposing ---------------------------------------------------------------------

    def _submit(self, session_id: str, message: Message, label: str | None) -> None:
        writes = self.sessions[session_id].writes
        send = self.ready or session_id == self._node_session  # else held until ready
        self.proposer.propose(session_id, writes, message, label, send=send)

    def _retry(self) -> None:
        """Re-propose writes that were not applied in time (lost with a leader, say)."""
        self._tell_users_about_quorum()
        if self.plugin_duties is not None and self.ready:
            self.plugin_duties.tick(self.state.plugin_world())
        now = self.clock.seconds()
        if self.ready:
            self._quit_orphans(now)
        self.held_logins.release()
        for session_id, session in list(self.sessions.items()):
            if self.proposer.overdue(session.writes):
                if self.ready or session_id == self._node_session:
                    self.proposer.resend(session.writes)
            elif session.quit_at is not None:
                if now >= session.quit_at:
                    session.quit_at = None
                    self._submit(session_id, self._lost_connection_quit(session), None)
            elif session_id not in self.router.connections and session_id != self._node_session:
                expired = now - (session.detached_at or now) > self.detached_lifetime
                if not session.writes.pending or expired:
                    del self.sessions[session_id]
        self._retry_call = self.clock.callLater(self.proposer.retry_interval, self._retry)

    def new_leader(self) -> None:
        """A new leader is known: re-propose at once what the old one may have lost,
        instead of waiting for the retry timer (a failover then costs one election)."""
        for session_id, session in self.sessions.items():
            if session.writes.pending and (self.ready or session_id == self._node_session):
                self.proposer.resend(session.writes)

    def _propose_for_node(self, message: Message) -> None:
        """An entry of this node's own (not of a user's session)."""
        self._submit(self._node_session, message, None)

    def _tell_users_about_quorum(self) -> None:
        """Say once when this node loses the cluster's majority, and once when it is back.

        Meanwhile the connections refuse writes with a clear error (they cannot be
        committed) and keep answering queries from this replica.
        """
        if not self.ready or self.log is None or self.log.writable() != self._told_cut_off:
            return
        self._told_cut_off = not self._told_cut_off
        text = (
            "This server lost contact with the cluster majority: messages are refused until "
            "it is back; you may reconnect to another server"
            if self._told_cut_off
            else "This server is back in contact with the cluster: messages are accepted again"
        )
        for session_id in list(self.router.connections):
            nick = self.state.session_nick(session_id) or "*"
            self.router.tell(session_id, Message("NOTICE", (nick, f"*** {text}")))
        self.router.flush()

    # -- applying ----------------------------------------------------------------------

    def restore_state(self, state: ChatState, index: int) -> None:
        """Take a state installed from a snapshot of the log up to ``index``.

        At start there is nobody to tell. A running node installs one when it fell
        behind what the leader still keeps, and must do what applying the skipped
        entries would have done for its connections:

        * writes the snapshot contains are answered (with no reply: it is lost);
        * users get what those entries would have sent them, replayed from history (see
          :mod:`twistedchat.chat.skipped`): their clients saw no failure that would make
          them catch up themselves. A user whose session ended, or moved to another
          node, meanwhile is let go;
        * a connection whose registration or resume was among them lost that answer, so
          it is closed (its client connects again); a resumed session nobody here
          holds then waits for its client like one a restart left behind.
        """
        gap = state.gap(self.state, self.applied_index)
        self.state, self.applied_index = state, index
        for session_id, session in list(self.sessions.items()):
            settled = self._settle_restored(session_id, session)
            sink = self.router.sink(session_id)
            if sink is None:
                continue
            if gap.had_user(session_id):
                if state.session_node(session_id) != self.node_id:
                    self._drop(session_id, "Session ended or moved while this server caught up")
                    continue
                for delivery in gap.missed(session_id):  # to this connection only
                    self.router.share([sink], delivery)
            elif settled:
                sink.end("Registration interrupted while this server caught up")
                self.close_session(session_id, "Connection closed")
        self.router.flush()
        if self.ready:  # at start, the node adopts them once it caught up (_became_ready)
            self._adopt_orphans()
            if state.node_down_at(self.node_id):
                self.report_node_up(self.node_id)  # marked down while we caught up

    def _settle_restored(self, session_id: str, session: LocalSession) -> bool:
        """Answer the writes of ``session`` the restored state contains; returns whether
        there were any."""
        applied = self.state.last_applied_seq(session_id)
        done = self.proposer.settle_restored(applied, session.writes)
        for write in done:
            if session_id == self._node_session:
                self._became_ready()
            sink = self.router.sink(session_id)
            if sink is not None:
                sink.respond(write.label, [])
        return bool(done)

    def apply(self, index: int, data: bytes, time: int) -> None:
        """Apply the committed log entry ``index`` (of the log's ``time``) and hand what
        it sent to local sessions (held until :meth:`flush`)."""
        self.applied_index = index
        command = Command.decode(data, time)
        applied = self.state.apply(index, command)
        try:
            self._after_apply(command, applied)
        except Exception:  # the state moved on; a bug here must not stall the log for all
            log.failure("handing out entry {index} failed", index=index)

    def flush(self) -> None:
        """The log applied a batch of entries: write what they sent, once per connection."""
        self.held_logins.release()  # the batch may have marked their nodes down
        self.router.flush()

    def _after_apply(self, command: Command, applied: Applied) -> None:
        self._follow_admin(applied.admin)
        message = command.message
        params = message.params
        if message.command == MOVE and params[:1] == (self.node_id,) and len(params) > 1:
            count = int(params[1]) if params[1].isdigit() else 0
            self._move_some(count, "Rebalancing: another server has more room")
        if message.command == NODE_LOST and params == (self.node_id,):
            self._end_local_sessions("Node lost: this node was cut off from its cluster")
        self._answer_probe(message)
        self.held_logins.answered(message)
        if message.command == NODE_DOWN and params[:1] == (self.node_id,):
            self.report_node_up(self.node_id)  # we are applying entries: a stale mark
        resumed = self._follow_resume(command, applied.moved)
        if applied.attached is not None and self.router.sink(command.session) is not None:
            self.router.join(applied.attached, command.session)  # multiclient
        event = applied.event
        if event is not None and self.plugin_duties is not None:
            self.plugin_duties.applied(event)
        user = self.state.user_session_of(command.session)
        replies, after = self.router.hand_out(applied.deliveries, command.session, user)
        origin = self.sessions.get(command.session)
        if origin is not None:
            self._settle(command, origin, replies)
        self._share(user, command.session, replies)
        for delivery in after:  # once the answer (a welcome burst, say) is out
            self.router.deliver(delivery)
        monitors = self.monitors
        for session_id, notice in monitors.notices(applied.presence, self.state.session_nick):
            self.router.deliver(Delivery(session_id, notice))
        for session_id, change in monitors.extended(applied.changes):
            self.router.deliver(Delivery(session_id, change, needs=EXTENDED_MONITOR))
        told = self.metadata.notices(applied.metadata, self.state.session_nick, monitors.watchers)
        told += self.metadata.joined(applied.joins, self.state, self.router.sinks)
        for session_id, line in told:
            self.router.deliver(Delivery(session_id, line, needs=METADATA_CAP))
        if resumed:  # its connection now has the old id
            self.sessions.pop(command.session, None)
            self.router.detach(command.session)

    def _share(self, user: str, connection: str, replies: list[Delivery]) -> None:
        """Show the other connections here of ``user`` (multiclient) what the answer to
        one of its connections changed for all of them: its own messages (whatever
        their echo-message), joins, parts, nick and mode changes, channel state; not
        errors and other replies only the asking client understands."""
        others = self.router.others(user, connection)
        if not others:
            return
        for reply in replies:
            if reply.session == user and multiclient_view.shared(reply.message):
                self.router.share(others, replace(reply, echo=False))

    def _answer_probe(self, message: Message) -> None:
        """A node holding a login asks whether a session's connection is here (see
        :mod:`~twistedchat.node.held_logins`): say so if it is."""
        params = message.params
        if message.command != PROBE or not params or self.router.sink(params[0]) is None:
            return
        if self.state.session_node(params[0]) == self.node_id:
            self._propose_for_node(Message(ALIVE, (params[0],)))

    def _follow_admin(self, request: tuple[str, str] | None) -> None:
        """An operator's CLUSTER request was applied: the node it names drains, and the
        leader hands over leadership or changes the membership."""
        if request is None:
            return
        verb, node = request
        log.info("operator request: {verb} {node}", verb=verb, node=node)
        if verb == "DRAIN" and node == self.node_id:
            self.drain("This server is being drained by an operator")
        elif verb in ("TRANSFER", "REMOVE") and self.is_leader():
            self.administer(verb, node)

    def _follow_resume(self, command: Command, resumed: str | None) -> bool:
        """Hand a resumed session to its new connection, or let go of it if it left us.

        Returns whether the resume was proposed here and succeeded.
        """
        if resumed is None:
            return False
        if resumed in self.sessions:  # it was ours: no QUIT, its old connection just goes
            self._drop(resumed, "Session resumed from another connection")
        if command.node != self.node_id:
            return False
        last = self.state.last_applied_seq(resumed)
        session = LocalSession(Writes(next_seq=last + 1, acked=last))
        session.arrived_at = self.clock.seconds()
        self.sessions[resumed] = session
        connection = self.router.sink(command.session)
        if connection is None:  # the resuming connection is gone too
            now = self.clock.seconds()
            session.detached_at, session.quit_at = now, now + self.resume_grace
            session.quit_reason = "Connection closed"
            session.handed_out = self.applied_index - 1  # it got nothing of this resume
            return False
        self.router.attach(resumed, connection)
        self.monitors.move(command.session, resumed)
        self.metadata.move(command.session, resumed)
        connection.adopt(resumed)
        self._carry_over(command, resumed)
        return True

    def _carry_over(self, command: Command, resumed: str) -> None:
        """The connection sent writes after the one that gave it ``resumed`` (NickServ
        IDENTIFY, pipelined): they were proposed as its old session, which has ended, so
        propose them again, in order, as the session it now is (each answered once)."""
        old = self.sessions.get(command.session)
        if old is None:
            return
        later = [w for w in old.writes.pending if w.seq > command.seq]
        for write in later:
            old.writes.pending.remove(write)
            self._submit(resumed, Command.decode(write.data, 0).message, write.label)

    def _settle(self, command: Command, session: LocalSession, replies: list[Delivery]) -> None:
        done = self.proposer.settle(command, session.writes)
        if done is None:
            return
        if command.session == self._node_session:
            self._became_ready()
        sink = self.router.sink(command.session)
        if sink is not None:
            sink.respond(done.label, replies)
        elif not session.writes.pending and command.session != self._node_session:
            self.sessions.pop(command.session, None)

    def _became_ready(self) -> None:
        """Our NODE_RESET is applied: send held writes, and take charge of the resumable
        sessions a previous run of this node left (quit them unless resumed in time)."""
        if not self.ready:
            self._adopt_orphans()
        self.ready = True
        for session_id, session in self.sessions.items():
            if session_id != self._node_session:
                self.proposer.resend(session.writes)

    def _adopt_orphans(self) -> None:
        """Resumable sessions the log places here that no connection of ours holds: quit
        them unless their clients resume them in time."""
        quit_at = self.clock.seconds() + self.resume_grace
        for session_id in self.state.sessions_of_node(self.node_id):
            resume_hash = self.state.resume_hash_of(session_id)
            known = session_id in self.sessions or session_id in self._orphans
            if not known and resume_hash is not None:
                self._orphans[session_id] = (resume_hash, quit_at)

    def _quit_orphans(self, now: float) -> None:
        """Propose the end of orphans whose grace ran out; the state ignores the ones
        resumed meanwhile. Proposed by the node session: an orphan's own sequence numbers
        may still be in use by writes its old connection left in flight."""
        for session_id, (resume_hash, quit_at) in list(self._orphans.items()):
            if now >= quit_at:
                del self._orphans[session_id]
                message = Message(ORPHAN_QUIT, (session_id, resume_hash))
                self._submit(self._node_session, message, None)
