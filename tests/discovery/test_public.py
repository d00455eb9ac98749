"""The public directory's format: what a node answers, and what a client refuses."""

from __future__ import annotations

import pytest

from twistedchat.discovery.public import (
    MAX_ANSWER_LINES,
    MAX_NODES,
    Answer,
    AnswerReader,
    NodeEntry,
    Refused,
    answer_lines,
    build_answer,
    endpoint_address,
    parse_query,
    query_line,
)
from twistedchat.discovery.wire import Announcement
from twistedchat.wire.grammar import parse_line, serialize
from twistedchat.wire.message import Message

NONCE = "abcdef0123456789"


def announcement(node_id: str, role: str = "follower", clients: int = 0) -> Announcement:
    return Announcement("c", node_id, node_id, "", "", role, 3, None, clients, 10, True, True, "s")


ADDRESSES = {
    "10.0.0.1:7667": ["tcp:6667:interface=10.0.0.1", "ssl:6697:privateKey=k.pem:certKey=c.pem"],
    "10.0.0.2:7667": ["tcp:6667"],
    "10.0.0.3:7667": ["tcp:6667:interface=10.0.0.3"],
}


def answer_of(**overrides: object) -> Answer:
    arguments: dict[str, object] = {
        "members": set(ADDRESSES),
        "alive": [
            announcement("10.0.0.1:7667", "leader", clients=5),
            announcement("10.0.0.2:7667", clients=1),
            announcement("10.0.0.3:7667", clients=3),
        ],
        "addresses_of": lambda node: ADDRESSES.get(node, []),
        "role": "leader",
        "term": 3,
        "leader_id": "10.0.0.1:7667",
        "leading": True,
    }
    arguments.update(overrides)
    return build_answer(**arguments)  # type: ignore[arg-type]


def read(lines: list[Message], nonce: str = NONCE) -> Answer:
    """What a client makes of ``lines`` once they crossed the wire."""
    reader = AnswerReader(nonce)
    for line in lines:
        result = reader.feed(parse_line(serialize(line, "node.example").rstrip(b"\r\n")))
        if result is not None:
            return result
    raise AssertionError("no END")


def test_a_node_lists_serving_members_with_their_endpoints() -> None:
    answer = answer_of()
    assert [(n.plain, n.tls) for n in answer.nodes] == [
        ("10.0.0.1:6667", "10.0.0.1:6697"),  # ssl without interface: the node id's host
        ("10.0.0.2:6667", None),
        ("10.0.0.3:6667", None),
    ]
    assert answer.leader == 0 and answer.role == "leader" and answer.term == 3


def test_the_leader_assigns_the_least_loaded_node_not_excluded() -> None:
    assert answer_of().assigned == 1
    assert answer_of(excluded={"10.0.0.2:6667"}).assigned == 2
    assert answer_of(leading=False, role="follower").assigned is None


def test_non_members_leaving_and_full_nodes() -> None:
    alive = [
        announcement("10.0.0.1:7667", "leader"),
        announcement("10.0.0.2:7667", "leaving"),  # going: never offered
        announcement("10.0.0.3:7667", clients=10),  # full: listed, never assigned
        announcement("10.9.9.9:7667"),  # heard but no member: not listed
    ]
    answer = answer_of(alive=alive)
    assert [n.plain for n in answer.nodes] == ["10.0.0.1:6667", "10.0.0.3:6667"]
    assert [n.open for n in answer.nodes] == [True, False]
    assert answer.assigned == 0


def test_an_answer_crosses_the_wire_unchanged() -> None:
    answer = answer_of()
    assert read(answer_lines(NONCE, answer)) == answer
    empty = Answer((), "candidate", 0)
    assert read(answer_lines(NONCE, empty)) == empty


def test_endpoint_addresses() -> None:
    assert endpoint_address("tcp:6667:interface=127.0.0.1", "x:1") == (False, "127.0.0.1:6667")
    assert endpoint_address("ssl:6697:privateKey=k", "10.1.1.1:7667") == (True, "10.1.1.1:6697")
    assert endpoint_address(r"tcp6:6667:interface=\:\:1", "x:1") == (False, "[::1]:6667")
    assert endpoint_address(r"tcp:6667:interface=\:\:1", "x:1") == (False, "[::1]:6667")
    assert endpoint_address("unix:/tmp/irc", "x:1") is None
    assert endpoint_address("tcp:port", "x:1") is None


