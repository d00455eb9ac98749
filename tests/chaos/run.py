"""Run the chaos suite: ``python -m tests.chaos.run --seed 7 --duration 60``.

Starts real nodes (5 by default), failover-proof clients chatting in one channel, a
plain reclaiming client reading it (:mod:`tests.chaos.plain`), and a seeded nemesis;
heals everything, lets the clients catch up, then checks the history
(:mod:`tests.chaos.checker`) and that every node holds the same chat state. As root the
run moves into a network namespace of its own and partitions drop packets; otherwise
(or with ``--no-netns``) a proxy of the run holds the peer links a partition cuts (see
:mod:`tests.chaos.network`). Exits non-zero on any violation, after saving the history
and printing how to replay the run.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet.defer import ensureDeferred, gatherResults
from twisted.internet.task import deferLater, react
from twisted.logger import globalLogBeginner, textFileLogObserver

from tests.chaos.checker import History, check, plain_summary, unavailability
from tests.chaos.cluster import ChaosNode, make_nodes
from tests.chaos.gateway import GatewayTalker
from tests.chaos.nemesis import Nemesis
from tests.chaos.network import (
    FilteredNetwork,
    Network,
    ProxiedNetwork,
    namespace,
    namespaces_available,
)
from tests.chaos.plain import PlainClient
from tests.chaos.proxy import PeerProxy
from tests.chaos.workload import Talker
from tests.integration.harness import Gateway, cluster_options, free_ports

ELECTION_TIMEOUT_MS = 400
#: Snapshot every 200 entries (the default is 10,000), so the log keeps only the last 100
#: (a few seconds of this workload): a follower that a fault left further behind then
#: installs the leader's snapshot many times a run, not once every few minutes, and that
#: rare path (install, replay the gap to its users) is exercised under every fault.
SNAPSHOT_EVERY = 200


class ChaosFailed(Exception):
    """The run found violations (or could not finish); the report says which."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of faults")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument(
        "--gateway-clients",
        type=int,
        default=1,
        help="more clients, each a plain IRC client behind a chatgateway",
    )
    parser.add_argument(
        "--plain-clients",
        type=int,
        default=1,
        help="more clients, each a plain IRC client straight to a node that reclaims its "
        "session by SASL when its connection drops",
    )
    parser.add_argument("--period", type=float, default=0.2, help="seconds between sends")
    parser.add_argument("--dir", type=Path, default=None, help="where data and logs go")
    parser.add_argument("--no-netns", action="store_true",
                        help="stay on the host loopback (partitions by a proxy)")  # fmt: skip
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if namespaces_available() and not args.inside and not args.no_netns:
        with namespace(f"tcchaos{os.getpid()}") as name:
            command = ["ip", "netns", "exec", name, sys.executable, "-m", "tests.chaos.run",
                       *argv, "--inside", "--seed", str(args.seed)]  # fmt: skip
            child = subprocess.Popen(command)
            forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, forward)  # the run stops its nodes, then we clean up
            return child.wait()
    react(lambda reactor: ensureDeferred(run(reactor, args)))
    return 0


def say(start: float, text: str) -> None:
    print(f"[{time.monotonic() - start:7.1f}s] {text}", flush=True)


