"""``GET /metrics``: the node's figures for Prometheus, read when scraped.

Most figures already exist as plain attributes (Raft's indexes and term, the transport's
and discovery's counters, the hub's client count); a custom collector reads them at
scrape time, so serving them costs nothing between scrapes and nothing on the message
path. What did not exist is an integer each (messages applied, records delivered, SendQ
drops, flood kills, elections, leader changes), incremented where it happens. Only the
two latencies are prometheus_client histograms, observed per proposal batch and per
fsync batch, never per message.

Each node has its own :class:`~prometheus_client.CollectorRegistry`: tests run several
nodes in one process, and the global registry would mix them (and refuse the second
node's metrics as duplicates). Every sample carries a ``node`` label, the node id, so a
Prometheus scraping the whole cluster keeps the members apart.

See ``docs/decisions/0037-metrics-and-dashboard.md`` and the README for the names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from twisted.internet.interfaces import IReactorTime

from twistedchat.node.rate import RateRing, RateSampler
from twistedchat.raft.core import NotLeader, Role

if TYPE_CHECKING:
    from twistedchat.node.service import ChatNodeService

PREFIX = "twistedchat"
#: Proposal to commit, on the leader: a round trip to a majority plus an fsync.
APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: One storage transaction: a fraction of a millisecond on a good disk, seconds on a bad one.
FSYNC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)


@dataclass(frozen=True)
class Figures:
    """What one scrape reports, read from the node in one go."""

    role: str
    term: int
    commit_index: int
    applied_index: int
    last_index: int
    leader_changes: int
    elections: int
    clients: int
    channels: int
    users: int
    messages: int
    deliveries: int
    sendq_drops: int
    flood_kills: int
    discovery: Mapping[str, int] = field(default_factory=dict)
    peer_links: Mapping[str, int] = field(default_factory=dict)
    #: Leader only: entries of its log each other member does not hold yet.
    follower_lag: Mapping[str, int] = field(default_factory=dict)


class NodeCollector(Collector):
    """Turns :class:`Figures` into metric families when the registry is collected."""

    def __init__(self, node_id: str, read: Callable[[], Figures | None]) -> None:
        self.node_id = node_id
        self._read = read

    def collect(self) -> Iterator[Metric]:
        figures = self._read()
        if figures is None:  # not started yet
            return
        node = self.node_id

        def gauge(name: str, doc: str, value: float) -> Metric:
            family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["node"])
            family.add_metric([node], value)
            return family

        def counter(name: str, doc: str, value: float) -> Metric:
            family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["node"])
            family.add_metric([node], value)
            return family

        yield gauge("raft_term", "Current Raft term.", figures.term)
        yield gauge("raft_commit_index", "Highest log index known committed.", figures.commit_index)
        yield gauge("raft_applied_index", "Highest log index applied here.", figures.applied_index)
        yield gauge("raft_last_index", "Last index of this node's log.", figures.last_index)
        role = GaugeMetricFamily(
            f"{PREFIX}_raft_role", "1 for this node's Raft role, 0 for the others.",
            labels=["node", "role"],
        )  # fmt: skip
        for each in Role:
            role.add_metric([node, each.value], 1.0 if figures.role == each.value else 0.0)
        yield role
        yield counter("raft_leader_changes", "Times a new leader became known here.",
                      figures.leader_changes)  # fmt: skip
        yield counter("raft_elections", "Elections this node started (not pre-votes).",
                      figures.elections)  # fmt: skip
        lag = GaugeMetricFamily(
            f"{PREFIX}_raft_follower_lag_entries",
            "Leader only: entries of its log a member does not hold yet.",
            labels=["node", "member"],
        )
        for member, behind in sorted(figures.follower_lag.items()):
            lag.add_metric([node, member], behind)
        yield lag
        links = dict(figures.peer_links)
        yield counter("peer_bytes_sent", "Bytes sent on Raft peer links.",
                      links.pop("bytes_sent", 0))  # fmt: skip
        yield counter("peer_bytes_received", "Bytes received on Raft peer links.",
                      links.pop("bytes_received", 0))  # fmt: skip
        events = CounterMetricFamily(
            f"{PREFIX}_peer_link_events",
            "Peer link frames, connects, drops and refusals, by kind.",
            labels=["node", "event"],
        )
        for event, count in sorted(links.items()):
            events.add_metric([node, event], count)
        yield events
        discovery = CounterMetricFamily(
            f"{PREFIX}_discovery_announcements",
            "Discovery datagrams by outcome: accepted, or why refused.",
            labels=["node", "outcome"],
        )
        for outcome, count in sorted(figures.discovery.items()):
            discovery.add_metric([node, outcome], count)
        yield discovery
        yield gauge("clients", "IRC clients connected to this node.", figures.clients)
        yield gauge("channels", "Channels in the chat state.", figures.channels)
        yield gauge("users", "Users in the chat state (the whole cluster's).", figures.users)
        yield counter("messages", "PRIVMSG and NOTICE entries applied.", figures.messages)
        yield counter("deliveries", "Records handed to clients connected here.",
                      figures.deliveries)  # fmt: skip
        yield counter("sendq_drops", "Clients dropped for not reading (SendQ exceeded).",
                      figures.sendq_drops)  # fmt: skip
        yield counter("flood_kills", "Clients closed for flooding (Excess Flood).",
                      figures.flood_kills)  # fmt: skip


class NodeMetrics:
    """One node's registry, its two histograms and the message-rate ring."""

    def __init__(
        self,
        node_id: str,
        read: Callable[[], Figures | None],
        messages: Callable[[], int],
        clock: IReactorTime,
    ) -> None:
        """``read`` gives the figures at scrape time; ``messages`` the messages-applied
        counter the rate ring samples on ``clock``."""
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(NodeCollector(node_id, read))
        self.append_seconds = Histogram(
            f"{PREFIX}_raft_append_seconds",
            "Leader: seconds from proposing a batch of entries to their commit.",
            ["node"], registry=self.registry, buckets=APPEND_BUCKETS,
        ).labels(node=node_id)  # fmt: skip
        self.fsync_seconds = Histogram(
            f"{PREFIX}_raft_fsync_seconds",
            "Seconds one storage transaction (one fsync) took on the writer thread.",
            ["node"], registry=self.registry, buckets=FSYNC_BUCKETS,
        ).labels(node=node_id)  # fmt: skip
        self.message_rate = RateRing()
        self._sampler = RateSampler(self.message_rate, messages, clock)

    def start(self) -> None:
        self._sampler.start()

    def stop(self) -> None:
        self._sampler.stop()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def node_metrics(node: ChatNodeService) -> NodeMetrics:
    """The metrics of a started ``node``, hooked to its replica and writer."""
    assert node.hub is not None and node.replica is not None
    hub = node.hub
    metrics = NodeMetrics(
        node.config.node_id, lambda: figures_of(node), lambda: hub.messages_applied, node.clock
    )
    node.replica.on_append_latency = metrics.append_seconds.observe
    if node.writer is not None:
        node.writer.on_fsync = metrics.fsync_seconds.observe
    return metrics