def test_queries() -> None:
    assert parse_query(parse_line(b"NODES " + NONCE.encode())) == (NONCE, frozenset())
    both = parse_line(f"NODES {NONCE} 127.0.0.1:1,127.0.0.1:2".encode())
    assert parse_query(both) == (NONCE, {"127.0.0.1:1", "127.0.0.1:2"})
    assert parse_query(query_line(NONCE, ["127.0.0.1:1"])) == (NONCE, {"127.0.0.1:1"})
    many = [f"127.0.0.1:{port}" for port in range(1, 20)]
    assert len(parse_query(query_line(NONCE, many))[1]) == 8  # cut, never refused
    for bad in [
        b"NODES",
        b"NODES short",
        b"NODES " + b"x" * 40,
        b"NODES abcdefgh! ",
        f"NODES {NONCE} not-an-address".encode(),
        f"NODES {NONCE} {','.join(many)}".encode(),
        f"NODES {NONCE} a:1 extra".encode(),
    ]:
        with pytest.raises(Refused):
            parse_query(parse_line(bad))


def node_line(i: int, plain: str = "127.0.0.1:6667", tls: str = "*") -> Message:
    return Message("NOTE", ("NODES", "NODE", str(i), plain, tls, "open", "follower"))


def end(nonce: str = NONCE, role: str = "follower", count: int = 1) -> Message:
    return Message("NOTE", ("NODES", "END", nonce, role, str(count), "nodes"))


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([node_line(0), end(nonce="0123456789abcdef")], "stale"),  # a recorded answer
        ([Message("451", ("*", "You have not registered"))], "no-directory"),
        ([Message("FAIL", ("NODES", "RATE_LIMITED", "slow down"))], "refused"),
        ([node_line(1)], "garbage"),  # numbered out of order
        ([node_line(0, "nowhere"), end()], "implausible"),
        ([node_line(0, "127.0.0.1:99999"), end()], "implausible"),
        ([node_line(0, "*", "*"), end()], "garbage"),
        ([node_line(0), Message("NOTE", ("NODES", "LEADER", "3", "1"))], "implausible"),
        ([node_line(0), Message("NOTE", ("NODES", "LEADER", "0", "x"))], "garbage"),
        ([node_line(0), Message("NOTE", ("NODES", "ASSIGN", "0")), end()], "implausible"),
        ([node_line(0), end(count=2)], "garbage"),
        ([node_line(0), end(role="emperor")], "garbage"),
        ([Message("NOTE", ("NODES", "WHATEVER"))], "garbage"),
        ([Message("NOTE", ("NODES", "NODE", "0", "127.0.0.1:1", "*", "open", "king"))], "garbage"),
    ],
)
def test_a_client_refuses_what_no_honest_node_sends(lines: list[Message], reason: str) -> None:
    with pytest.raises(Refused) as refused:
        read(lines)
    assert refused.value.reason == reason


def test_an_answer_cannot_grow_without_bound() -> None:
    nodes = [node_line(i, f"127.0.0.1:{i + 1}") for i in range(MAX_NODES + 1)]
    with pytest.raises(Refused) as refused:
        read(nodes)
    assert refused.value.reason == "too-big"
    reader = AnswerReader(NONCE)
    leader = parse_line(b"NOTE NODES NODE 0 127.0.0.1:1 * open leader")
    reader.feed(leader)
    with pytest.raises(Refused) as repeated:
        for _ in range(MAX_ANSWER_LINES):
            reader.feed(parse_line(b"NOTE NODES LEADER 0 1"))
    assert repeated.value.reason in ("garbage", "too-big")


def test_node_entries_pick_the_address_of_their_kind() -> None:
    entry = NodeEntry("127.0.0.1:1", None, True, "leader")
    assert entry.address(tls=False) == "127.0.0.1:1" and entry.address(tls=True) is None