async def run(reactor: Any, args: argparse.Namespace) -> None:
    root = args.dir or Path(tempfile.mkdtemp(prefix=f"chaos-{args.seed}-"))
    root.mkdir(parents=True, exist_ok=True)
    client_log = (root / "clients.log").open("a")  # what the clients did, for a post-mortem
    globalLogBeginner.beginLoggingTo([textFileLogObserver(client_log)], redirectStandardIO=False)
    rng = random.Random(args.seed)
    proxy = None if args.inside else PeerProxy(reactor)
    network: Network = FilteredNetwork() if proxy is None else ProxiedNetwork(proxy)
    started = time.monotonic()
    say(started, f"seed {args.seed}: {args.nodes} nodes, {args.clients} clients, "
                 f"{args.duration:.0f}s of faults, partitions by {network.how}, "
                 f"data in {root}")  # fmt: skip
    extra = [
        *cluster_options(root), "--bootstrap-expect", str(args.nodes), "--flood-rate", "0",
        "--election-timeout", str(ELECTION_TIMEOUT_MS), "--dead-node-timeout", "120",
        "--snapshot-every", str(SNAPSHOT_EVERY),
    ]  # fmt: skip
    hosts = [network.host(i) for i in range(args.nodes)]
    nodes = make_nodes(root, hosts, extra, proxied=proxy is not None)
    history = History(seed=args.seed)
    talkers: list[Talker | GatewayTalker] = []
    plains: list[PlainClient] = []
    joins = [arg for node in nodes for arg in ("--join", node.irc)]
    gateway = Gateway(root, free_ports(1)[0], joins)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: [n.stop() for n in nodes])
    try:
        for node in nodes:
            if proxy is not None and node.proxy_port is not None:
                await proxy.listen(node.host, node.proxy_port, node.peer_port)
            node.start()
        await _until(reactor, lambda: _leader(reactor, nodes), 60, "a leader")
        say(started, "cluster up")
        addresses = [n.irc for n in nodes]
        clock = reactor.seconds()  # one clock for every client's times, joins included
        history.clients_from = time.monotonic() - started  # faults are timed from the start
        for i in range(args.clients):
            ordered = addresses[i % len(nodes) :] + addresses[: i % len(nodes)]
            talkers.append(Talker(f"c{i}", reactor, ordered, history, random.Random(rng.random()),
                                  clock))  # fmt: skip
        if args.gateway_clients:
            gateway.start()  # returns once it listens
        for i in range(args.gateway_clients):
            behind = GatewayTalker(f"g{i}", reactor, gateway.port, history,
                                   random.Random(rng.random()), clock)  # fmt: skip
            talkers.append(behind)
        for i in range(args.plain_clients):  # its own generator: the same faults per seed
            plain_rng = random.Random(f"plain-{args.seed}-{i}")
            plains.append(PlainClient(f"p{i}", reactor, addresses, plain_rng.randrange(len(nodes)),
                                      history, plain_rng, clock))  # fmt: skip
        await gatherResults([ensureDeferred(t.join()) for t in [*talkers, *plains]])
        for talker in talkers:  # each is in the channel for every line sent from now on
            history.joined[talker.name] = talker.now()
        for client in [*talkers, *plains]:
            client.begin(args.period)
        say(started, "clients joined and talking")
        nemesis = Nemesis(reactor, nodes, network, rng, 2 * ELECTION_TIMEOUT_MS / 1000)
        nemesis.leader = lambda: _leader(reactor, nodes)
        deadline = time.monotonic() + args.duration
        while time.monotonic() < deadline:
            begun = time.monotonic() - started
            what = await nemesis.inject()
            history.faults.append([begun, time.monotonic() - started, what])
            say(started, f"{what} (sent {len(history.sent)}, acked {len(history.acked)})")
            await _sleep(reactor, rng.uniform(1.0, 3.0))
        await _heal(reactor, nodes, network)
        say(started, "healed; letting clients catch up")
        await _sleep(reactor, 5)
        for client in [*talkers, *plains]:
            client.halt()
        await _until(reactor, lambda: _caught_up(history), 120, "every client to catch up",
                     fail=False)  # fmt: skip
        await _until(reactor, lambda: _answered(talkers), 60, "every line to be answered",
                     fail=False)  # fmt: skip
        # A sentinel: one more line, after everything in the log; once every client has
        # it, any duplicate or late copy of an earlier line has arrived too.
        before = set(history.sent)
        if talkers:
            talkers[0]._send(args.period)  # halted: sends this one line and schedules none
        sentinel = set(history.sent) - before
        await _until(reactor, lambda: _caught_up(history, sentinel, plains), 60,
                     "every client to get the sentinel line", fail=False)  # fmt: skip
        digests = await _until(reactor, lambda: _same_state(reactor, nodes), 60,
                               "every node to hold the same state", fail=False)  # fmt: skip
        violations = check(history) + _unanswered(talkers)
        if not digests:
            states = [await n.status(reactor) for n in nodes]
            points = [None if s is None else (s["role"], s["term"], s["applied_index"],
                                              s["state_digest"]) for s in states]  # fmt: skip
            violations.append(f"the nodes did not converge on one chat state: {points}")
        # Stop everything now (the finally block then has nothing left to do), so that a
        # process that died by itself, would not stop, or logged a traceback is reported.
        for client in [*talkers, *plains]:
            client.halt()
            client.close()
        talkers, plains = [], []
        gateway.stop()
        for node in nodes:
            node.stop()
        for process in [*nodes, gateway]:
            violations += process.watch.faults()
        _report(started, history, violations, root)
        if violations:
            raise ChaosFailed(f"{len(violations)} violations")
    finally:
        for client in [*talkers, *plains]:
            client.halt()
            client.close()
        gateway.stop()
        network.heal()
        if proxy is not None:
            proxy.close()
        for node in nodes:
            node.stop()


