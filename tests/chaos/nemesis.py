"""The nemesis: one fault at a time, chosen and timed by a seeded random generator."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.task import deferLater

from tests.chaos.cluster import ChaosNode
from tests.chaos.network import Network

Fault = Callable[[], Awaitable[str]]


class Nemesis:
    """Injects faults into ``nodes``; each fault heals itself before the next one."""

    def __init__(self, reactor: Any, nodes: list[ChaosNode], network: Network,
                 rng: random.Random, election_timeout: float) -> None:  # fmt: skip
        self.reactor = reactor
        self.nodes = nodes
        self.network = network
        self.rng = rng
        self.election_timeout = election_timeout
        self.leader: Callable[[], Awaitable[ChaosNode | None]] | None = None
        self.faults: list[Fault] = [
            self.kill_and_restart, self.pause, self.kill_leader, self.kill_leader_repeatedly,
            self.torn_write, self.isolate_minority, self.isolate_leader, self.bridge, self.ring,
        ]  # fmt: skip

    async def sleep(self, seconds: float) -> None:
        await deferLater(self.reactor, seconds, lambda: None)

    async def inject(self) -> str:
        return await self.rng.choice(self.faults)()

    # -- process faults ----------------------------------------------------------------

    async def kill_and_restart(self) -> str:
        node = self.rng.choice(self.nodes)
        node.kill()
        await self.sleep(self.rng.uniform(1.0, 4.0))
        node.start()
        return f"kill -9 {node.name}, restarted"

    async def torn_write(self) -> str:
        """kill -9, then leave half a write at the end of the node's SQLite WAL, as a
        power cut in the middle of a write would: what was never fsynced must be ignored
        on restart (WAL frames carry checksums), and nothing acknowledged may be lost."""
        node = self.rng.choice(self.nodes)
        node.kill()
        wal = node.data_dir / "raft" / "raft.sqlite3-wal"
        torn = self.rng.randbytes(self.rng.randrange(1, 4096))
        if wal.exists():
            with wal.open("ab") as tail:
                tail.write(torn)
        await self.sleep(self.rng.uniform(0.5, 2.0))
        node.start()
        return f"kill -9 {node.name} with a torn {len(torn)}-byte WAL tail, restarted"

    async def pause(self) -> str:
        node = self.rng.choice(self.nodes)
        pause = self.rng.uniform(2, 5) * self.election_timeout
        node.pause()
        await self.sleep(pause)
        node.resume()
        return f"SIGSTOP {node.name} for {pause:.1f}s"

    async def kill_leader(self) -> str:
        node = await self._leader()
        node.kill()
        await self.sleep(self.rng.uniform(1.0, 3.0))
        node.start()
        return f"kill -9 leader {node.name}, restarted"

    async def kill_leader_repeatedly(self) -> str:
        """Kill whoever leads, three times in a row, restarting each."""
        killed = []
        for _ in range(3):
            node = await self._leader()
            node.kill()
            killed.append(node.name)
            await self.sleep(self.rng.uniform(0.5, 1.5))
            node.start()
            await self.sleep(self.rng.uniform(1.0, 2.0))
        return f"killed the leader 3 times: {', '.join(killed)}"

    # -- network faults ----------------------------------------------------------------

    async def isolate_minority(self) -> str:
        shuffled = self.rng.sample(self.nodes, len(self.nodes))
        minority = shuffled[: (len(self.nodes) - 1) // 2]
        return await self._hold_partition([minority, shuffled[len(minority) :]], "minority")

    async def isolate_leader(self) -> str:
        leader = await self._leader()
        rest = [n for n in self.nodes if n is not leader]
        return await self._hold_partition([[leader], rest], f"leader {leader.name}")

    async def bridge(self) -> str:
        """Two halves that only one node (the bridge) can reach both of."""
        shuffled = self.rng.sample(self.nodes, len(self.nodes))
        middle, rest = shuffled[0], shuffled[1:]
        left, right = rest[: len(rest) // 2], rest[len(rest) // 2 :]
        pairs = [(a.host, b.host) for a in left for b in right]
        return await self._hold_cut(pairs, f"bridge through {middle.name}")

    async def ring(self) -> str:
        """Each node reaches only its two neighbours in a random ring."""
        ring = self.rng.sample(self.nodes, len(self.nodes))
        neighbours = {(ring[i].host, ring[(i + 1) % len(ring)].host) for i in range(len(ring))}
        neighbours |= {(b, a) for a, b in neighbours}
        pairs = [(a.host, b.host) for a in ring for b in ring
                 if a.host < b.host and (a.host, b.host) not in neighbours]  # fmt: skip
        return await self._hold_cut(pairs, "ring")

    async def _hold_partition(self, groups: list[list[ChaosNode]], what: str) -> str:
        self.network.partition([[n.host for n in group] for group in groups])
        seconds = self.rng.uniform(3, 8)
        await self.sleep(seconds)
        self.network.heal()
        return f"partition ({what}) for {seconds:.1f}s"

    async def _hold_cut(self, pairs: list[tuple[str, str]], what: str) -> str:
        self.network.cut_links(pairs)
        seconds = self.rng.uniform(3, 8)
        await self.sleep(seconds)
        self.network.heal()
        return f"partition ({what}) for {seconds:.1f}s"

    async def _leader(self) -> ChaosNode:
        found = await self.leader() if self.leader is not None else None
        return found or self.rng.choice(self.nodes)
