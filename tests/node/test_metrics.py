"""The metrics pieces without a reactor: the rate ring on a Clock, the collector's
families, the per-node registries, and the counters the hub, router, IRC factory and
replica keep for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock

from tests.memorylog import Server
from twistedchat.node.metrics import Figures, NodeMetrics
from twistedchat.node.rate import RateRing, RateSampler
from twistedchat.node.replica import RaftReplica
from twistedchat.raft.core import RaftConfig
from twistedchat.raft.storage import RaftStorage, StorageWrite
from twistedchat.raft.transport import PeerTransport

ME = "127.0.0.1:1"


def samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, from the Prometheus text."""
    found = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def figures(**changes: object) -> Figures:
    values: dict[str, object] = dict(
        role="leader", term=7, commit_index=40, applied_index=39, last_index=41,
        leader_changes=2, elections=3, clients=5, channels=2, users=9, messages=120,
        deliveries=600, sendq_drops=1, flood_kills=4,
        discovery={"accepted": 10, "bad-mac": 2, "rate_limited": 0},
        peer_links={"bytes_sent": 1000, "bytes_received": 2000, "frames_sent": 30},
        follower_lag={"127.0.0.1:2": 0, "127.0.0.1:3": 12},
    )  # fmt: skip
    values.update(changes)
    return Figures(**values)  # type: ignore[arg-type]


# -- the rate ring -----------------------------------------------------------------------


def test_the_ring_keeps_per_step_increments_as_rates_and_forgets_the_oldest() -> None:
    ring = RateRing(step=2.0, size=3)
    ring.record(100.0, 50)  # the baseline: no sample yet
    assert ring.per_second() == []
    for now, total in ((102.0, 54), (104.0, 54), (106.0, 64), (108.0, 65)):
        ring.record(now, total)
    assert ring.per_second() == [0.0, 5.0, 0.5]  # the first increment (4) fell out
    assert ring.document() == {"step_seconds": 2.0, "end": 108.0, "per_second": [0.0, 5.0, 0.5]}


def test_a_counter_that_went_back_counts_from_zero() -> None:
    ring = RateRing(step=1.0, size=10)
    ring.record(0.0, 1000)
    ring.record(1.0, 3)  # restarted
    assert ring.per_second() == [3.0]


def test_the_ring_wants_a_positive_step_and_size() -> None:
    with pytest.raises(ValueError):
        RateRing(step=0, size=5)
    with pytest.raises(ValueError):
        RateRing(step=1, size=0)


def test_the_sampler_reads_the_counter_every_step_of_the_clock_until_stopped() -> None:
    clock = Clock()
    counter = [0]
    sampler = RateSampler(RateRing(step=2.0, size=300), lambda: counter[0], clock)
    sampler.start()  # baseline at t=0
    counter[0] = 10
    clock.advance(2)
    counter[0] = 16
    clock.advance(1)  # mid-step: nothing read
    assert sampler.ring.per_second() == [5.0]
    clock.advance(1)
    assert sampler.ring.per_second() == [5.0, 3.0]
    assert sampler.ring.document()["end"] == 4.0
    sampler.stop()
    counter[0] = 100
    clock.advance(10)
    assert sampler.ring.per_second() == [5.0, 3.0]
    assert not clock.getDelayedCalls()
    sampler.stop()  # twice is harmless (the service stops it on the way out)


# -- the collector and the registry -------------------------------------------------------