def figures_of(node: ChatNodeService) -> Figures | None:
    """Read ``node``'s figures (None before it started)."""
    replica, hub = node.replica, node.hub
    if replica is None or hub is None:
        return None
    state = hub.state
    discovery = node.discovery_counters()
    factory = node.irc_factory
    return Figures(
        role=str(replica.role),
        term=replica.term,
        commit_index=replica.commit_index,
        applied_index=replica.applied_index,
        last_index=replica.last_index,
        leader_changes=replica.leader_changes,
        elections=replica.elections_started,
        clients=hub.local_client_count(),
        channels=state.channel_count(),
        users=state.user_count(),
        messages=hub.messages_applied,
        deliveries=hub.router.delivered,
        sendq_drops=factory.sendq_drops if factory else 0,
        flood_kills=factory.flood_kills if factory else 0,
        discovery=discovery,
        peer_links=node.peer_link_counters(),
        follower_lag=follower_lag(node),
    )


def follower_lag(node: ChatNodeService) -> dict[str, int]:
    """On the leader, each other member's distance behind its log; elsewhere, nothing."""
    replica = node.replica
    if replica is None or not replica.is_leader():
        return {}
    lag = {}
    for member in replica.configuration.members() - {node.config.node_id}:
        try:
            lag[member] = max(replica.last_index - replica.match_index(member), 0)
        except (NotLeader, KeyError):
            continue
    return lag
