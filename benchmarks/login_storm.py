"""Other users' message latency on a node under a login storm (issue 15, item 4).

A real 3-node cluster (``twistd chatnode`` processes, default flood limits). On its
leader, ``--chatters`` users each say a line to one channel every 0.5 s (the flood limit
is 2 lines a second) and time it from send to echo, which comes once the line is
committed through Raft and applied. First for ``--seconds`` with nothing else going on
(baseline), then for as long again while ``--connections`` clients each send one wrong
SASL PLAIN a second, all at the same moment (``--spread``: spread over the second),
against ``--accounts`` accounts in turn so that no attempt is throttled and every one
costs the leader an scrypt check. Reported per phase: latency p50, p99 and max, the lines
lost, and the leader changes (terms and leaders of all nodes before and after); for the
storm: its attempts, the 904 texts it got and how long a verdict took; and the hash time
and pool size of this machine.

    .venv/bin/python -m benchmarks.login_storm [--seconds 10] [--connections 16]

Environment: STORM_SECONDS (10), STORM_CONNECTIONS (16), STORM_ACCOUNTS (48),
STORM_CHATTERS (8). Saved for :mod:`benchmarks.report` as
``benchmarks/results/login_storm.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import results
from tests.integration.harness import (
    Node,
    leader_of,
    make_cluster,
    wait_for,
    watched_processes,
)
from tests.integration.login_storm import Chatter, Storm, register_accounts
from twistedchat.chat.passwords import hash_password
from twistedchat.security.hashing import DEFAULT_MAX_WAITING, DEFAULT_THREADS, check_password

PERIOD = 0.5  # seconds between two lines of one chatter: the default flood rate
TARGET_P99_MS = 50.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(latencies: list[float], sent: int) -> dict[str, Any]:
    ms = [s * 1000 for s in latencies]
    return {
        "lines": sent,
        "lost": sent - len(ms),
        "p50_ms": round(percentile(ms, 50), 2) if ms else None,
        "p99_ms": round(percentile(ms, 99), 2) if ms else None,
        "max_ms": round(max(ms), 2) if ms else None,
    }


def hash_ms(samples: int = 10) -> float:
    stored = hash_password("a password", b"s" * 16)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        check_password("a password", stored)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def terms_and_leaders(nodes: list[Node]) -> dict[str, list[Any]]:
    out = {}
    for node in nodes:
        status = node.status()
        assert status is not None, f"{node.node_id} does not answer /status"
        out[node.node_id] = [status["term"], status["leader"]]
    return out


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    nodes = make_cluster(root, 3)
    for node in nodes:
        node.start()
    leader = wait_for(lambda: leader_of(nodes), 30, "a leader all nodes agree on")
    helper = next(node for node in nodes if node is not leader)
    accounts = [f"acct{n}" for n in range(args.accounts)]
    register_accounts(helper.irc_port, accounts)
    before = terms_and_leaders(nodes)

    chatters = []
    for n in range(args.chatters):
        chatter = Chatter(leader.irc_port, f"chat{n}", "#bench", period=PERIOD)
        chatters.append(chatter)
    for chatter in chatters:
        chatter.start()
        time.sleep(PERIOD / len(chatters))  # staggered
    time.sleep(args.seconds)
    storm_started = time.monotonic()
    storm = Storm(leader.irc_port, accounts, args.connections, spread=args.spread)
    storm.start()
    time.sleep(args.seconds)
    storm.stop()
    storm_ended = time.monotonic()
    for chatter in chatters:
        chatter.finish()
    after = terms_and_leaders(nodes)

    def phase(start: float, end: float) -> dict[str, Any]:
        echoed = [s for c in chatters for t, s in c.latencies if start <= t < end]
        sent = sum(1 for c in chatters for t in c.sent_at if start <= t < end)
        return summary(echoed, sent)

    lost = sum(c.unanswered() for c in chatters)
    baseline = phase(0.0, storm_started)
    attack = phase(storm_started, storm_ended)
    verdicts = [s * 1000 for s in storm.verdict_seconds]
    return {
        "baseline": baseline,
        "attack": attack,
        "lines_lost": lost,
        "terms_and_leaders_before": before,
        "terms_and_leaders_after": after,
        "leader_changes": before != after,
        "storm": {
            "attempts": storm.attempts,
            "replies_904": dict(storm.replies),
            "verdict_p50_ms": round(percentile(verdicts, 50), 1) if verdicts else None,
            "verdict_p99_ms": round(percentile(verdicts, 99), 1) if verdicts else None,
        },
        "hash_ms": round(hash_ms(), 1),
        "pool_threads": DEFAULT_THREADS,
        "pool_max_waiting": DEFAULT_MAX_WAITING,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    env = os.environ.get
    parser.add_argument("--seconds", type=float, default=float(env("STORM_SECONDS", 10)))
    parser.add_argument("--connections", type=int, default=int(env("STORM_CONNECTIONS", 16)))
    parser.add_argument("--accounts", type=int, default=int(env("STORM_ACCOUNTS", 48)))
    parser.add_argument("--chatters", type=int, default=int(env("STORM_CHATTERS", 8)))
    parser.add_argument("--spread", action="store_true", help="spread attempts over each second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="login-storm-") as tmp, watched_processes():
        measured = run(args, Path(tmp))
    b, a = measured["baseline"], measured["attack"]
    print(f"scrypt check {measured['hash_ms']} ms; pool {measured['pool_threads']} threads, "
          f"{measured['pool_max_waiting']} waiting at most")  # fmt: skip
    print(f"{'phase':<10} {'lines':>6} {'lost':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, row in (("baseline", b), ("attack", a)):
        print(f"{name:<10} {row['lines']:>6} {row['lost']:>5} {row['p50_ms']:>8} "
              f"{row['p99_ms']:>8} {row['max_ms']:>8}")  # fmt: skip
    storm = measured["storm"]
    print(f"storm: {storm['attempts']} attempts, 904 replies {storm['replies_904']}, "
          f"verdict p50 {storm['verdict_p50_ms']} ms p99 {storm['verdict_p99_ms']} ms")  # fmt: skip
    changed = "YES" if measured["leader_changes"] else "none"
    print(f"leader changes: {changed} (before {measured['terms_and_leaders_before']}, "
          f"after {measured['terms_and_leaders_after']})")  # fmt: skip
    verdict = "met" if a["p99_ms"] is not None and a["p99_ms"] < TARGET_P99_MS else "MISSED"
    print(f"target p99 < {TARGET_P99_MS:.0f} ms under attack: {verdict}")
    parameters = {
        "seconds": args.seconds,
        "connections": args.connections,
        "accounts": args.accounts,
        "chatters": args.chatters,
        "chatter_period": PERIOD,
        "spread": args.spread,
    }
    results.save("login_storm", parameters, measured, env_prefix="STORM_")


if __name__ == "__main__":
    main()