def test_the_collector_reads_the_figures_at_scrape_time_with_the_node_label() -> None:
    current = [figures()]
    metrics = NodeMetrics(ME, lambda: current[0], lambda: 0, Clock())
    first = samples(metrics.exposition())
    node = (("node", ME),)
    assert first[("twistedchat_raft_term", node)] == 7
    assert first[("twistedchat_raft_commit_index", node)] == 40
    assert first[("twistedchat_raft_applied_index", node)] == 39
    assert first[("twistedchat_raft_role", (("node", ME), ("role", "leader")))] == 1
    assert first[("twistedchat_raft_role", (("node", ME), ("role", "follower")))] == 0
    assert first[("twistedchat_raft_leader_changes_total", node)] == 2
    assert first[("twistedchat_raft_elections_total", node)] == 3
    lag = (("member", "127.0.0.1:3"), ("node", ME))
    assert first[("twistedchat_raft_follower_lag_entries", lag)] == 12
    assert first[("twistedchat_peer_bytes_sent_total", node)] == 1000
    assert first[("twistedchat_peer_bytes_received_total", node)] == 2000
    frames = (("event", "frames_sent"), ("node", ME))
    assert first[("twistedchat_peer_link_events_total", frames)] == 30
    assert (
        "twistedchat_peer_link_events_total",
        (("event", "bytes_sent"), ("node", ME)),
    ) not in first
    bad_mac = (("node", ME), ("outcome", "bad-mac"))
    assert first[("twistedchat_discovery_announcements_total", bad_mac)] == 2
    for name, value in (("clients", 5), ("channels", 2), ("users", 9)):
        assert first[(f"twistedchat_{name}", node)] == value
    for name, value in (("messages", 120), ("deliveries", 600), ("sendq_drops", 1),
                        ("flood_kills", 4)):  # fmt: skip
        assert first[(f"twistedchat_{name}_total", node)] == value
    current[0] = figures(messages=125, role="follower", follower_lag={})
    second = samples(metrics.exposition())
    assert second[("twistedchat_messages_total", node)] == 125
    assert second[("twistedchat_raft_role", (("node", ME), ("role", "follower")))] == 1
    assert not any(name == "twistedchat_raft_follower_lag_entries" for name, _ in second)


def test_before_the_node_started_only_the_histograms_are_there() -> None:
    metrics = NodeMetrics(ME, lambda: None, lambda: 0, Clock())
    names = {name for name, _ in samples(metrics.exposition())}
    assert names
    assert all(
        name.startswith(("twistedchat_raft_append", "twistedchat_raft_fsync")) for name in names
    )


def test_the_histograms_count_what_they_are_given() -> None:
    metrics = NodeMetrics(ME, lambda: None, lambda: 0, Clock())
    metrics.fsync_seconds.observe(0.0003)
    metrics.fsync_seconds.observe(0.2)
    metrics.append_seconds.observe(0.004)
    found = samples(metrics.exposition())
    node = (("node", ME),)
    assert found[("twistedchat_raft_fsync_seconds_count", node)] == 2
    assert found[("twistedchat_raft_fsync_seconds_bucket", (("le", "0.0005"), ("node", ME)))] == 1
    assert found[("twistedchat_raft_append_seconds_count", node)] == 1
    assert found[("twistedchat_raft_append_seconds_sum", node)] == pytest.approx(0.004)


def test_two_nodes_in_one_process_keep_their_own_registries() -> None:
    one = NodeMetrics("127.0.0.1:1", lambda: figures(term=1), lambda: 0, Clock())
    two = NodeMetrics("127.0.0.1:2", lambda: figures(term=2), lambda: 0, Clock())
    one.fsync_seconds.observe(0.001)
    first, second = samples(one.exposition()), samples(two.exposition())
    assert first[("twistedchat_raft_term", (("node", "127.0.0.1:1"),))] == 1
    assert second[("twistedchat_raft_term", (("node", "127.0.0.1:2"),))] == 2
    assert not any(("node", "127.0.0.1:2") in labels for _, labels in first)
    assert second[("twistedchat_raft_fsync_seconds_count", (("node", "127.0.0.1:2"),))] == 0