def _report(started: float, history: History, violations: list[str], root: Path) -> None:
    delivered = sum(len(d) for d in history.delivered.values())
    gaps = unavailability(history)
    say(started, f"faults {len(history.faults)}, sent {len(history.sent)}, acknowledged "
                 f"{len(history.acked)}, delivered {delivered} (to {len(history.delivered)} "
                 f"clients), violations {len(violations)}")  # fmt: skip
    if gaps:
        longest = max(b - a for a, b in gaps)
        say(started, f"unavailability: {len(gaps)} windows over 1s, longest {longest:.1f}s")
    for name in sorted(history.plain):  # its times are the clients' (sent, joined)
        for line in plain_summary(history, name):
            say(started, line)
    for violation in violations[:50]:
        print(f"  VIOLATION {violation}", flush=True)
    if violations:
        saved = root / f"history-{history.seed}.json"
        history.save(saved)
        print(f"history saved to {saved}; replay with: python -m tests.chaos.run "
              f"--seed {history.seed}", flush=True)  # fmt: skip


async def _sleep(reactor: Any, seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


async def _until(reactor: Any, check_: Any, timeout: float, what: str, fail: bool = True) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check_()
        if result:
            return result
        await _sleep(reactor, 0.5)
    if fail:
        raise ChaosFailed(f"timed out after {timeout}s waiting for {what}")
    return None


async def _leader(reactor: Any, nodes: list[ChaosNode]) -> ChaosNode | None:
    statuses = [(n, await n.status(reactor)) for n in nodes]
    leaders = [(s["term"], n) for n, s in statuses if s and s.get("role") == "leader"]
    return max(leaders, key=lambda pair: pair[0])[1] if leaders else None


async def _heal(reactor: Any, nodes: list[ChaosNode], network: Network) -> None:
    network.heal()
    for node in nodes:
        if not node.alive():
            node.start()
        elif node.paused:
            node.resume()
    await _until(reactor, lambda: _leader(reactor, nodes), 60, "a leader after healing")


async def _caught_up(history: History, texts: set[str] | None = None,
                     plains: Sequence[PlainClient] = ()) -> bool:  # fmt: skip
    """Has every client got ``texts``: by default every line acknowledged or delivered to
    anyone (uniform agreement wants the unacknowledged ones everywhere too)? The plain
    clients are asked only for given ``texts`` (the sentinel): what they are owed of the
    rest is for the checker to say, and a line they missed will not come later."""
    if texts is None:
        texts = set(history.acked)
        texts.update(text for d in history.delivered.values() for text, _ in d)
    sets = [{text for text, _ in d} for d in history.delivered.values()]
    return all(texts <= seen for seen in [*sets, *(p.seen() for p in plains)])


async def _answered(talkers: list[Talker | GatewayTalker]) -> bool:
    return not any(talker.in_flight for talker in talkers)


def _unanswered(talkers: list[Talker | GatewayTalker]) -> list[str]:
    """Liveness once the faults healed: a line still unanswered means a stuck client (one
    that stops sending once it has MAX_IN_FLIGHT of them)."""
    return [
        f"{t.name}: {len(t.in_flight)} lines never answered after healing, "
        f"first {min(t.in_flight.values())}"
        for t in talkers
        if t.in_flight
    ]


async def _same_state(reactor: Any, nodes: list[ChaosNode]) -> bool:
    statuses = [await n.status(reactor) for n in nodes]
    if any(s is None for s in statuses):
        return False
    points = {(s["applied_index"], s["state_digest"]) for s in statuses if s is not None}
    return len(points) == 1


if __name__ == "__main__":
    sys.exit(main())
