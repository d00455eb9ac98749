"""The node: wires IRC listeners, the session hub, Raft and the status endpoint together."""

from __future__ import annotations

import hashlib
import random
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from OpenSSL import SSL
from twisted.application import service
from twisted.internet import endpoints, reactor
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.interfaces import IListeningPort, IReactorFromThreads, IReactorTime
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.usage import UsageError

from twistedchat.chat.limits import ChatLimits
from twistedchat.chat.state import ChatState
from twistedchat.discovery.directory import Directory
from twistedchat.discovery.front_door import FrontDoorFactory
from twistedchat.discovery.public import Answer, build_answer
from twistedchat.discovery.secret import load_or_create_secret
from twistedchat.discovery.udp import DiscoveryProtocol, listen_discovery
from twistedchat.discovery.wire import Decoder
from twistedchat.irc.isupport import isupport_tokens
from twistedchat.irc.protocol import IRCFactory
from twistedchat.irc.settings import ConnectionSettings
from twistedchat.irc.tls import ReloadableServerContext, tls_endpoint
from twistedchat.node.cluster import Addresses, ClusterAgent
from twistedchat.node.fingerprint import (
    Fingerprint,
    differences,
    plugin_settings,
    refusal,
    settings_fingerprint,
)
from twistedchat.node.hub import SessionHub
from twistedchat.node.membership import MembershipPolicy
from twistedchat.node.metrics import NodeMetrics, follower_lag, node_metrics
from twistedchat.node.options import ChatNodeOptions, endpoint_host_port, plugin_config
from twistedchat.node.replica import RaftReplica
from twistedchat.node.snapshotter import ForkSnapshotter
from twistedchat.node.status import status_site
from twistedchat.plugins import PluginError, PluginHost
from twistedchat.raft.core import ConfigChangeRefused, NotLeader, RaftConfig
from twistedchat.raft.messages import Configuration
from twistedchat.raft.storage import RaftStorage
from twistedchat.raft.transport import PeerTransport
from twistedchat.raft.writer import ThreadedWriter
from twistedchat.security.admission import PeerAdmission
from twistedchat.security.hashing import ThreadPoolHasher
from twistedchat.security.peertls import PeerTLS, probe
from twistedchat.startup import abort_start, step, usable_directory
from twistedchat.web.handshake import OriginPolicy, origin_of
from twistedchat.web.site import web_site

log = Logger()

ELECTION_TICKS = 10
#: AppendEntries in flight to one follower. A turn's proposals leave as one append, so
#: under load appends are many and small; 8 (the core's default) paused replication
#: behind the round trip (commits through IRC, 20 senders, 3 nodes: 12.4k/s at 8,
#: 14.5k/s at 64). etcd allows 256 by default. They reference the log, not copies.
MAX_INFLIGHT_APPENDS = 64
#: A node unheard by discovery for this long is no longer offered to clients.
DIRECTORY_EXPIRY = 5.0
#: How long a leaving node keeps going so the leader hears it and removes it.
LEAVE_GRACE = 0.5
#: How long a stopping node waits for its resumable clients to move elsewhere.
DRAIN_TIMEOUT = 5.0


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
    discovery_port: int
    broadcast: str
    secret_file: Path
    policy: MembershipPolicy
    limits: ChatLimits
    resume_grace: float = 60.0
    plugins: PluginHost | None = None
    plugin_config: str | None = None  # re-read on SIGHUP
    status_token: str | None = None  # bearer token the status endpoint requires
    peer_tls: PeerTLS | None = None  # None: plain TCP between nodes (--insecure-peers)
    websocket: str | None = None  # the web endpoint: IRC over WebSocket and the web client
    websocket_origins: tuple[str, ...] = ()  # --websocket-origin: beside the cluster's own
    websocket_url: str | None = None  # --websocket-url: where browsers reach it (a proxy)