def test_the_message_rate_samples_the_given_counter_on_the_node_clock() -> None:
    clock = Clock()
    counter = [0]
    metrics = NodeMetrics(ME, lambda: None, lambda: counter[0], clock)
    metrics.start()
    counter[0] = 8
    clock.advance(2)
    assert metrics.message_rate.per_second() == [4.0]
    metrics.stop()


# -- the counters where things happen -----------------------------------------------------


def test_the_hub_counts_messages_applied_and_the_router_deliveries() -> None:
    server = Server()
    alice, bob, carol = server.register("alice"), server.register("bob"), server.register("c")
    for client in (alice, bob, carol):
        client.send("JOIN #room")
    messages, delivered = server.hub.messages_applied, server.hub.router.delivered
    alice.send("PRIVMSG #room :hello", "NOTICE #room :hi", "PRIVMSG bob :psst", "TOPIC #room :t")
    assert bob.has("PRIVMSG bob :psst")
    assert server.hub.messages_applied == messages + 3  # not the TOPIC
    # #room's two other members twice, bob once, the TOPIC to all three (alice's own
    # replies and TOPIC answer are not deliveries: they answer her command).
    assert server.hub.router.delivered - delivered == 2 + 2 + 1 + 2


def test_the_irc_factory_counts_flood_kills() -> None:
    server = Server(flood_burst=5, flood_rate=1.0, flood_backlog=10)
    alice = server.register("alice")
    server.register("bob")
    assert server.factory.flood_kills == 0
    alice.send(*[f"PRIVMSG bob :flood {i}" for i in range(40)])
    assert alice.closed and alice.has("Excess Flood")
    assert server.factory.flood_kills == 1
    assert server.factory.sendq_drops == 0


def test_the_irc_factory_counts_sendq_drops() -> None:
    server = Server(sendq_bytes=10_000, flood_rate=0.0)
    alice, bob = server.register("alice"), server.register("bob")
    bob.protocol.pauseProducing()
    alice.send(*[f"PRIVMSG bob :{'y' * 200}" for i in range(100)])
    assert bob.closed
    assert server.factory.sendq_drops == 1
    assert server.factory.flood_kills == 0


class HeldWriter:
    """Writes at once but says so only when the test lets it: a slow disk on a Clock."""

    def __init__(self, storage: RaftStorage) -> None:
        self.storage = storage
        self.waiting: list[Callable[[], None]] = []

    def submit(self, write: StorageWrite, done: Callable[[], None]) -> None:
        self.storage.write([write])
        self.waiting.append(done)

    def release(self) -> None:
        waiting, self.waiting = self.waiting, []
        for done in waiting:
            done()

    def close(self) -> None:
        pass


def test_the_replica_times_proposals_to_commit_and_counts_its_elections(tmp_path: Path) -> None:
    clock = Clock()
    storage = RaftStorage.open(str(tmp_path / "raft"))
    writer = HeldWriter(storage)
    replica = RaftReplica(
        ME,
        storage,
        PeerTransport(ME, "test", "tcp:0:interface=127.0.0.1", reactor=clock),
        clock,
        config=RaftConfig(election_ticks=10, heartbeat_ticks=2),
        tick_seconds=0.01,
        apply_command=lambda index, data, time: None,
        take_snapshot=lambda: b"",
        restore_snapshot=lambda index, data: None,
        snapshot_every=1000,
        writer=writer,
    )
    replica.start()
    replica.found_cluster(frozenset({ME}))
    for _ in range(200):
        clock.advance(0.01)
        writer.release()
        if replica.is_leader():
            break
    assert replica.is_leader()
    assert replica.elections_started == 1
    writer.release()
    clock.advance(0)
    assert replica.leader_changes == 1
    latencies: list[float] = []
    replica.on_append_latency = latencies.append
    replica.propose([b"one"])
    clock.advance(0.25)  # the disk is slow: nothing commits meanwhile
    assert latencies == []
    writer.release()
    clock.advance(0)
    assert latencies == [pytest.approx(0.25)]
    replica.stop()
    storage.close()
