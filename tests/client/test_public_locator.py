"""The secret-less locator against scripted nodes on loopback, honest and hostile."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.error import TimeoutError
from twisted.internet.protocol import Factory, Protocol

from twistedchat.client.known_nodes import KnownNodes
from twistedchat.client.public import NoNodeAnswered, ask, public_locator
from twistedchat.discovery.public import Refused

#: ``script(query) -> bytes to send back`` (then the node closes), or None: stay silent.
Script = Callable[[str], bytes | None]


class Scripted(Protocol):
    def __init__(self, script: Script) -> None:
        self.script = script
        self.buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if b"\n" in self.buffer:
            reply = self.script(self.buffer.split(b"\r\n")[0].decode())
            if reply is not None:
                self.transport.write(reply)  # type: ignore[union-attr]
                self.transport.loseConnection()  # type: ignore[union-attr]


@pytest.fixture
def nodes() -> Iterator[Callable[[Script], str]]:
    ports = []

    def serve(script: Script) -> str:
        factory = Factory.forProtocol(lambda: Scripted(script))
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
        ports.append(port)
        return f"127.0.0.1:{port.getHost().port}"

    yield serve
    for port in ports:
        port.stopListening()


def directory(nodes: list[str], role: str, leader: int | None, assign: int | None) -> Script:
    def script(query: str) -> bytes:
        nonce = query.split()[1]
        lines = [f"NOTE NODES NODE {i} {a} * open follower" for i, a in enumerate(nodes)]
        if leader is not None:
            lines.append(f"NOTE NODES LEADER {leader} 5")
        if assign is not None:
            lines.append(f"NOTE NODES ASSIGN {assign}")
        lines.append(f"NOTE NODES END {nonce} {role} {len(nodes)} :{len(nodes)} nodes")
        return "".join(f":n {line}\r\n" for line in lines).encode()

    return script


def later(script: Callable[[list[str]], Script], addresses: list[str]) -> Script:
    """A script over addresses known only once every scripted node listens."""
    return lambda query: script(addresses)(query)


@pytest_twisted.ensureDeferred
async def test_a_follower_sends_the_client_to_the_leaders_assignment(
    nodes: Callable[[Script], str],
) -> None:
    addresses: list[str] = []
    follower = nodes(later(lambda a: directory(a, "follower", 1, None), addresses))
    leader = nodes(later(lambda a: directory(a, "leader", 1, 2), addresses))
    target = nodes(lambda query: b"")
    addresses += [follower, leader, target]
    locate = public_locator(reactor, [follower])
    assert await locate(frozenset()) == target
    # The target died: the leader is asked first now, and told what to avoid.
    asked: list[str] = []
    addresses[:] = [follower, leader, target]

    def leader_script(query: str) -> bytes:
        asked.append(query)
        return directory([follower, leader, target], "leader", 1, 0)(query)

    other_leader = nodes(leader_script)
    locate = public_locator(reactor, [other_leader])
    assert await locate(frozenset({target})) == follower
    assert target in asked[0]


@pytest_twisted.ensureDeferred
async def test_hostile_answers_are_refused_and_the_next_seed_used(
    nodes: Callable[[Script], str],
) -> None:
    good = nodes(lambda q: directory([good], "leader", 0, 0)(q))
    endless = b"".join(
        f"NOTE NODES NODE {i} 127.0.0.1:{i + 1} * open leader\r\n".encode() for i in range(99)
    )
    cases = {
        nodes(lambda q: directory(["10.0.0.1:6667"], "leader", 0, 0)(q)): "implausible",
        nodes(lambda q: directory(["127.0.0.1:1"], "leader", 0, 0)("NODES replayed0")): "stale",
        nodes(lambda q: endless): "too-big",
        nodes(lambda q: b"x" * 5000): "too-big",  # one endless line
        nodes(lambda q: b"\xff\xfe garbage\r\n"): "garbage",
    }
    for address, reason in cases.items():
        with pytest.raises(Refused) as refused:
            answer = await ask(reactor, address, timeout=0.5)
            KnownNodes([address], tls=False).check(address, answer)  # what the locator does
        assert refused.value.reason == reason, address
    silent = nodes(lambda q: None)
    with pytest.raises(TimeoutError):
        await ask(reactor, silent, timeout=0.3)
    hostile = [*cases, silent]
    locate = public_locator(reactor, [*hostile, good], timeout=0.3)
    with pytest.raises(NoNodeAnswered):  # a search asks 6 nodes at most...
        await locate(frozenset())
    assert await locate(frozenset()) == good  # ...and those that failed come last next time


@pytest_twisted.ensureDeferred
async def test_an_older_node_is_used_as_given(nodes: Callable[[Script], str]) -> None:
    old = nodes(lambda q: b":old 451 * :You have not registered\r\n")
    with pytest.raises(Refused) as refused:
        await ask(reactor, old)
    assert refused.value.reason == "no-directory"
    assert await public_locator(reactor, [old])(frozenset()) == old


@pytest_twisted.ensureDeferred
async def test_nobody_answers(nodes: Callable[[Script], str]) -> None:
    silent = nodes(lambda q: None)
    with pytest.raises(NoNodeAnswered):
        await public_locator(reactor, [silent, "127.0.0.1:1"], timeout=0.3)(frozenset())