class ChatNodeService(service.Service):
    """Starts the pieces in dependency order and stops them in reverse."""

    def __init__(self, config: NodeConfig, clock: IReactorTime | None = None):
        self.config = config
        self.clock: IReactorTime = clock or reactor
        self.limits = config.limits
        #: How this node applies the log; peers with another are refused.
        self.fingerprint = self._fingerprint(config.plugins.config if config.plugins else {})
        self.hub: SessionHub | None = None
        self.replica: RaftReplica | None = None
        self.transport: PeerTransport | None = None
        self.storage: RaftStorage | None = None
        self.writer: ThreadedWriter | None = None
        self.agent: ClusterAgent | None = None
        self.directory = Directory(expiry=DIRECTORY_EXPIRY)
        self._ports: list[IListeningPort] = []
        self._tls_contexts: list[ReloadableServerContext] = []
        self._discovery_port: IListeningPort | None = None
        self._discovery: DiscoveryProtocol | None = None
        self._front_door: FrontDoorFactory | None = None
        self.hasher = ThreadPoolHasher()  # passwords, off the reactor thread
        self.irc_factory: IRCFactory | None = None  # its flood and SendQ counters: /metrics
        self.metrics: NodeMetrics | None = None

    @classmethod
    def from_options(cls, options: ChatNodeOptions) -> ChatNodeService:
        motd = None
        if options["motd"]:
            with step(f"cannot read --motd {options['motd']}"):
                motd = tuple(Path(options["motd"]).read_text(errors="replace").splitlines())
        limits = ChatLimits(
            history_max=options["history-max"],
            history_days=options["history-days"],
            always_on=options["always-on"],
            always_on_days=options["always-on-days"],
            chanlimit=options["chanlimit"],
            targmax=options["targmax"],
        )
        host: PluginHost = options["plugins"]
        settings = ConnectionSettings(
            server_name=options["name"],
            network=options["network"],
            created=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            isupport=(*isupport_tokens(limits, options["network"]), *host.isupport()),
            extra_caps=frozenset(host.capabilities()),
            motd=motd,
            max_clients=options["max-clients"],
            max_per_address=options["max-per-address"],
            registration_timeout=options["registration-timeout"],
            sendq_bytes=options["sendq"],
            min_password=options["min-password"],
            server_password=options["password"],
            connect_rate=options["connect-rate"],
            operators=tuple(options["oper"]),
            sts_port=_tls_port(options["irc"]),
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
            discovery_port=options["discovery-port"],
            broadcast=options["broadcast"],
            secret_file=Path(options["secret-file"]),
            limits=limits,
            resume_grace=options["resume-grace"],
            plugins=host if host.names() else None,
            plugin_config=options["plugin-config"],
            status_token=options["status-token"],
            peer_tls=options["peer-tls"],
            websocket=options["websocket"],
            websocket_origins=tuple(options["websocket-origin"]),
            websocket_url=options["websocket-url"],
            policy=MembershipPolicy(
                max_voters=options["max-voters"],
                bootstrap_expect=options["bootstrap-expect"],
                bootstrap_settle=options["bootstrap-settle"],
                dead_timeout=options["dead-node-timeout"],
            ),
        )
        return cls(config)

    # -- start -------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(self.reload))  # type: ignore[attr-defined]
        ensureDeferred(self._start()).addErrback(self._fail)

    async def _start(self) -> None:
        c = self.config
        with step(f"cannot use data directory {c.data_dir}"):
            usable_directory(c.data_dir)
        with step(f"cannot open the Raft log in {c.data_dir / 'raft'}"):
            self.storage = RaftStorage.open(str(c.data_dir / "raft"))
        hub = self.hub = SessionHub(
            c.node_id,
            ChatState(self.limits, c.plugins),
            self.clock,
            c.settings.server_name,
            resume_grace=c.resume_grace,
            plugins=c.plugins,
            is_leader=lambda: self.replica is not None and self.replica.is_leader(),
            administer=self._administer,
        )
        if c.peer_tls is None:
            log.warn(
                "INSECURE: peer links are plain TCP (--insecure-peers): whoever reaches {peer} "
                "can read and inject Raft traffic; use --peer-tls-dir certificates instead",
                peer=c.peer,
            )
        log.info("settings fingerprint {digest}: {settings}", digest=self.fingerprint.digest,
                 settings=self.fingerprint.describe())  # fmt: skip
        self.transport = PeerTransport(
            c.node_id,
            c.cluster,
            c.peer,
            reactor=self.clock,
            tls=c.peer_tls,
            app=self.fingerprint.canonical,
            explain_app=partial(refusal, self.fingerprint),
        )
        tick = c.election_timeout_ms / 1000 / ELECTION_TICKS
        threads = cast(IReactorFromThreads, reactor)
        self.writer = ThreadedWriter(self.storage, threads, self._storage_failed)
        self.replica = RaftReplica(
            c.node_id,
            self.storage,
            self.transport,
            self.clock,
            config=RaftConfig(
                election_ticks=ELECTION_TICKS,
                heartbeat_ticks=2,
                max_inflight_appends=MAX_INFLIGHT_APPENDS,
            ),
            tick_seconds=tick,
            apply_command=hub.apply,
            applied_batch=hub.flush,
            take_snapshot=lambda: hub.state.snapshot(),
            restore_snapshot=self._restore_chat,
            snapshot_every=c.snapshot_every,
            rng=random.Random(),
            writer=self.writer,
            snapshotter=ForkSnapshotter(threads),
        )
        self.replica.on_new_leader = hub.new_leader
        with step(f"cannot listen on peer {c.peer}"):
            await self.transport.start()
        self.replica.start()
        await self._start_discovery(hub)
        hub.start(self.replica, c.irc, self._web_url())
        self.hasher.start()
        irc_factory = IRCFactory(hub, c.settings, self.clock, self.limits.nicklen, self.hasher)
        # The IRC port also answers the public directory (docs/decisions/0033).
        factory = self._front_door = FrontDoorFactory(
            irc_factory, self._public_answer, c.settings.server_name, self.clock
        )
        for description in c.irc:
            with step(f"cannot listen on IRC {description}"):
                await self._listen(description, factory)
        if c.websocket is not None:
            origins = OriginPolicy(c.websocket_origins, self._web_origins)
            with step(f"cannot listen on --websocket {c.websocket}"):
                await self._listen(c.websocket, web_site(irc_factory, origins, self._web_nodes))
        self.irc_factory = irc_factory
        metrics = self.metrics = node_metrics(self)
        metrics.start()
        site = status_site(
            self.describe,
            c.status_token,
            hub.request_admin,
            metrics=metrics.exposition,
            origins=self.status_origins,
        )
        with step(f"cannot listen on status {c.status}"):
            status_endpoint = endpoints.serverFromString(reactor, c.status)
            self._ports.append(await status_endpoint.listen(site))
        log.info(
            "chatnode {node} up: IRC {irc}, peers {peer}, status {status}, cluster {members}",
            node=c.node_id, irc=", ".join(c.irc), peer=c.peer, status=c.status,
            members=sorted(self.replica.configuration.members()),
        )  # fmt: skip

    async def _listen(self, description: str, factory: Factory[Any]) -> None:
        """Listen on ``description``; an ``ssl:`` one's certificate reloads on SIGHUP."""
        reloadable = tls_endpoint(reactor, description)
        if reloadable is None:
            endpoint = endpoints.serverFromString(reactor, description)
        else:
            endpoint, context = reloadable
            self._tls_contexts.append(context)
        self._ports.append(await endpoint.listen(factory))

    async def _start_discovery(self, hub: SessionHub) -> None:
        c = self.config
        assert self.replica is not None
        with step(f"cannot read the cluster secret {c.secret_file}"):
            secret, created = load_or_create_secret(c.secret_file, create=True)
        if created:
            log.info(
                "new cluster secret written to {path}; start the other nodes of this cluster "
                "with --secret-file pointing at a copy of it",
                path=str(c.secret_file),
            )
        targets = [(c.broadcast, c.discovery_port)]
        targets += [(join.rpartition(":")[0], c.discovery_port) for join in c.joins]
        protocol = DiscoveryProtocol(
            Decoder(secret, c.cluster), secret, targets, self.clock, time.time
        )
        self.agent = ClusterAgent(
            c.cluster,
            Addresses(
                peer=c.node_id,
                irc=_host_port(c.irc[0], c.node_id),
                status=_host_port(c.status, c.node_id),
            ),
            self.replica,
            self.directory,
            self.clock,
            send_announcement=protocol.send,
            client_count=hub.local_client_count,
            node_lost=hub.report_node_lost,
            load_of=hub.clients_on,
            rebalance=hub.request_moves,
            silence=2 * c.election_timeout_ms / 1000,
            node_down=hub.report_node_down,
            node_up=hub.report_node_up,
            is_down=hub.node_is_down,
            capacity=c.settings.max_clients,
            policy=c.policy,
            settings=self.fingerprint.digest,
        )
        protocol.on_announcement = self.agent.heard
        if c.peer_tls is not None:  # a node joins only once it proved its identity over TLS
            tls, replica = c.peer_tls, self.replica
            protocol.on_announcement = PeerAdmission(
                self.agent.heard,
                lambda node_id: probe(reactor, tls, node_id),
                lambda node_id: node_id in replica.configuration.members(),
                self.clock,
            ).heard
        protocol.on_query = self.agent.answer
        with step(f"cannot listen on discovery udp:{c.discovery_port}"):
            self._discovery_port = listen_discovery(
                reactor,  # type: ignore[arg-type]
                c.discovery_port,
                protocol,
            )
        self._discovery = protocol
        self.agent.start()

    def _public_answer(self, excluded: frozenset[str]) -> Answer:
        """What the IRC port tells anyone who asks ``NODES``: the serving members with
        their IRC endpoints from the log, and, on the leader, its assignment."""
        assert self.replica is not None and self.hub is not None
        replica, state = self.replica, self.hub.state
        return build_answer(
            members=replica.configuration.members(),
            alive=self.directory.alive(self.clock.seconds()),
            addresses_of=state.node_addresses,
            role=str(replica.role),
            term=replica.term,
            leader_id=replica.leader_id,
            leading=replica.is_leader() and not (self.agent is not None and self.agent.leaving),
            excluded=excluded,
        )

    # -- the web endpoint --------------------------------------------------------------

    def _web_url(self) -> str:
        """Where browsers reach this node's IRC over WebSocket ("" without --websocket):
        ``--websocket-url``, else derived from the endpoint."""
        description = self.config.websocket
        if description is None:
            return ""
        if self.config.websocket_url is not None:
            return self.config.websocket_url
        scheme = "wss" if description.startswith("ssl:") else "ws"
        return f"{scheme}://{_host_port(description, self.config.node_id)}/"

    def _web_nodes(self) -> dict[str, Any]:
        """``GET /nodes.json``: the web endpoint of every serving node, from the log."""
        assert self.replica is not None and self.hub is not None
        replica, state, hub = self.replica, self.hub.state, self.hub
        heard = {a.node_id for a in self.directory.alive(self.clock.seconds())}
        heard.add(self.config.node_id)
        nodes = [
            {"id": node, "url": state.node_web(node), "leader": node == replica.leader_id}
            for node in sorted(replica.configuration.members())
            if state.node_web(node) and node in heard and not hub.node_is_down(node)
        ]
        return {"self": self.config.node_id, "nodes": nodes}

    def _web_origins(self) -> set[str]:
        """The origins of the cluster's web endpoints: their pages may open WebSockets."""
        assert self.replica is not None and self.hub is not None
        state = self.hub.state
        urls = [state.node_web(node) for node in self.replica.configuration.members()]
        origins = {origin_of(url) for url in [*urls, self._web_url()] if url}
        return {origin for origin in origins if origin is not None}

    def _administer(self, verb: str, node: str) -> None:
        """On the leader, an operator's CLUSTER TRANSFER or REMOVE (see the hub)."""
        replica = self.replica
        assert replica is not None
        try:
            if verb == "TRANSFER" and node != self.config.node_id:
                replica.transfer_leadership(node)
            elif verb == "REMOVE" and node != self.config.node_id:
                config = replica.configuration
                replica.change_membership(
                    Configuration(config.voters - {node}, config.learners - {node})
                )
                assert self.hub is not None
                self.hub.report_node_lost(node)
        except (NotLeader, ConfigChangeRefused, ValueError) as refused:
            log.warn("operator request {verb} {node} refused: {why}", verb=verb, node=node,
                     why=refused)  # fmt: skip

    def _restore_chat(self, index: int, data: bytes) -> None:
        assert self.hub is not None
        state = ChatState.restore(data, self.limits, self.config.plugins)
        self.hub.restore_state(state, index)

    def reload(self) -> None:
        """SIGHUP: the IRC TLS certificates and the plugin configuration, read again."""
        for context in self._tls_contexts:
            try:
                context.reload()
                log.info("IRC certificate reloaded from {path}", path=context.cert_path)
            except (OSError, ValueError, SSL.Error) as error:
                log.error("IRC certificate reload failed, keeping the old one: {e}", e=error)
        if self.config.plugins is None:
            return
        try:
            config = plugin_config(self.config.plugin_config)
            if self._keeps_fingerprint(config):
                self.config.plugins.reload(config)
        except (UsageError, PluginError) as error:
            log.error("plugin reload failed, keeping the old configuration: {e}", e=error)

    def _fingerprint(self, config: Mapping[str, Mapping[str, Any]]) -> Fingerprint:
        """This node's settings fingerprint, with ``config`` for its plugins."""
        return settings_fingerprint(self.limits, plugin_settings(self.config.plugins, config))

    def _keeps_fingerprint(self, config: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether a reload with ``config`` leaves the rules of applying the log as
        they are. The other nodes would not change with us, and our state would drift from
        theirs, so a configuration that changes them is refused with one line."""
        new = self._fingerprint(config)
        if new.digest == self.fingerprint.digest:
            return True
        log.error(
            "plugin reload refused, keeping the old configuration: the new --plugin-config "
            "changes how this node applies the log (settings fingerprint {new}, running "
            "{old}: {diff}); a change that does must be made on every node, with a restart",
            new=new.digest, old=self.fingerprint.digest,
            diff=differences(self.fingerprint, new, "in the file", "running"),
        )  # fmt: skip
        return False

    def _fail(self, failure: Failure) -> None:
        """A start-up step failed: one line says which and why, and the process exits 1."""
        abort_start("chatnode", failure)

    # -- stop --------------------------------------------------------------------------

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()
        await self._drain()
        if self.replica is not None:
            await self.replica.hand_over_leadership()
        if self.agent is not None:
            self.agent.leave()
            await deferLater(self.clock, LEAVE_GRACE, lambda: None)
            self.agent.stop()
        if self._discovery_port is not None:
            await _stop_port(self._discovery_port)
        if self.hub is not None:
            self.hub.stop("Server shutting down")
        await DeferredList([Deferred.fromCoroutine(_stop_port(p)) for p in self._ports])
        self._ports.clear()
        self.hasher.stop()
        if self.replica is not None:
            self.replica.stop()
        if self.transport is not None:
            await self.transport.stop()
        if self.writer is not None:
            self.writer.close()
        if self.storage is not None:
            self.storage.close()

    def _storage_failed(self, reason: str) -> None:
        if self.replica is not None:
            self.replica.storage_failed(reason)

    async def _drain(self) -> None:
        """Let resumable clients (the gateway, ``ChatClient``) move before we leave."""
        if self.hub is None or not self.hub.drain("This server is shutting down"):
            return
        deadline = self.clock.seconds() + DRAIN_TIMEOUT
        while self.hub.resumable_here() and self.clock.seconds() < deadline:
            await deferLater(self.clock, 0.1, lambda: None)
        log.info("drained; {n} resumable clients stayed", n=self.hub.resumable_here())

    # -- status ------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The ``GET /status`` document."""
        assert self.replica is not None and self.hub is not None
        replica = self.replica
        config = replica.configuration
        state = self.hub.state
        now = self.clock.seconds()
        lag = follower_lag(self)
        members = []
        for member in sorted(config.members()):
            announced = self.directory.get(member)
            sightings = [self.replica.last_contact.get(member), self.directory.last_heard(member)]
            heard = max((t for t in sightings if t is not None), default=None)
            members.append(
                {
                    "id": member,
                    "voter": member in config.voters,
                    "irc": announced.irc if announced else _first_address(state, member),
                    "clients": len(state.sessions_of_node(member)),
                    "last_contact_seconds_ago": None
                    if member == self.config.node_id or heard is None
                    else round(now - heard, 3),
                    # What its announcements last said (the dashboard fetches the rest).
                    "status": self._status_address()
                    if member == self.config.node_id
                    else (announced.status if announced else None),
                    "announced_role": announced.role if announced else None,
                    "announced_term": announced.term if announced else None,
                    "lag": lag.get(member),  # leader only: entries it does not hold yet
                }
            )
        return {
            "node_id": self.config.node_id,
            "role": replica.role,
            "term": replica.term,
            "leader": replica.leader_id,
            "commit_index": replica.commit_index,
            "applied_index": replica.applied_index,
            # Nodes at the same applied index must hold the same chat state (chaos checks).
            "state_digest": hashlib.sha256(state.snapshot()).hexdigest()[:16],
            # Nodes refuse each other unless these are equal (docs/decisions/0014).
            "settings_fingerprint": self.fingerprint.digest,
            "settings": self.fingerprint.values(),
            "members": members,
            "voters": sorted(config.voters),
            "learners": sorted(config.learners),
            "discovery": self.discovery_counters(),
            # Frames, refusals (bad frames, Hellos, forged src) and what non-members sent.
            "peer_links": self.peer_link_counters(),
            "public_directory": self._front_door.counters if self._front_door else {},
            "clients": self.hub.local_client_count(),
            "users": state.user_count(),
            "channels": state.channel_count(),
            "last_index": replica.last_index,
            "leader_changes": replica.leader_changes,
            "elections": replica.elections_started,
            "messages": self.hub.messages_applied,
            "deliveries": self.hub.router.delivered,
            "flood_kills": self.irc_factory.flood_kills if self.irc_factory else 0,
            "sendq_drops": self.irc_factory.sendq_drops if self.irc_factory else 0,
            # Messages applied per second, every 2 s over the last 10 minutes (dashboard).
            "message_rate": self.metrics.message_rate.document() if self.metrics else None,
        }

    def discovery_counters(self) -> dict[str, int]:
        """Announcements accepted, refused by reason, and queries rate-limited."""
        return {
            **(self._discovery.decoder.counters if self._discovery else {}),
            "rate_limited": self._discovery.rate_limited if self._discovery else 0,
        }

    def peer_link_counters(self) -> dict[str, int]:
        """The transport's counters and what non-members sent."""
        return {
            **(self.transport.stats() if self.transport else {}),
            "ignored_from_non_members": self.replica.ignored_from_non_members
            if self.replica
            else 0,
        }

    def _status_address(self) -> str:
        return _host_port(self.config.status, self.config.node_id)

    def status_origins(self) -> set[str]:
        """The web origins of the members' status sites: a dashboard served by one of
        them may read the others' ``/status`` (CORS); no other page may."""
        addresses = {self._status_address()}
        for member in self.replica.configuration.members() if self.replica else ():
            announced = self.directory.get(member)
            if announced is not None and announced.status:
                addresses.add(announced.status)
        return {f"{scheme}://{address}" for address in addresses for scheme in ("http", "https")}


def _tls_port(irc: list[str]) -> int | None:
    """The port of the first ``ssl:`` IRC endpoint, advertised to clients with ``sts``."""
    for description in irc:
        parts = description.split(":")
        if parts[0] == "ssl" and len(parts) > 1 and parts[1].isdigit():
            return int(parts[1])
    return None


def _first_address(state: ChatState, member: str) -> str | None:
    """A member's IRC address as the replicated state knows it (before discovery hears it)."""
    addresses = state.node_addresses(member)
    return _host_port(addresses[0], member) if addresses else None


def _host_port(description: str, node_id: str) -> str:
    """HOST:PORT others can reach an endpoint at (the node's host if it listens everywhere)."""
    host, port = endpoint_host_port(description)
    if host in ("0.0.0.0", "::", ""):
        host = node_id.rpartition(":")[0]
    return f"{host}:{port}"


async def _stop_port(port: IListeningPort) -> None:
    stopped = port.stopListening()
    if stopped is not None:
        await stopped
