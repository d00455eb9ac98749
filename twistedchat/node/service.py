"""The node: wires IRC listeners, the session hub, Raft and the status endpoint together."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.application import service
from twisted.internet import endpoints, reactor
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.logger import Logger

from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.irc.isupport import isupport_tokens
from twistedchat.irc.protocol import IRCFactory
from twistedchat.irc.settings import ConnectionSettings
from twistedchat.node.hub import SessionHub
from twistedchat.node.options import ChatNodeOptions
from twistedchat.node.replica import RaftReplica
from twistedchat.node.status import status_site
from twistedchat.raft.core import RaftConfig
from twistedchat.raft.messages import Configuration
from twistedchat.raft.storage import RaftStorage
from twistedchat.raft.transport import PeerTransport

log = Logger()

ELECTION_TICKS = 10


@dataclass(frozen=True)
class NodeConfig:
    """Everything the node needs from its command line, validated."""

    node_id: str
    data_dir: Path
    cluster: str
    irc: tuple[str, ...]
    peer: str
    status: str
    joins: tuple[str, ...]
    settings: ConnectionSettings
    election_timeout_ms: int
    snapshot_every: int


class ChatNodeService(service.Service):
    """Starts the pieces in dependency order and stops them in reverse."""

    def __init__(self, config: NodeConfig, clock: IReactorTime | None = None):
        self.config = config
        self.clock: IReactorTime = clock or reactor
        self.limits = ChatLimits()
        self.hub: SessionHub | None = None
        self.replica: RaftReplica | None = None
        self.transport: PeerTransport | None = None
        self.storage: RaftStorage | None = None
        self._ports: list[IListeningPort] = []

    @classmethod
    def from_options(cls, options: ChatNodeOptions) -> ChatNodeService:
        motd = None
        if options["motd"]:
            motd = tuple(Path(options["motd"]).read_text(errors="replace").splitlines())
        limits = ChatLimits()
        settings = ConnectionSettings(
            server_name=options["name"],
            network=options["network"],
            created=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            isupport=isupport_tokens(limits, options["network"]),
            motd=motd,
            max_clients=options["max-clients"],
            flood_burst=options["flood-burst"],
            flood_rate=options["flood-rate"],
        )
        config = NodeConfig(
            node_id=options["node-id"],
            data_dir=Path(options["data-dir"]),
            cluster=options["cluster"],
            irc=tuple(options["irc"]),
            peer=options["peer"],
            status=options["status"],
            joins=tuple(options["join"]),
            settings=settings,
            election_timeout_ms=options["election-timeout"],
            snapshot_every=options["snapshot-every"],
        )
        return cls(config)

    # -- start -------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        ensureDeferred(self._start()).addErrback(self._fail)

    async def _start(self) -> None:
        c = self.config
        c.data_dir.mkdir(parents=True, exist_ok=True)
        self.storage = RaftStorage.open(str(c.data_dir / "raft"))
        hub = self.hub = SessionHub(
            c.node_id, ChatState(self.limits), self.clock, c.settings.server_name
        )
        self.transport = PeerTransport(
            c.node_id,
            c.cluster,
            c.peer,
            reactor=self.clock,
        )
        tick = c.election_timeout_ms / 1000 / ELECTION_TICKS
        self.replica = RaftReplica(
            c.node_id,
            self.storage,
            self.transport,
            self.clock,
            config=RaftConfig(election_ticks=ELECTION_TICKS, heartbeat_ticks=2),
            tick_seconds=tick,
            apply_command=hub.apply,
            take_snapshot=lambda: hub.state.snapshot(),
            restore_snapshot=self._restore_chat,
            snapshot_every=c.snapshot_every,
            rng=random.Random(),
        )
        await self.transport.start()
        self.replica.start()
        if not self.replica.decided:
            self.replica.found_cluster(frozenset({c.node_id, *c.joins}))
        hub.start(self.replica, c.irc)
        factory = IRCFactory(hub, c.settings, self.clock, self.limits.nicklen)
        for description in c.irc:
            endpoint = endpoints.serverFromString(reactor, description)
            self._ports.append(await endpoint.listen(factory))
        status_endpoint = endpoints.serverFromString(reactor, c.status)
        self._ports.append(await status_endpoint.listen(status_site(self.describe)))
        log.info(
            "chatnode {node} up: IRC {irc}, peers {peer}, status {status}, cluster {members}",
            node=c.node_id, irc=", ".join(c.irc), peer=c.peer, status=c.status,
            members=sorted(self.replica.core.configuration.members()),
        )  # fmt: skip

    def _restore_chat(self, data: bytes) -> None:
        assert self.hub is not None
        self.hub.restore_state(ChatState.restore(data, self.limits))

    def _fail(self, failure: Any) -> None:
        log.failure("chatnode failed to start", failure)
        print(f"chatnode: cannot start: {failure.getErrorMessage()}", flush=True)
        reactor.stop()

    # -- stop --------------------------------------------------------------------------

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self.replica is not None:
            await self.replica.hand_over_leadership()
        if self.hub is not None:
            self.hub.stop("Server shutting down")
        await DeferredList([Deferred.fromCoroutine(_stop_port(p)) for p in self._ports])
        self._ports.clear()
        if self.replica is not None:
            self.replica.stop()
        if self.transport is not None:
            await self.transport.stop()
        if self.storage is not None:
            self.storage.close()

    # -- status ------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The ``GET /status`` document."""
        assert self.replica is not None and self.hub is not None
        core = self.replica.core
        config = core.configuration
        state = self.hub.state
        members = [
            {
                "id": member,
                "voter": member in config.voters,
                "irc": state.node_addresses(member),
                "clients": len(state.sessions_of_node(member)),
            }
            for member in sorted(config.members())
        ]
        return {
            "node_id": self.config.node_id,
            "role": core.role,
            "term": core.term,
            "leader": core.leader_id,
            "commit_index": core.commit_index,
            "applied_index": core.applied_index,
            "members": members,
            "clients": self.hub.local_client_count(),
            "users": state.user_count(),
            "channels": state.channel_count(),
        }


async def _stop_port(port: IListeningPort) -> None:
    stopped = port.stopListening()
    if stopped is not None:
        await stopped
